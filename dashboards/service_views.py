from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.models import Service
from accounts.scope import Can, service_ids
from dashboards import exports, pages, selectors, stats
from dashboards.access import dashboard_service_or_404, export_links


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
            "figures": pages.service_figures_html(pk, filters),
            "min_n": stats.MIN_PAIRED,
            "research_export": offered["research"],
            "identifiable_export": offered["identifiable"],
            "datasets": exports.DATASETS.items(),
        },
    )
