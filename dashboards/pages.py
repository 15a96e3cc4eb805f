"""The dashboards' pages as they are worked out, rendered and cached.

The reads are dashboards.selectors; this module decides what is kept in the dashboards'
cache (dashboards.cache), under which version of the data, and renders the parts that are
shared by everyone who may see them.
"""

from __future__ import annotations

import datetime
import hashlib

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from dashboards import figures, mixed_model, selectors, stats
from dashboards.cache import cache
from dashboards.charts import service_charts
from programmes.models import Cohort

OUTCOMES_SECONDS = 60 * 60
# Part of the outcomes' cache key: raise it whenever what cohort_outcomes returns changes shape.
OUTCOMES_SCHEMA = 7


def cohort_dashboard(
    cohort: Cohort,
    *,
    show_names: bool,
    view: str = selectors.COMPLETERS,
    scatter_scale: str | None = None,
    today: datetime.date | None = None,
) -> dict:
    """Everything the cohort dashboard shows.

    The register and retention (the parts with names) are read afresh on every view. The
    outcome figures (completion, means, paired change, service use, occupation, and each
    enrolment's change for the scatter, by enrolment id) hold no names or contact details;
    they are worked out and rendered once for each version of the cohort's data and of the
    service's baseline SDs (dashboards.freshness gives the cohort a new version on every
    change), kept in the cache under that version, and reused until the data changes.
    Names are put to the scatter's points here, from the register just read.
    """
    today = today or timezone.localdate()
    people = selectors.cohort_people(cohort, show_names)
    counted = [p for p in people if p.status in selectors.STARTED]
    counted_ids = [p.enrolment_id for p in counted]
    versions = figures.current_versions(Cohort.objects.filter(service_id=cohort.service_id))
    # The register without names, worked out once per version of the cohort's data (its
    # sessions, enrolments and attendance all give it a new one) and per day, since a day
    # passing makes sessions held without any write; names are put to it here.
    register_key = (
        f"dashboards:register:{OUTCOMES_SCHEMA}:{cohort.pk}:{versions[cohort.pk]}:"
        f"{today.isoformat()}"
    )
    register = cache.get(register_key)
    if register is None or any(p.enrolment_id not in register["people"] for p in people):
        # (The second test only guards against an enrolment written without its signals.)
        register = selectors.cohort_register(
            cohort, {p.enrolment_id: p.ended_on for p in people}, today
        )
        cache.set(register_key, register, OUTCOMES_SECONDS)
    attendance = register["attendance"]
    for person in people:
        person.attended, person.recorded, person.grid = register["people"][person.enrolment_id]
    retention = selectors.cohort_retention(cohort, people, today)

    timepoints = selectors.programme_timepoints(cohort.programme_id)
    scales = selectors.outcome_scales(timepoints)
    baseline_sds = figures.service_baseline_sds(cohort.service_id, versions)
    # Everything the outcomes are worked out from, besides code that OUTCOMES_SCHEMA covers.
    state = repr((versions[cohort.pk], view, timepoints, sorted(baseline_sds.items())))
    digest = hashlib.sha256(state.encode()).hexdigest()[:32]
    key = f"dashboards:cohort:{OUTCOMES_SCHEMA}:{cohort.pk}:{digest}"
    outcomes = cache.get(key)
    if outcomes is None:
        # The mixed models do not depend on the view: fitted once for the data's version.
        models_key = (
            f"dashboards:cohort-models:{OUTCOMES_SCHEMA}:{cohort.pk}:{versions[cohort.pk]}:"
            f"{hashlib.sha256(repr(timepoints).encode()).hexdigest()[:32]}"
        )
        every_timepoint = cache.get(models_key)
        outcomes = selectors.cohort_outcomes(
            counted_ids,
            [p.enrolment_id for p in people],
            timepoints,
            scales,
            baseline_sds,
            view,
            every_timepoint=every_timepoint,
        )
        if every_timepoint is None:
            cache.set(models_key, outcomes["every_timepoint"], OUTCOMES_SECONDS)
        outcomes["outcomes_html"] = render_to_string(
            "dashboards/_cohort_outcomes.html",
            {
                "d": {**outcomes, "view": view, "view_label": selectors.VIEWS[view]},
                "views": selectors.VIEWS.items(),
                "views_explained": mixed_model.EXPLAINED,
                "min_n": stats.MIN_PAIRED,
            },
        )
        cache.set(key, outcomes, OUTCOMES_SECONDS)

    scale_keys = [f"{c}.{s}" for c, s in scales]
    chosen = scatter_scale if scatter_scale in scale_keys else None
    if chosen is None:
        chosen = "core10.total" if "core10.total" in scale_keys else (scale_keys or [None])[0]
    scatter = selectors.cohort_scatter(chosen, people, outcomes["changes_by_person"])

    page = {
        "people": people,
        "counted": len(counted),
        "attendance": attendance,
        "retention": retention,
        "timepoints": timepoints,
        **outcomes,
        "scatter": scatter,
        "scale_choices": [(key, selectors.scale_label(*key.split("."))) for key in scale_keys],
        "view": view,
        "view_label": selectors.VIEWS[view],
        "today": today,
    }
    page["summary"] = selectors.cohort_summary(page)
    return page


# Part of the service page's cache key: raise it whenever what the page shows changes.
SERVICE_PAGE_SCHEMA = 7


def figures_cache_key(service_id: int, filters: dict, versions: dict[int, int], today) -> str:
    """Names one exact state of the service's data: any change to any cohort gives the
    cohort a new version (dashboards.freshness), and so the page a new key."""
    wanted = ":".join(f"{k}={v}" for k, v in sorted(filters.items()))
    return (
        f"dashboards:service:{SERVICE_PAGE_SCHEMA}:{service_id}:{today.isoformat()}:{wanted}:"
        f"{figures.digest(versions)}"
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
    versions = figures.current_versions(Cohort.objects.filter(service_id=service_id))
    key = figures_cache_key(service_id, filters, versions, today)
    html = cache.get(key) if seconds else None
    if html is None:
        data = selectors.service_dashboard(service_id, today=today, versions=versions, **filters)
        html = render_to_string(
            "dashboards/_service_figures.html",
            {
                "d": data,
                "charts": service_charts(data),
                "views_explained": mixed_model.EXPLAINED,
                "min_n": stats.MIN_PAIRED,
                "computed_at": timezone.now(),
            },
        )
        if seconds:
            cache.set(key, html, seconds)
    return html
