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
    fit_models: bool = False,
) -> dict:
    """Everything the cohort dashboard shows.

    The register and retention (the parts with names) are read afresh on every view. The
    outcome figures (completion, means, paired change, service use, occupation, and each
    enrolment's change for the scatter, by enrolment id) hold no names or contact details;
    they are worked out and rendered once for each version of the cohort's data and of the
    service's baseline SDs (dashboards.freshness gives the cohort a new version on every
    change), kept in the cache under that version, and reused until the data changes.
    Names are put to the scatter's points here, from the register just read.
    The mixed models (every timepoint three ways) are fitted off the request path: by
    dashboards.warm (`fit_models`), once per version of the data for both views; a page
    shown before then says they are being worked out, and is shown again with them after.
    """
    today = today or timezone.localdate()
    people = selectors.cohort_people(cohort, show_names)
    counted = [p for p in people if p.status in selectors.STARTED]
    counted_ids = [p.enrolment_id for p in counted]
    # The service's data as it is, named in one query (every cohort's version, for the
    # service's baseline SDs) without reading its cohorts one by one.
    state, version = figures.service_digest(cohort.service_id, cohort.pk)
    if state is None:
        versions = figures.current_versions(Cohort.objects.filter(service_id=cohort.service_id))
        state, version = figures.digest(versions), versions[cohort.pk]
    # The register without names, worked out once per version of the cohort's data (its
    # sessions, enrolments and attendance all give it a new one) and per day, since a day
    # passing makes sessions held without any write; names are put to it here.
    register_key = (
        f"dashboards:register:{OUTCOMES_SCHEMA}:{cohort.pk}:{version}:{today.isoformat()}"
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
    baseline_sds = figures.service_baseline_sds(cohort.service_id, state)
    # The mixed models do not depend on the view: fitted once for the data's version.
    models_key = cohort_models_key(cohort.pk, version)
    every_timepoint = cache.get(models_key)
    models_ready = every_timepoint is not None or fit_models
    # Everything the outcomes are worked out from, besides code that OUTCOMES_SCHEMA covers.
    state = repr((version, view, timepoints, sorted(baseline_sds.items()), models_ready))
    digest = hashlib.sha256(state.encode()).hexdigest()[:32]
    key = f"dashboards:cohort:{OUTCOMES_SCHEMA}:{cohort.pk}:{digest}"
    outcomes = cache.get(key)
    if outcomes is None:
        outcomes = selectors.cohort_outcomes(
            counted_ids,
            [p.enrolment_id for p in people],
            timepoints,
            scales,
            baseline_sds,
            view,
            every_timepoint=every_timepoint,
            fit_models=fit_models,
        )
        if every_timepoint is None and outcomes["every_timepoint"] is not None:
            cache.set(models_key, outcomes["every_timepoint"], figures.MODELS_SECONDS)
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


def cohort_models_key(cohort_id: int, version: int) -> str:
    """Names a cohort's mixed models for one version of its data (its timepoints are
    those of its programme's version, which never change under it)."""
    return f"dashboards:cohort-models:{OUTCOMES_SCHEMA}:{cohort_id}:{version}"


UNFILTERED = {"programme": None, "year": None, "status": None}


def without_models() -> tuple[list[int], list[int]]:
    """(service ids, cohort ids) whose current data has no mixed models in the cache: those
    whose figures a page brought up to date before the background refresh came to them.

    One query per service (its cohorts' versions) and one cache read for its cohorts. With
    the cache not keeping anything (Redis down: config.cache fails open), nothing is
    reported, so the background refresh does not refit everything every minute.
    """
    cache.set("dashboards:models-probe", 1, 60)
    if cache.get("dashboards:models-probe") is None:
        return [], []
    services, cohorts = [], []
    for service_id in sorted(set(Cohort.objects.values_list("service_id", flat=True))):
        versions = figures.current_versions(Cohort.objects.filter(service_id=service_id))
        if cache.get(figures.models_key(service_id, UNFILTERED, figures.digest(versions))) is None:
            services.append(service_id)
        keys = {cohort_models_key(i, v): i for i, v in versions.items()}
        found = cache.get_many(list(keys))
        cohorts += [i for key, i in keys.items() if key not in found]
    return services, cohorts


# Part of the service page's cache key: raise it whenever what the page shows changes.
SERVICE_PAGE_SCHEMA = 7


def figures_cache_key(service_id: int, filters: dict, state: str, today) -> str:
    """Names one exact state of the service's data (`state`: figures.digest of every
    cohort's version, or service_digest): any change to any cohort gives the cohort a new
    version (dashboards.freshness), and so the page a new key."""
    wanted = ":".join(f"{k}={v}" for k, v in sorted(filters.items()))
    return (
        f"dashboards:service:{SERVICE_PAGE_SCHEMA}:{service_id}:{today.isoformat()}:{wanted}:"
        f"{state}"
    )


def service_figures_html(service_id: int, filters: dict, *, fit_models: bool | None = None) -> str:
    """The service's figures as HTML, rendered once for each state of the service's data.

    They hold no names and nothing that depends on who is looking (suppression applies to
    everyone), so every user of the service shares them. The key names the version of every
    cohort's figures (the service's baseline SDs pool them all), so a change anywhere in the
    service is shown at once; nothing expires by time. DASHBOARDS_SERVICE_CACHE_SECONDS (an
    hour by default) only bounds how long an unused rendering stays in the cache; 0 turns
    the cache off.

    The mixed models are fitted off the request path by dashboards.warm (`fit_models`)
    for the unfiltered page, which until then says they are being worked out; a filtered
    page, which the background refresh does not know of, fits its own (`fit_models`
    None: only when filtered), cached under the same state of the data.
    """
    seconds = getattr(settings, "DASHBOARDS_SERVICE_CACHE_SECONDS", 3600)
    today = timezone.localdate()
    # Named in one query while every cohort has figures; the versions themselves (and any
    # stale figures worked out) only when the page must be rendered.
    state, _version = figures.service_digest(service_id) if seconds else (None, None)
    versions = None
    if state is None:
        versions = figures.current_versions(Cohort.objects.filter(service_id=service_id))
        state = figures.digest(versions)
    if fit_models is None:
        fit_models = any(v is not None for v in filters.values())
    models_key = figures.models_key(service_id, filters, state)
    ready = fit_models or cache.get(models_key) is not None
    key = figures_cache_key(service_id, filters, state, today) + (
        ":models" if ready else ":pending"
    )
    html = cache.get(key) if seconds else None
    if html is None:
        if versions is None:
            versions = figures.current_versions(Cohort.objects.filter(service_id=service_id))
        data = selectors.service_dashboard(
            service_id,
            today=today,
            versions=versions,
            models_key=models_key,
            fit_models=fit_models,
            **filters,
        )
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
