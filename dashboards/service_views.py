from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Service
from accounts.scope import Can, service_ids
from dashboards import exports, selectors, stats
from dashboards.access import dashboard_service_or_404, export_links
from dashboards.cache import cache
from dashboards.charts import service_charts
from dashboards.figures import current_versions, digest
from programmes.models import Cohort


class ServiceFilterForm(forms.Form):
    programme = forms.ChoiceField(required=False, label="Programme")
    year = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Start year")
    status = forms.ChoiceField(required=False, label="Status")

    def __init__(self, *args, choices: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].choices = [("", "All programmes"), *choices["programmes"]]
        self.fields["year"].choices = [("", "All years")] + [(y, y) for y in choices["years"]]
        self.fields["status"].choices = [("", "Any status"), *selectors.COHORT_STATUSES.items()]


@login_required
def index(request):
    services = Service.objects.filter(pk__in=service_ids(request.user, Can.VIEW_DASHBOARD))
    return render(request, "dashboards/index.html", {"services": services})


@login_required
def service_dashboard(request, pk: int):
    service = dashboard_service_or_404(request.user, pk)
    form = ServiceFilterForm(request.GET or None, choices=selectors.service_filter_choices(pk))
    cleaned = form.cleaned_data if form.is_valid() else {}
    filters = {
        "programme": cleaned.get("programme") or None,
        "year": cleaned.get("year"),
        "status": cleaned.get("status") or None,
    }
    offered = export_links(request.user, pk)
    return render(
        request,
        "dashboards/service.html",
        {
            "service": service,
            "form": form,
            "figures": service_figures_html(pk, filters),
            "min_n": stats.MIN_PAIRED,
            "research_export": offered["research"],
            "identifiable_export": offered["identifiable"],
            "datasets": exports.DATASETS.items(),
        },
    )


# Part of the service page's cache key: raise it whenever what the page shows changes.
SERVICE_PAGE_SCHEMA = 2


def figures_cache_key(service_id: int, filters: dict, versions: dict[int, int], today) -> str:
    """Names one exact state of the service's data: any change to any cohort gives the
    cohort a new version (dashboards.freshness), and so the page a new key."""
    wanted = ":".join(f"{k}={v}" for k, v in sorted(filters.items()))
    return (
        f"dashboards:service:{SERVICE_PAGE_SCHEMA}:{service_id}:{today.isoformat()}:{wanted}:"
        f"{digest(versions)}"
    )


def service_figures_html(service_id: int, filters: dict) -> str:
    """The service's figures as HTML, rendered once for each state of the service's data.

    They hold no names and nothing that depends on who is looking (suppression applies to
    everyone), so every user of the service shares them. The key names the version of every
    cohort's figures (the service's baseline SDs pool them all), so a change anywhere in the
    service is shown at once; nothing expires by time. DASHBOARDS_SERVICE_CACHE_SECONDS (an
    hour by default) only bounds how long an unused rendering stays in the cache; 0 turns
    the cache off.
    """
    seconds = getattr(settings, "DASHBOARDS_SERVICE_CACHE_SECONDS", 3600)
    today = timezone.localdate()
    versions = current_versions(Cohort.objects.filter(service_id=service_id))
    key = figures_cache_key(service_id, filters, versions, today)
    html = cache.get(key) if seconds else None
    if html is None:
        data = selectors.service_dashboard(service_id, today=today, versions=versions, **filters)
        html = render_to_string(
            "dashboards/_service_figures.html",
            {
                "d": data,
                "charts": service_charts(data),
                "min_n": stats.MIN_PAIRED,
                "computed_at": timezone.now(),
            },
        )
        if seconds:
            cache.set(key, html, seconds)
    return html
