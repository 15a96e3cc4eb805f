"""Brings stale figures up to date in the background, so people rarely wait for them.

Every write marks its cohort's figures stale (dashboards.freshness); the first page view
after that would work them out again. `refresh_stale`, run by Celery beat every minute,
does that work first: for each service with a stale cohort it recomputes the figures,
renders the unfiltered service dashboard into the cache, and works out the changed cohorts'
outcome figures for both views, fitting the mixed models (every timepoint three ways) that
the pages never fit while someone waits. Pages stay correct without it; they are only faster.

`refresh_changed` does the quick part of that (figures, the pooled total, the pages) a few
seconds after each change commits (`queue_refresh`, from dashboards.freshness), so the first
view after a change does not wait for it either; the mixed models stay with the minute's run.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db.models import F, Q

from dashboards import pages, selectors
from dashboards.cache import cache
from dashboards.figures import current_versions, start_of_today
from dashboards.pages import service_figures_html
from programmes.models import Cohort

UNFILTERED = pages.UNFILTERED
# Set while a refresh_changed is queued and has not started: changes that commit meanwhile
# are covered by it and queue nothing more.
QUEUED_KEY = "dashboards:refresh-changed-queued"

logger = logging.getLogger(__name__)


def stale_cohorts():
    return Cohort.objects.filter(
        Q(figures__isnull=True)
        | Q(figures__computed_from__isnull=True)
        | ~Q(figures__computed_from=F("figures__version"))
        # Worked out on an earlier day: sessions held since then are not in them.
        | Q(figures__computed_at__lt=start_of_today())
    )


def refresh_stale() -> dict[str, int]:
    """Refresh what is stale; returns how many services and cohorts were refreshed because
    their figures were stale (not those whose mixed models alone were fitted)."""
    stale = list(stale_cohorts().select_related("programme", "service"))
    for service_id in sorted({c.service_id for c in stale}):
        current_versions(Cohort.objects.filter(service_id=service_id))
        service_figures_html(service_id, UNFILTERED, fit_models=True)
    for cohort in stale:
        for view in selectors.VIEWS:
            pages.cohort_dashboard(cohort, show_names=False, view=view, fit_models=True)
    # A page that found figures stale brought them up to date itself, so they are not
    # stale here, but it did not fit their mixed models: fit those now.
    services, cohort_ids = pages.without_models()
    for service_id in services:
        service_figures_html(service_id, UNFILTERED, fit_models=True)
    for cohort in Cohort.objects.filter(pk__in=cohort_ids).select_related("programme", "service"):
        for view in selectors.VIEWS:
            pages.cohort_dashboard(cohort, show_names=False, view=view, fit_models=True)
    return {"services": len({c.service_id for c in stale}), "cohorts": len(stale)}


def queue_refresh() -> None:
    """Queue one refresh_changed a few seconds from now unless one is already waiting.

    Run after a change commits (never inside its transaction). A broker or cache that
    cannot be reached loses nothing: the minute's refresh and the pages do the work.
    """
    delay = settings.DASHBOARDS_REFRESH_AFTER_CHANGE_SECONDS
    # The key outlives the delay so that a worker slow to start still finds it set.
    if not cache.add(QUEUED_KEY, 1, timeout=max(60, 10 * delay)):
        return
    from dashboards.tasks import refresh_changed_figures

    try:
        refresh_changed_figures.apply_async(countdown=delay)
    except Exception:
        cache.delete(QUEUED_KEY)
        logger.warning("Dashboard refresh not queued; the background refresh will do it.")


def refresh_changed() -> dict[str, int]:
    """Bring stale cohorts' figures, their services' pooled totals and unfiltered service
    pages, and their cohort pages up to date; the mixed models are left to refresh_stale."""
    # Cleared first: a change committed from here on may be missed by the read below, so
    # it must be able to queue another run.
    cache.delete(QUEUED_KEY)
    stale = list(stale_cohorts().select_related("programme", "service"))
    for service_id in sorted({c.service_id for c in stale}):
        service_figures_html(service_id, UNFILTERED, fit_models=False)
    for cohort in stale:
        for view in selectors.VIEWS:
            pages.cohort_dashboard(cohort, show_names=False, view=view)
    return {"services": len({c.service_id for c in stale}), "cohorts": len(stale)}
