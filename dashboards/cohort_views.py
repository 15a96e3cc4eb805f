from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.audit import record_view
from dashboards import exports, selectors, stats
from dashboards.access import dashboard_cohort_or_404, export_links, shows_names
from dashboards.charts import cohort_charts


@login_required
def cohort_dashboard(request, pk: int):
    cohort = dashboard_cohort_or_404(request.user, pk)
    names = shows_names(request.user, cohort.service_id)
    view = request.GET.get("view")
    view = view if view in selectors.VIEWS else selectors.COMPLETERS
    data = selectors.cohort_dashboard(
        cohort, show_names=names, view=view, scatter_scale=request.GET.get("scale")
    )
    if names:
        record_view(cohort)
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
