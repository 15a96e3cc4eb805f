"""Per-cohort figures for the service dashboard: worked out once per change, then reused.

`current_figures` returns each cohort's figures, first recomputing (in one batch of
aggregate queries, however many cohorts) those whose data changed since they were stored,
or that were stored on an earlier day (sessions held since then count now).
What is stored is what the service dashboard pools across cohorts: counts, sums and the
distinct (baseline, end-of-programme) score pairs with their counts, so pooled means, SDs,
effect sizes and reliable-change counts are exactly those of the raw scores.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from dashboards import mixed_model, stats
from dashboards.cache import cache
from dashboards.freshness import new_version
from dashboards.models import CohortFigures
from measures.models import Administration, Score, Timepoint
from programmes.models import Attendance, Cohort, Enrolment, counted_attendance_q

BASELINE = "baseline"
COMPARISON_TIMEPOINT = "week52"
NON_SCALE_INSTRUMENTS = ("occupation", "service_use")
TOTALS_TIMEPOINTS = ("baseline", "week52", "week104")
# Stored with each cohort's figures: raise it when what compute() stores changes, and rows
# stored under an earlier one are worked out again on their next read.
FIGURES_SCHEMA = 3
# The other timepoints each arm is compared at, besides the end of the programme: the end
# of preparation (the programme's evaluation design rests on it), mid-programme, follow-up.
LATER_TIMEPOINTS = ("week12", "week32", "week104")
STARTED = (
    Enrolment.Status.ACTIVE,
    Enrolment.Status.COMPLETED,
    Enrolment.Status.WITHDRAWN,
    Enrolment.Status.DISCHARGED,
)


def current_figures(cohorts: QuerySet[Cohort]) -> dict[int, dict]:
    """{cohort id: figures} for every cohort of the queryset, none older than its data.

    Queries: one to read, and while any cohort is stale, six more to recompute them all
    (however many) and one to store them.
    """
    return _current(cohorts, "figures")


def current_versions(cohorts: QuerySet[Cohort]) -> dict[int, int]:
    """{cohort id: version} once every cohort's figures are current; reads no figures."""
    return _current(cohorts, "version")


def start_of_today() -> datetime.datetime:
    """Figures worked out before this moment were worked out on an earlier day: what was
    held then is not what is held now (programmes.models.held_q), so they are stale."""
    return timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time()))


def _current(cohorts: QuerySet[Cohort], field: str) -> dict[int, object]:
    rows = list(
        cohorts.order_by().values_list(
            "id",
            "figures__version",
            "figures__computed_from",
            "figures__computed_at",
            # A column of its own: read from inside `figures`, every cohort's figures
            # were read in full on every page view just for it.
            "figures__schema",
            f"figures__{field}",
        )
    )
    result = {}
    stale = {}
    today_began = start_of_today()
    for cohort_id, version, computed_from, computed_at, schema, value in rows:
        fresh_today = computed_at is not None and computed_at >= today_began
        current = version is not None and version == computed_from and schema == FIGURES_SCHEMA
        if current and fresh_today:
            result[cohort_id] = value
        else:
            stale[cohort_id] = version
    if stale:
        fresh = compute(list(stale))
        now = timezone.now()
        stored = []
        for cohort_id, version in stale.items():
            # A new row gets a version of its own; an existing row keeps the version read
            # above, so a change made while this ran leaves it stale for the next reader.
            version = new_version() if version is None else version
            figures = fresh[cohort_id]
            stored.append(
                CohortFigures(
                    cohort_id=cohort_id,
                    version=version,
                    computed_from=version,
                    computed_at=now,
                    schema=FIGURES_SCHEMA,
                    figures=figures,
                )
            )
        CohortFigures.objects.bulk_create(
            stored,
            update_conflicts=True,
            unique_fields=["cohort"],
            update_fields=["computed_from", "computed_at", "schema", "figures"],
        )
        for row in stored:
            result[row.cohort_id] = getattr(row, field)
    return result


def compute(cohort_ids: list[int], *, today: datetime.date | None = None) -> dict[int, dict]:
    """Work out the figures of the given cohorts from their data, in six queries."""
    today = today or timezone.localdate()
    figures = {
        i: {
            "schema": FIGURES_SCHEMA,
            "enrolments": {},
            "attendance": [0, 0],
            "completion": [0, 0],
            "pairs": {},
            "later_pairs": {},
            "totals": {},
        }
        for i in cohort_ids
    }
    for cohort_id, status, n in (
        Enrolment.objects.counted()
        .filter(cohort_id__in=cohort_ids)
        .values_list("cohort_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        figures[cohort_id]["enrolments"][status] = n
    for cohort_id, recorded, attended in (
        Attendance.objects.filter(
            counted_attendance_q(today),
            enrolment__cohort_id__in=cohort_ids,
            enrolment__status__in=STARTED,
        )
        .values_list("enrolment__cohort_id")
        .annotate(
            recorded=Count("id"), attended=Count("id", filter=Q(status__in=Attendance.ATTENDED))
        )
        .order_by()
    ):
        figures[cohort_id]["attendance"] = [recorded, attended]
    S = Administration.Status
    for cohort_id, completed, closed in (
        Administration.objects.filter(enrolment__cohort_id__in=cohort_ids)
        .exclude(enrolment__status=Enrolment.Status.ENTERED_IN_ERROR)
        .values_list("enrolment__cohort_id")
        .annotate(
            completed=Count("id", filter=Q(status=S.COMPLETED)),
            closed=Count("id", filter=Q(status__in=[S.COMPLETED, S.EXPIRED, S.MISSED])),
        )
        .order_by()
    ):
        figures[cohort_id]["completion"] = [completed, closed]
    for cohort_id, code, scale, before, after, n in pair_counts(cohort_ids):
        key = f"{code}.{scale}"
        figures[cohort_id]["pairs"].setdefault(key, []).append([before, after, n])
    for cohort_id, tp_key, code, scale, total, n in (
        Score.objects.filter(
            administration__enrolment__cohort_id__in=cohort_ids,
            administration__enrolment__status__in=STARTED,
            administration__status=S.COMPLETED,
            administration__instrument_code__in=NON_SCALE_INSTRUMENTS,
            administration__timepoint__key__in=TOTALS_TIMEPOINTS,
            value__isnull=False,
        )
        .values_list(
            "administration__enrolment__cohort_id",
            "administration__timepoint__key",
            "administration__instrument_code",
            "scale",
        )
        .annotate(total=Sum("value"), n=Count("id"))
        .order_by()
    ):
        figures[cohort_id]["totals"][f"{tp_key}.{code}.{scale}"] = [total, n]
    for tp_key, cohort_id, code, scale, before, after, n in later_pair_counts(cohort_ids):
        later = figures[cohort_id]["later_pairs"].setdefault(tp_key, {})
        later.setdefault(f"{code}.{scale}", []).append([before, after, n])
    return figures


def pair_counts(
    cohort_ids: list[int],
    *,
    only: tuple[str, str] | None = None,
    later: str = COMPARISON_TIMEPOINT,
):
    """(cohort id, code, scale, baseline, later score or None, count) rows.

    Each baseline score of someone who started, with the same person's score at `later`
    (the end of the programme unless told) where there is one, grouped into distinct pairs
    with their counts. A self-join written in SQL: the ORM's correlated-subquery form of it
    took seconds on a large service.
    """
    if not cohort_ids:
        return []
    score, admin = Score._meta.db_table, Administration._meta.db_table
    timepoint, enrolment = Timepoint._meta.db_table, Enrolment._meta.db_table
    params: list = [
        later,
        Administration.Status.COMPLETED,
        BASELINE,
        Administration.Status.COMPLETED,
        *NON_SCALE_INSTRUMENTS,
        *STARTED,
        *cohort_ids,
    ]
    extra = ""
    if only:
        extra = " AND a0.instrument_code = %s AND s0.scale = %s"
        params += list(only)
    sql = f"""
        SELECT e.cohort_id, a0.instrument_code, s0.scale, s0.value, s1.value, COUNT(*)
        FROM {score} s0
        JOIN {admin} a0 ON a0.id = s0.administration_id
        JOIN {timepoint} t0 ON t0.id = a0.timepoint_id
        JOIN {enrolment} e ON e.id = a0.enrolment_id
        LEFT JOIN ({admin} a1
            JOIN {timepoint} t1 ON t1.id = a1.timepoint_id AND t1.key = %s
            JOIN {score} s1 ON s1.administration_id = a1.id AND s1.value IS NOT NULL)
          ON a1.enrolment_id = a0.enrolment_id
         AND a1.instrument_code = a0.instrument_code
         AND a1.status = %s
         AND s1.scale = s0.scale
        WHERE t0.key = %s AND a0.status = %s AND s0.value IS NOT NULL
          AND a0.instrument_code NOT IN ({", ".join(["%s"] * len(NON_SCALE_INSTRUMENTS))})
          AND e.status IN ({", ".join(["%s"] * len(STARTED))})
          AND e.cohort_id IN ({", ".join(["%s"] * len(cohort_ids))}){extra}
        GROUP BY e.cohort_id, a0.instrument_code, s0.scale, s0.value, s1.value
    """  # noqa: S608 (table names come from the models; every value is a parameter)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def later_pair_counts(cohort_ids: list[int], timepoints=LATER_TIMEPOINTS):
    """(timepoint, cohort id, code, scale, baseline, later score, count) rows: as
    pair_counts, for every timepoint of `timepoints` in one query, pairs only."""
    if not cohort_ids:
        return []
    score, admin = Score._meta.db_table, Administration._meta.db_table
    timepoint, enrolment = Timepoint._meta.db_table, Enrolment._meta.db_table
    params: list = [
        *timepoints,
        Administration.Status.COMPLETED,
        BASELINE,
        Administration.Status.COMPLETED,
        *NON_SCALE_INSTRUMENTS,
        *STARTED,
        *cohort_ids,
    ]

    def marks(values) -> str:
        return ", ".join(["%s"] * len(values))

    sql = f"""
        SELECT t1.key, e.cohort_id, a0.instrument_code, s0.scale, s0.value, s1.value, COUNT(*)
        FROM {score} s0
        JOIN {admin} a0 ON a0.id = s0.administration_id
        JOIN {timepoint} t0 ON t0.id = a0.timepoint_id
        JOIN {enrolment} e ON e.id = a0.enrolment_id
        JOIN {admin} a1 ON a1.enrolment_id = a0.enrolment_id
         AND a1.instrument_code = a0.instrument_code
        JOIN {timepoint} t1 ON t1.id = a1.timepoint_id AND t1.key IN ({marks(timepoints)})
        JOIN {score} s1 ON s1.administration_id = a1.id AND s1.value IS NOT NULL
         AND s1.scale = s0.scale
        WHERE a1.status = %s AND t0.key = %s AND a0.status = %s AND s0.value IS NOT NULL
          AND a0.instrument_code NOT IN ({marks(NON_SCALE_INSTRUMENTS)})
          AND e.status IN ({marks(STARTED)})
          AND e.cohort_id IN ({marks(cohort_ids)})
        GROUP BY t1.key, e.cohort_id, a0.instrument_code, s0.scale, s0.value, s1.value
    """  # noqa: S608 (table names come from the models; every value is a parameter)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def pooled_sd(parts: Iterable[list]) -> float | None:
    """The sample SD of values known only as [n, sum, sum of squares] per group."""
    n = total = squares = 0.0
    for count, part_sum, part_squares in parts:
        n += count
        total += part_sum
        squares += part_squares
    if n < 2:
        return None
    variance = (squares - total * total / n) / (n - 1)
    return math.sqrt(variance) if variance > 0 else None


def digest(versions: dict[int, int]) -> str:
    """A short name for one state of a set of cohorts' data (service_digest works out the
    same name in the database)."""
    state = ",".join(f"{i}:{v}" for i, v in sorted(versions.items()))
    return hashlib.md5(state.encode(), usedforsecurity=False).hexdigest()


def service_digest(service_id: int, cohort_id: int | None = None) -> tuple[str | None, int | None]:
    """(digest of the versions of every cohort of the service, the version of `cohort_id`),
    worked out in the database in one query, without reading a row per cohort.

    A name for the service's data as it is, for finding what was worked out from it in the
    cache. None while a cohort has no figures row yet (its first version is given when its
    figures are first worked out): then only current_versions can name it.
    """
    if connection.vendor != "postgresql":
        # SQLite (the demo's and a newcomer's test run's default) has no md5(): the same
        # name from one row per cohort, read in one query.
        rows = list(
            Cohort.objects.filter(service_id=service_id)
            .order_by("pk")
            .values_list("pk", "figures__version")
        )
        if not rows:
            return digest({}), None
        versions = dict(rows)
        state = None if None in versions.values() else digest(versions)
        return state, versions.get(cohort_id)
    sql = f"""
        SELECT count(*), count(f.version),
               md5(string_agg(c.id::text || ':' || f.version::text, ',' ORDER BY c.id)),
               max(f.version) FILTER (WHERE c.id = %s)
        FROM {Cohort._meta.db_table} c
        LEFT JOIN {CohortFigures._meta.db_table} f ON f.cohort_id = c.id
        WHERE c.service_id = %s
    """  # noqa: S608 (table names come from the models; every value is a parameter)
    with connection.cursor() as cursor:
        cursor.execute(sql, [cohort_id, service_id])
        cohorts, with_version, state, version = cursor.fetchone()
    if cohorts == 0:
        return digest({}), None
    return (state if with_version == cohorts else None), version


# --------------------------------------------------------------------------- pooled

# Stored with each service's pooled figures: raise it when what pool_add keeps changes, and
# the next reader pools every cohort again from scratch.
POOL_SCHEMA = 1


def pair_key(before: float, after: float | None) -> str:
    """A (baseline, later score or None) pair as a JSON object's key."""
    return f"{float(before)!r}|" + ("" if after is None else f"{float(after)!r}")


@functools.lru_cache(maxsize=65536)
def pair_of(key: str) -> tuple[float, float | None]:
    # Scores come from small discrete sets: the same keys recur on every page.
    before, after = key.split("|")
    return float(before), (float(after) if after else None)


def empty_pool() -> dict:
    return {"programmes": {}, "cohorts": {}}


def _bump(counts: dict, key: str, n: int) -> None:
    # Counts that come to 0 go, so a pool kept up to date one cohort at a time is the same
    # dict as one pooled from scratch.
    value = counts.get(key, 0) + n
    if value:
        counts[key] = value
    else:
        counts.pop(key, None)


def _bump_pairs(by_scale: dict, scale_key: str, rows: list, sign: int) -> None:
    counts = by_scale.setdefault(scale_key, {})
    for before, after, n in rows:
        _bump(counts, pair_key(before, after), sign * n)
    if not counts:
        del by_scale[scale_key]


def pool_add(pool: dict, cohort_id: int, programme: str, found: dict, sign: int = 1) -> None:
    """Put one cohort's stored figures into the pool (sign 1) or take them out (sign -1).

    The pool holds, for each programme, what the service dashboard sums across cohorts:
    enrolment counts by status, attendance and completion counts, the counted (baseline,
    later) score pairs of each scale at week 52 and at each later timepoint, and the
    service-use and occupation totals; and for each cohort, its row of the cohort table.
    Every figure is a whole number (counts; the totals add up days, events and yes/no
    answers), so taking a cohort out leaves exactly what pooling the others gives.
    """
    programmes = pool["programmes"]
    prog = programmes.setdefault(
        programme,
        {
            "cohorts": 0,
            "enrolments": {},
            "attendance": [0, 0],
            "completion": [0, 0],
            "pairs": {},
            "later": {},
            "totals": {},
        },
    )
    prog["cohorts"] += sign
    for status, n in found["enrolments"].items():
        _bump(prog["enrolments"], status, sign * n)
    for field in ("attendance", "completion"):
        prog[field] = [a + sign * b for a, b in zip(prog[field], found[field], strict=True)]
    for scale_key, rows in found["pairs"].items():
        _bump_pairs(prog["pairs"], scale_key, rows, sign)
    for tp_key, by_scale in found.get("later_pairs", {}).items():
        later = prog["later"].setdefault(tp_key, {})
        for scale_key, rows in by_scale.items():
            _bump_pairs(later, scale_key, rows, sign)
        if not later:
            del prog["later"][tp_key]
    for total_key, (total, n) in found["totals"].items():
        pooled_total, pooled_n = prog["totals"].get(total_key, (0, 0))
        pooled_total, pooled_n = pooled_total + sign * total, pooled_n + sign * n
        if pooled_n:
            prog["totals"][total_key] = [pooled_total, pooled_n]
        else:
            prog["totals"].pop(total_key, None)
    if not prog["cohorts"]:
        del programmes[programme]
    if sign > 0:
        headline = found["pairs"].get(HEADLINE_KEY, [])
        pool["cohorts"][str(cohort_id)] = {
            "programme": programme,
            "enrolments": found["enrolments"],
            "attendance": found["attendance"],
            "completion": found["completion"],
            "headline": [[b, a, n] for b, a, n in headline if a is not None],
        }
    else:
        pool["cohorts"].pop(str(cohort_id), None)


HEADLINE_KEY = "core10.total"


def pool_of(found: dict[int, tuple[str, dict]]) -> dict:
    """{cohort id: (programme key, stored figures)} pooled from scratch."""
    pool = empty_pool()
    for cohort_id, (programme, figures) in sorted(found.items()):
        pool_add(pool, cohort_id, programme, figures)
    return pool


def service_pool(service_id: int, versions: dict[int, int], programmes: dict[int, str]) -> dict:
    """The pool (pool_add) of every cohort of the service, for these current `versions`.

    One query while nothing has changed since it was stored. After a change, only the
    changed cohorts' figures are read: each one's previous contribution is taken out and
    its new one put in, in a few queries however many cohorts the service has. Pooled
    again from scratch when there is no stored pool, it was stored under another
    POOL_SCHEMA, or a cohort in it has gone. `programmes` gives each cohort's programme key.
    """
    from dashboards.models import ServiceFigures

    wanted = {str(i): v for i, v in versions.items()}
    stored = (
        ServiceFigures.objects.filter(service_id=service_id)
        .values_list("schema", "versions", "pooled")
        .first()
    )
    if stored is not None and stored[0] == POOL_SCHEMA and stored[1] == wanted:
        return stored[2]
    with transaction.atomic():
        # Two views after the same change would each take the changed cohort's old figures
        # out and put its new ones in, counting it twice: the row lock makes the second
        # wait, then read the first one's versions and find nothing left to do.
        locked = ServiceFigures.objects.select_for_update().filter(service_id=service_id)
        found = locked.values_list("schema", "versions").first()
        if found is None:
            ServiceFigures.objects.bulk_create(
                [ServiceFigures(service_id=service_id)], ignore_conflicts=True
            )
            found = locked.values_list("schema", "versions").get()
        schema, pooled_versions = found
        if stored is not None and (schema, pooled_versions) == stored[:2]:
            pool = stored[2]  # unchanged since read above: not read again
        else:
            pool = ServiceFigures.objects.filter(service_id=service_id).values_list(
                "pooled", flat=True
            )[0]
        if schema != POOL_SCHEMA or set(pooled_versions) - set(wanted):
            changed, pool, pooled_versions = list(wanted), empty_pool(), {}
        else:
            changed = [i for i, v in wanted.items() if pooled_versions.get(i) != v]
        rows = list(
            CohortFigures.objects.filter(cohort_id__in=[int(i) for i in changed]).values_list(
                "cohort_id", "figures", "computed_from", "pooled", "pooled_from"
            )
        )
        if any(
            str(cohort_id) in pooled_versions
            and (previous is None or previous_from != pooled_versions[str(cohort_id)])
            for cohort_id, _f, _c, previous, previous_from in rows
        ):
            # What was pooled is not what the cohort says it gave: pool from scratch.
            return _repool(service_id, versions, programmes)
        updated, same = [], []
        for cohort_id, found, computed_from, previous, _from in rows:
            key = str(cohort_id)
            contribution = {"programme": programmes[cohort_id], "figures": found}
            # A change that leaves the cohort's figures as they were (a note edited, a
            # register saved again unchanged) leaves the pool as it was: not written.
            unchanged = key in pooled_versions and previous == contribution
            if not unchanged:
                if key in pooled_versions:
                    pool_add(pool, cohort_id, previous["programme"], previous["figures"], -1)
                pool_add(pool, cohort_id, programmes[cohort_id], found)
            # The version of the figures read here, which a write since the caller read
            # `versions` may have left stale: the next reader then pools the cohort again.
            pooled_versions[key] = computed_from
            row = CohortFigures(cohort_id=cohort_id, pooled=contribution, pooled_from=computed_from)
            (same if unchanged else updated).append(row)
        if updated:
            CohortFigures.objects.bulk_update(updated, ["pooled", "pooled_from"], batch_size=500)
        if same:
            CohortFigures.objects.bulk_update(same, ["pooled_from"], batch_size=500)
        stored_now = {"schema": POOL_SCHEMA, "versions": pooled_versions}
        if updated or schema != POOL_SCHEMA:
            stored_now["pooled"] = pool
        ServiceFigures.objects.filter(service_id=service_id).update(**stored_now)
    return pool


def _repool(service_id: int, versions: dict[int, int], programmes: dict[int, str]) -> dict:
    from dashboards.models import ServiceFigures

    ServiceFigures.objects.filter(service_id=service_id).update(schema=0)
    return service_pool(service_id, versions, programmes)


SD_CACHE_SECONDS = 60 * 60


def service_baseline_sds(
    service_id: int, state: str | None = None, pool: dict | None = None
) -> dict[tuple[str, str], tuple[float | None, int]]:
    """(the service's own baseline SD, how many baseline scores) for each computed-RCI scale.

    From the service's stored pool (`pool`, if the caller has it: service_pool), whose
    counted baseline scores are every cohort's; stats.rci_basis decides whether the SD is
    used (from 20 scores up). Cached under the digest of the versions of all the service's
    cohorts (`state`, if already worked out), so it is reused until any of them changes and
    never outlives the data it came from.
    """
    cohorts = Cohort.objects.filter(service_id=service_id)
    if state is None:
        state = service_digest(service_id)[0] or digest(current_versions(cohorts))
    key = f"dashboards:baseline-sd:{FIGURES_SCHEMA}:{service_id}:{state}"
    cached = cache.get(key)
    if cached is None:
        if pool is None:
            programmes = dict(cohorts.values_list("id", "programme__key"))
            pool = service_pool(service_id, current_versions(cohorts), programmes)
        cached = baseline_sds_of(pool)
        cache.set(key, cached, SD_CACHE_SECONDS)
    return {tuple(k.split(".")): tuple(v) for k, v in cached.items()}


def baseline_sds_of(pool: dict) -> dict[str, tuple[float | None, int]]:
    """{"code.scale": (SD, n)} of every counted baseline score in a pool (pool_add), for the
    scales whose RCI uses the service's own baseline SD.

    The pool's score pairs hold each baseline score of someone who started exactly once
    (with their later score, or none), as distinct values with counts.
    """
    counted: dict[str, defaultdict] = {}
    for prog in pool["programmes"].values():
        for scale_key, counts in prog["pairs"].items():
            if not stats.uses_baseline_sd(*scale_key.split(".")):
                continue
            values = counted.setdefault(scale_key, defaultdict(int))
            for key, n in counts.items():
                values[pair_of(key)[0]] += n
    result = {}
    for scale_key, values in counted.items():
        n = sum(values.values())
        part = [
            n,
            math.fsum(b * c for b, c in values.items()),
            math.fsum(b * b * c for b, c in values.items()),
        ]
        result[scale_key] = (pooled_sd([part]), n)
    return result


MIXED_SCHEMA = 1
# Named for the version of the data they come from, so they never go stale; kept long so
# the background refresh does not fit unchanged data again whenever an entry expires.
MODELS_SECONDS = 7 * 24 * 60 * 60


def models_key(service_id: int, filters: dict, state: str) -> str:
    """Names the service's mixed models for one filter and one state of all its cohorts'
    data (`state`: digest or service_digest), as pages.figures_cache_key does the page."""
    wanted = ":".join(f"{k}={v}" for k, v in sorted(filters.items()))
    return f"dashboards:mixed:{MIXED_SCHEMA}:{FIGURES_SCHEMA}:{service_id}:{wanted}:{state}"


def arm_scale_views(
    cohorts: list[dict], key: str | None, *, fit: bool = True
) -> dict[tuple[str, str, str], dict] | None:
    """{(programme key, code, scale): mixed_model.scale_views} for each arm of the cohorts.

    `cohorts` are the service page's rows (id and programme__key). Everyone who started in
    them, pooled by arm, with every completed score they have (one query). Fitting the
    models is the slow part, so it is done off the request path: dashboards.warm fits them
    (`fit`) and caches them under `key` (models_key), and a page that finds none there
    (`fit` False) gets None and says they are being worked out. Without a key they are
    worked out afresh.
    """
    cached = cache.get(key) if key else None
    if cached is not None or not fit:
        return cached
    found = _arm_scale_views(sorted(c["id"] for c in cohorts))
    if key:
        cache.set(key, found, MODELS_SECONDS)
    return found


def _arm_scale_views(cohort_ids: list[int]) -> dict[tuple[str, str, str], dict]:
    rows: dict[tuple[str, str, str], list] = defaultdict(list)
    timepoints: dict[str, dict[str, tuple[int, str]]] = defaultdict(dict)
    if cohort_ids:
        for enrolment_id, programme, tp_key, week, name, code, scale, value in (
            Score.objects.filter(
                administration__enrolment__cohort_id__in=cohort_ids,
                administration__enrolment__status__in=STARTED,
                administration__status=Administration.Status.COMPLETED,
                value__isnull=False,
            )
            .exclude(administration__instrument_code__in=NON_SCALE_INSTRUMENTS)
            .values_list(
                "administration__enrolment_id",
                "administration__enrolment__cohort__programme__key",
                "administration__timepoint__key",
                "administration__timepoint__week",
                "administration__timepoint__name",
                "administration__instrument_code",
                "scale",
                "value",
            )
            .order_by()
        ):
            rows[(programme, code, scale)].append((enrolment_id, tp_key, value))
            timepoints[programme].setdefault(tp_key, (week, name))
    found = {}
    for (programme, code, scale), scale_rows in rows.items():
        # The timepoints at which anyone in the arm has a score on the scale.
        seen = {tp_key for _e, tp_key, _v in scale_rows}
        names = {k: name for k, (_w, name) in timepoints[programme].items() if k in seen}
        keys = sorted(names, key=lambda k: timepoints[programme][k][0])
        if keys and keys[0] == BASELINE:
            found[(programme, code, scale)] = mixed_model.scale_views(scale_rows, keys, names)
    return found
