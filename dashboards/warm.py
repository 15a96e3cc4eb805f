"""Brings stale figures up to date in the background, so people rarely wait for them.

Every write marks its cohort's figures stale (dashboards.freshness); the first page view
after that would work them out again. `refresh_stale`, run by Celery beat every minute,
does that work first: for each service with a stale cohort it recomputes the figures,
renders the unfiltered service dashboard into the cache, and works out the changed cohorts'
outcome figures for both views. Pages stay correct without it; they are only faster.
"""

from __future__ import annotations

from django.db.models import F, Q

from dashboards import pages, selectors
from dashboards.figures import current_versions, start_of_today
from dashboards.pages import service_figures_html
from programmes.models import Cohort

UNFILTERED = {"programme": None, "year": None, "status": None}


def stale_cohorts():
    return Cohort.objects.filter(
        Q(figures__isnull=True)
        | Q(figures__computed_from__isnull=True)
        | ~Q(figures__computed_from=F("figures__version"))
        # Worked out on an earlier day: sessions held since then are not in them.
        | Q(figures__computed_at__lt=start_of_today())
    )


def refresh_stale() -> dict[str, int]:
    """Refresh what is stale; returns how many services and cohorts were refreshed."""
    stale = list(stale_cohorts().select_related("programme", "service"))
    for service_id in sorted({c.service_id for c in stale}):
        current_versions(Cohort.objects.filter(service_id=service_id))
        service_figures_html(service_id, UNFILTERED)
    for cohort in stale:
        for view in selectors.VIEWS:
            pages.cohort_dashboard(cohort, show_names=False, view=view)
    return {"services": len({c.service_id for c in stale}), "cohorts": len(stale)}
