from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Service
from accounts.scope import Can, service_ids
from dashboards import exports, selectors, stats
from dashboards.access import dashboard_service_or_404, roles_by_service
from dashboards.charts import service_charts


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
    role = roles_by_service(request.user).get(pk)
    return render(
        request,
        "dashboards/service.html",
        {
            "service": service,
            "form": form,
            "figures": _figures(pk, filters),
            "research_export": role in ("clinician", "manager"),
            "identifiable_export": role == "clinician",
            "datasets": exports.DATASETS.items(),
        },
    )


def figures_cache_key(service_id: int, filters: dict) -> str:
    return "dashboards:service:{}:{}".format(
        service_id, ":".join(f"{k}={v}" for k, v in sorted(filters.items()))
    )


def _figures(service_id: int, filters: dict) -> str:
    """The service's figures as HTML, kept for DASHBOARDS_SERVICE_CACHE_SECONDS (default 300).

    They aggregate every score in the service and take far longer to work out and render
    than a page should on a large service. They hold no names and nothing that depends on
    who is looking (suppression applies to everyone), so every user of the service shares
    them; the page says when they were worked out. 0 turns the cache off.
    """
    seconds = getattr(settings, "DASHBOARDS_SERVICE_CACHE_SECONDS", 300)
    key = figures_cache_key(service_id, filters)
    figures = cache.get(key) if seconds else None
    if figures is None:
        data = selectors.service_dashboard(service_id, **filters)
        figures = render_to_string(
            "dashboards/_service_figures.html",
            {
                "d": data,
                "charts": service_charts(data),
                "min_n": stats.MIN_PAIRED,
                "computed_at": timezone.now(),
            },
        )
        if seconds:
            cache.set(key, figures, seconds)
    return figures
