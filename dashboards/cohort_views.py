from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.audit import record_access
from dashboards import exports, pages, selectors, stats
from dashboards.access import dashboard_cohort_or_404, export_links, shows_names
from dashboards.charts import cohort_charts
from participants.models import Participant
from programmes.models import Enrolment


@login_required
def cohort_dashboard(request, pk: int):
    cohort = dashboard_cohort_or_404(request.user, pk)
    names = shows_names(request.user, cohort.service_id)
    view = request.GET.get("view")
    view = view if view in selectors.VIEWS else selectors.COMPLETERS
    data = pages.cohort_dashboard(
        cohort, show_names=names, view=view, scatter_scale=request.GET.get("scale")
    )
    if names:
        # The attendance grid names everyone who has started (templates/dashboards/cohort.html).
        shown = [p.participant_id for p in data["people"] if p.status != Enrolment.Status.REFERRED]
        people = Participant.objects.filter(pk__in=shown).only("pk", "reference")
        record_access([cohort, *people], where="Viewed in the cohort dashboard")
    return render(
        request,
        "dashboards/cohort.html",
        {
            "cohort": cohort,
            "d": data,
            "names": names,
            "charts": cohort_charts(data),
            "views": selectors.VIEWS.items(),
            "min_n": stats.MIN_PAIRED,
            "exports": export_links(request.user, cohort.service_id),
            "datasets": exports.DATASETS.items(),
        },
    )
