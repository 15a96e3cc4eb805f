"""Reads for the dashboards: a fixed number of queries, figures in Python.

No query here depends on the number of participants, sessions or cohorts: each function
fetches flat rows (values()/values_list()) or database aggregates once and computes the rest
in memory, so a page's query count stays pinned whatever the size of the data.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q, StdDev, Sum
from django.utils import timezone

from dashboards import stats
from dashboards.tables import change_cells, change_rows, grid_cells, mean_rows
from measures.definitions import get_instrument
from measures.models import Administration, Score, Timepoint
from programmes.models import Attendance, Cohort, Enrolment, GroupSession, Programme

BASELINE = "baseline"
OCCUPATION = "occupation"
SERVICE_USE = "service_use"
NON_SCALE_INSTRUMENTS = (OCCUPATION, SERVICE_USE)
OCCUPATION_FLAGS = ("employed", "education_or_training", "volunteering", "engaged")
SERVICE_USE_SCALES = (
    "inpatient_bed_days",
    "admissions",
    "ae_attendances",
    "crisis_contacts",
    "home_treatment_days",
    "other_unplanned_contacts",
)
# Each service-use record covers twelve months: one person-year per person recorded.
SERVICE_USE_PERIODS = (
    ("baseline", "Before (the 12 months before)"),
    ("week52", "During (the 12 months of the programme)"),
    ("week104", "After (the 12 months after)"),
)
OCCUPATION_TIMEPOINTS = (
    ("baseline", "Baseline"),
    ("week52", "End of programme"),
    ("week104", "12-month follow-up"),
)
ATTENDANCE_CODES = {
    Attendance.Status.PRESENT: "P",
    Attendance.Status.LATE: "L",
    Attendance.Status.LEFT_EARLY: "E",
    Attendance.Status.APOLOGIES: "A",
    Attendance.Status.DNA: "D",
}
ATTENDANCE_MEANINGS = {value: label.lower() for value, label in Attendance.Status.choices}
STARTED = (
    Enrolment.Status.ACTIVE,
    Enrolment.Status.COMPLETED,
    Enrolment.Status.WITHDRAWN,
    Enrolment.Status.DISCHARGED,
)
COMPLETERS = "completers"
ITT = "itt"
VIEWS = {
    COMPLETERS: "Completers: only people with scores at both timepoints",
    ITT: "Intention to treat: last observation carried forward (LOCF)",
}


def scale_label(code: str, scale: str) -> str:
    instrument = get_instrument(code)
    definition = instrument.scale(scale)
    if len(instrument.scales) == 1:
        return instrument.name
    return f"{instrument.name}: {definition.label}"


def outcome_scales(timepoints: list[dict]) -> list[tuple[str, str]]:
    """Every (code, scale) the programme's timepoints ask for, in schedule order."""
    seen: list[tuple[str, str]] = []
    for timepoint in timepoints:
        for code in timepoint["instruments"]:
            if code in NON_SCALE_INSTRUMENTS:
                continue
            for scale in get_instrument(code).scale_keys:
                if (code, scale) not in seen:
                    seen.append((code, scale))
    return seen


BASELINE_SD_SECONDS = 15 * 60


def baseline_sd_cache_key(service_id: int) -> str:
    return f"dashboards:baseline-sd:{service_id}"


def service_baseline_sds(service_id: int, scales: list[tuple[str, str]]) -> dict:
    """The service's own baseline SD for scales whose RCI is computed from it.

    One aggregate over every baseline score in the service: the costliest query on the
    cohort page, for a reference value that moves slowly. It is kept in the cache for
    BASELINE_SD_SECONDS, so a new baseline reaches the RCI within a quarter of an hour.
    """
    wanted = sorted((c, s) for c, s in scales if stats.needs_baseline_sd(c, s))
    if not wanted:
        return {}
    key = baseline_sd_cache_key(service_id)
    cached = cache.get(key)
    if cached is not None and all(f"{c}.{s}" in cached["scales"] for c, s in wanted):
        return {tuple(k.split(".")): v for k, v in cached["sds"].items()}
    match = Q()
    for code, scale in wanted:
        match |= Q(administration__instrument_code=code, scale=scale)
    rows = (
        Score.objects.filter(
            match,
            administration__enrolment__cohort__service_id=service_id,
            administration__timepoint__key=BASELINE,
            administration__status=Administration.Status.COMPLETED,
            value__isnull=False,
        )
        .values("administration__instrument_code", "scale")
        .annotate(sd=StdDev("value", sample=True))
        .order_by()
    )
    sds = {
        (row["administration__instrument_code"], row["scale"]): row["sd"]
        for row in rows
        if row["sd"]
    }
    cache.set(
        key,
        {
            "scales": [f"{c}.{s}" for c, s in wanted],
            "sds": {f"{c}.{s}": v for (c, s), v in sds.items()},
        },
        BASELINE_SD_SECONDS,
    )
    return sds


# --------------------------------------------------------------------------- cohort


@dataclass
class Person:
    enrolment_id: int
    participant_id: int
    label: str
    status: str
    status_label: str
    enrolled_on: datetime.date
    ended_on: datetime.date | None
    end_reason: str
    attended: int = 0
    recorded: int = 0
    cells: list = field(default_factory=list)
    grid: str = ""


def _people(cohort: Cohort, show_names: bool) -> list[Person]:
    rows = (
        Enrolment.objects.filter(cohort=cohort)
        .values(
            "id",
            "participant_id",
            "participant__given_name",
            "participant__family_name",
            "status",
            "enrolled_on",
            "ended_on",
            "end_reason",
        )
        .order_by("participant__family_name", "participant__given_name", "id")
    )
    people = []
    status_labels = dict(Enrolment.Status.choices)
    for index, row in enumerate(rows if show_names else sorted(rows, key=lambda r: r["id"])):
        label = (
            f"{row['participant__given_name']} {row['participant__family_name']}"
            if show_names
            else f"Participant {index + 1}"
        )
        people.append(
            Person(
                enrolment_id=row["id"],
                participant_id=row["participant_id"],
                label=label,
                status=row["status"],
                status_label=status_labels.get(row["status"], row["status"]),
                enrolled_on=row["enrolled_on"],
                ended_on=row["ended_on"],
                end_reason=row["end_reason"],
            )
        )
    return people


def _attendance(cohort: Cohort, people: list[Person]) -> dict:
    sessions = list(
        GroupSession.objects.filter(cohort=cohort)
        .values("id", "number", "week", "date", "status", "phase__name", "phase__order")
        .order_by("number")
    )
    for session in sessions:
        session["label"] = f"Session {session['number']}, {_day(session['date'])}"
    marks = {
        (session_id, enrolment_id): status
        for session_id, enrolment_id, status in Attendance.objects.filter(
            session__cohort=cohort
        ).values_list("session_id", "enrolment_id", "status")
    }
    phases: dict[str, dict] = {}
    for session in sessions:
        phase = phases.setdefault(
            session["phase__name"],
            {
                "name": session["phase__name"],
                "order": session["phase__order"],
                "sessions": 0,
                "registers": 0,
                "attended": 0,
                "recorded": 0,
            },
        )
        if session["status"] == GroupSession.Status.CANCELLED:
            continue
        phase["sessions"] += 1
        taken = False
        for person in people:
            status = marks.get((session["id"], person.enrolment_id))
            if status is None:
                continue
            taken = True
            phase["recorded"] += 1
            person.recorded += 1
            if status in Attendance.ATTENDED:
                phase["attended"] += 1
                person.attended += 1
        phase["registers"] += int(taken)
    for person in people:
        person.cells = []
        for session in sessions:
            if session["status"] == GroupSession.Status.CANCELLED:
                person.cells.append(("X", "session cancelled"))
                continue
            status = marks.get((session["id"], person.enrolment_id))
            if status is None:
                person.cells.append(("", "not recorded"))
            else:
                person.cells.append((ATTENDANCE_CODES[status], ATTENDANCE_MEANINGS[status]))
    phase_rows = sorted(phases.values(), key=lambda p: p["order"])
    for phase in phase_rows:
        phase["rate"] = stats.share(phase["attended"], phase["recorded"])
    recorded = sum(p["recorded"] for p in phase_rows)
    attended = sum(p["attended"] for p in phase_rows)
    return {
        "sessions": sessions,
        "phases": phase_rows,
        "overall_rate": stats.share(attended, recorded),
        "attended": attended,
        "recorded": recorded,
    }


def _retention(cohort: Cohort, people: list[Person], today: datetime.date) -> dict:
    started = [p for p in people if p.status in STARTED]
    weeks = []
    for week in range(1, 53):
        date = cohort.week_date(week)
        if date > today:
            break
        still = sum(
            1
            for p in started
            if p.enrolled_on <= date and (p.ended_on is None or p.ended_on >= date)
        )
        weeks.append({"week": week, "date": _day(date), "enrolled": still})
    leavers = Counter()
    for p in started:
        if p.status in (Enrolment.Status.WITHDRAWN, Enrolment.Status.DISCHARGED):
            leavers[(p.status_label, p.end_reason.strip() or "No reason recorded")] += 1
    return {
        "started": len(started),
        "referred": len(people) - len(started),
        "weeks": weeks,
        "leavers": [
            {"status": status, "reason": reason, "count": count}
            for (status, reason), count in sorted(leavers.items(), key=lambda i: (-i[1], i[0]))
        ],
        "left": sum(leavers.values()),
    }


def _day(date: datetime.date) -> str:
    # Formatted here once: Django's date filter, run per cell, dominated the page's render.
    return f"{date.day} {date:%b %Y}"


def _completion(timepoints: list[dict], admin_rows: list[tuple]) -> list[dict]:
    by_tp: dict[int, Counter] = defaultdict(Counter)
    for _enrolment_id, timepoint_id, _code, status in admin_rows:
        by_tp[timepoint_id][status] += 1
    S = Administration.Status
    rows = []
    for tp in timepoints:
        counts = by_tp.get(tp["id"], Counter())
        due = sum(counts.values()) - counts[S.CANCELLED]
        closed = counts[S.COMPLETED] + counts[S.EXPIRED] + counts[S.MISSED]
        rows.append(
            {
                "timepoint": tp,
                "due": due,
                "completed": counts[S.COMPLETED],
                "expired": counts[S.EXPIRED] + counts[S.MISSED],
                "pending": counts[S.SCHEDULED] + counts[S.OPEN] + counts[S.IN_PROGRESS],
                "cancelled": counts[S.CANCELLED],
                "rate": stats.share(counts[S.COMPLETED], closed),
            }
        )
    return rows


def _score_index(score_rows) -> tuple[dict, dict]:
    """(enrolment, timepoint key, code, scale) -> value; and the same -> True if not scored."""
    values, not_scored = {}, {}
    for enrolment_id, tp_key, code, scale, value in score_rows:
        key = (enrolment_id, tp_key, code, scale)
        if value is None:
            not_scored[key] = True
        else:
            values[key] = value
    return values, not_scored


def _pairs(
    people_ids: list[int],
    code: str,
    scale: str,
    later: dict,
    timepoints: list[dict],
    values: dict,
    not_scored: dict,
    view: str,
) -> tuple[list[tuple[float, float]], dict[str, int], list[int]]:
    """(before, after) pairs, reasons for leaving people out, and whose pairs they are."""
    pairs, owners, left_out = [], [], Counter()
    earlier_keys = [
        tp["key"] for tp in timepoints if 0 < tp["week"] < later["week"] and tp["key"] != BASELINE
    ]
    for enrolment_id in people_ids:
        before = values.get((enrolment_id, BASELINE, code, scale))
        if before is None:
            reason = (
                "baseline not scored (too many items missing)"
                if (enrolment_id, BASELINE, code, scale) in not_scored
                else "no baseline score"
            )
            left_out[reason] += 1
            continue
        after = values.get((enrolment_id, later["key"], code, scale))
        if after is None and view == ITT:
            after = before
            for key in earlier_keys:
                carried = values.get((enrolment_id, key, code, scale))
                if carried is not None:
                    after = carried
        if after is None:
            reason = (
                f"{later['name']} not scored (too many items missing)"
                if (enrolment_id, later["key"], code, scale) in not_scored
                else f"no score at {later['name']}"
            )
            left_out[reason] += 1
            continue
        pairs.append((before, after))
        owners.append(enrolment_id)
    return pairs, dict(left_out), owners


def cohort_dashboard(
    cohort: Cohort,
    *,
    show_names: bool,
    view: str = COMPLETERS,
    scatter_scale: str | None = None,
    today: datetime.date | None = None,
) -> dict:
    """Everything the cohort dashboard shows, from seven queries.

    Six while the service's baseline SDs are in the cache.
    """
    today = today or timezone.localdate()
    people = _people(cohort, show_names)
    counted = [p for p in people if p.status in STARTED]
    counted_ids = [p.enrolment_id for p in counted]
    # Administrations and scores by enrolment id: on a large service the planner finds
    # them through the enrolment index faster than through a join on the cohort.
    enrolment_ids = [p.enrolment_id for p in people]
    attendance = _attendance(cohort, people)
    retention = _retention(cohort, people, today)

    timepoints = list(
        Timepoint.objects.filter(programme_id=cohort.programme_id)
        .values("id", "key", "name", "week", "instruments")
        .order_by("week")
    )
    admin_rows = list(
        Administration.objects.filter(enrolment_id__in=enrolment_ids).values_list(
            "enrolment_id", "timepoint_id", "instrument_code", "status"
        )
    )
    score_rows = Score.objects.filter(
        administration__enrolment_id__in=enrolment_ids,
        administration__status=Administration.Status.COMPLETED,
    ).values_list(
        "administration__enrolment_id",
        "administration__timepoint__key",
        "administration__instrument_code",
        "scale",
        "value",
    )
    values, not_scored = _score_index(score_rows)
    scales = outcome_scales(timepoints)
    baseline_sds = service_baseline_sds(cohort.service_id, scales)

    means = []
    for code, scale in scales:
        cells = []
        for tp in timepoints:
            if code not in tp["instruments"]:
                cells.append(None)
                continue
            observed = [
                values[key] for e in counted_ids if (key := (e, tp["key"], code, scale)) in values
            ]
            summary = stats.mean_ci(observed)
            unscored = sum(1 for e in counted_ids if (e, tp["key"], code, scale) in not_scored)
            cells.append(
                {
                    "timepoint": tp,
                    "summary": summary,
                    "n": len(observed),
                    "not_scored": unscored,
                    "missing": len(counted_ids) - len(observed) - unscored,
                }
            )
        means.append(
            {
                "code": code,
                "scale": scale,
                "label": scale_label(code, scale),
                "cells": cells,
                "rows": mean_rows(cells),
            }
        )

    later = [tp for tp in timepoints if tp["key"] != BASELINE]
    changes = []
    pair_owners: dict[tuple[str, str, str], tuple[list, list]] = {}
    for code, scale in scales:
        for tp in later:
            if code not in tp["instruments"]:
                continue
            pairs, left_out, owners = _pairs(
                counted_ids, code, scale, tp, timepoints, values, not_scored, view
            )
            pair_owners[(code, scale, tp["key"])] = (pairs, owners)
            result = stats.paired_change(
                code, scale, pairs, left_out=left_out, baseline_sd=baseline_sds.get((code, scale))
            )
            changes.append(
                {
                    "code": code,
                    "scale": scale,
                    "label": scale_label(code, scale),
                    "timepoint": tp,
                    "higher_is": get_instrument(code).scale(scale).higher_is,
                    "result": result,
                    "cells": change_cells(result, small=False, min_n=stats.MIN_PAIRED),
                }
            )
    for person in people:
        person.grid = grid_cells(person.cells)

    service_use = _service_use(counted_ids, values, not_scored)
    occupation = _occupation(counted_ids, values)

    scale_keys = [f"{c}.{s}" for c, s in scales]
    chosen = scatter_scale if scatter_scale in scale_keys else None
    if chosen is None:
        chosen = "core10.total" if "core10.total" in scale_keys else (scale_keys or [None])[0]
    scatter = _scatter(chosen, people, pair_owners, later)

    return {
        "people": people,
        "counted": len(counted),
        "attendance": attendance,
        "retention": retention,
        "timepoints": timepoints,
        "completion": _completion(timepoints, admin_rows),
        "means": means,
        "changes": changes,
        "change_rows": change_rows(changes),
        "service_use": service_use,
        "occupation": occupation,
        "scatter": scatter,
        "scale_choices": [(key, scale_label(*key.split("."))) for key in scale_keys],
        "view": view,
        "view_label": VIEWS[view],
        "today": today,
    }


def _service_use(people_ids: list[int], values: dict, not_scored: dict) -> dict:
    periods = []
    for key, label in SERVICE_USE_PERIODS:
        recorded = [
            e
            for e in people_ids
            if any((e, key, SERVICE_USE, s) in values for s in SERVICE_USE_SCALES)
        ]
        rates = {}
        for scale in SERVICE_USE_SCALES:
            counts = [values[k] for e in recorded if (k := (e, key, SERVICE_USE, scale)) in values]
            rates[scale] = {
                "events": sum(counts),
                "person_years": float(len(counts)),
                "rate": stats.rate_per_person_year(sum(counts), float(len(counts))),
            }
        periods.append(
            {
                "key": key,
                "label": label,
                "people": len(recorded),
                "left_out": len(people_ids) - len(recorded),
                "rates": rates,
            }
        )
    return {"periods": periods, "scales": [(s, _service_use_label(s)) for s in SERVICE_USE_SCALES]}


def _service_use_label(scale: str) -> str:
    return get_instrument(SERVICE_USE).scale(scale).label


def _occupation(people_ids: list[int], values: dict) -> dict:
    rows = []
    for key, label in OCCUPATION_TIMEPOINTS:
        answered = [e for e in people_ids if (e, key, OCCUPATION, "engaged") in values]
        flags = {
            flag: stats.share(
                sum(1 for e in answered if values.get((e, key, OCCUPATION, flag)) == 1.0),
                len(answered),
            )
            for flag in OCCUPATION_FLAGS
        }
        counts = {
            flag: sum(1 for e in answered if values.get((e, key, OCCUPATION, flag)) == 1.0)
            for flag in OCCUPATION_FLAGS
        }
        rows.append(
            {
                "key": key,
                "label": label,
                "answered": len(answered),
                "left_out": len(people_ids) - len(answered),
                "shares": flags,
                "counts": counts,
            }
        )
    return {
        "timepoints": rows,
        "flags": [(f, get_instrument(OCCUPATION).scale(f).label) for f in OCCUPATION_FLAGS],
    }


def _scatter(chosen: str | None, people: list[Person], pair_owners: dict, later: list) -> dict:
    if chosen is None:
        return {"scale": None, "points": []}
    code, scale = chosen.split(".")
    # The end of the programme when that timepoint asks for the scale, else the last one.
    target = next((tp for tp in later if tp["key"] == "week52"), later[-1] if later else None)
    key = (code, scale, target["key"]) if target else None
    if key not in pair_owners:
        candidates = [k for k in pair_owners if k[:2] == (code, scale)]
        key = candidates[-1] if candidates else None
    if key is None:
        return {"scale": chosen, "points": []}
    pairs, owners = pair_owners[key]
    by_id = {p.enrolment_id: p for p in people}
    points = [
        {"label": by_id[e].label, "attended": by_id[e].attended, "change": after - before}
        for (before, after), e in zip(pairs, owners, strict=True)
    ]
    timepoint = next(tp for tp in later if tp["key"] == key[2])
    return {
        "scale": chosen,
        "label": scale_label(code, scale),
        "timepoint": timepoint,
        "points": points,
        "left_out": len([p for p in people if p.status in STARTED]) - len(points),
    }


# --------------------------------------------------------------------------- service


COHORT_STATUSES = {
    "planned": "Not started",
    "running": "Running (weeks 1-52)",
    "follow_up": "In follow-up (weeks 53-104)",
    "finished": "Finished",
}


def cohort_status(start: datetime.date, today: datetime.date) -> str:
    if start > today:
        return "planned"
    weeks = (today - start).days // 7 + 1
    if weeks <= 52:
        return "running"
    if weeks <= 104:
        return "follow_up"
    return "finished"


def _status_filter(status: str, today: datetime.date) -> Q:
    # The inverse of cohort_status, as date ranges, so filtering happens in the database.
    week52_start = today - datetime.timedelta(weeks=52)
    week104_start = today - datetime.timedelta(weeks=104)
    return {
        "planned": Q(start_date__gt=today),
        "running": Q(start_date__lte=today, start_date__gt=week52_start),
        "follow_up": Q(start_date__lte=week52_start, start_date__gt=week104_start),
        "finished": Q(start_date__lte=week104_start),
    }[status]


def service_cohorts(service_id: int, *, programme=None, year=None, status=None, today=None):
    today = today or timezone.localdate()
    cohorts = Cohort.objects.filter(service_id=service_id)
    if programme:
        cohorts = cohorts.filter(programme__key=programme)
    if year:
        cohorts = cohorts.filter(start_date__year=year)
    if status:
        cohorts = cohorts.filter(_status_filter(status, today))
    return cohorts


def service_filter_choices(service_id: int) -> dict:
    """Programmes and start years present in the service (one query)."""
    rows = (
        Cohort.objects.filter(service_id=service_id)
        .values_list("programme__key", "programme__name", "start_date__year")
        .distinct()
        .order_by()
    )
    programmes, years = {}, set()
    for key, name, year in rows:
        programmes.setdefault(key, name)
        years.add(year)
    return {"programmes": sorted(programmes.items(), key=lambda i: i[1]), "years": sorted(years)}


COMPARISON_TIMEPOINT = "week52"
HEADLINE = ("core10", "total")
PROGRAMME_KEY = "administration__enrolment__cohort__programme__key"
CODE = "administration__instrument_code"


def service_dashboard(service_id: int, *, programme=None, year=None, status=None, today=None):
    """Every cohort side by side and the two programmes compared, from eight queries.

    Seven while the service's baseline SDs are in the cache.

    Everything that grows with the number of people is aggregated in the database: scores
    come back as distinct (before, after) pairs with their counts, service use and occupation
    as sums and counts, so the rows fetched depend on the spread of scores, not on the
    number of participants.
    """
    today = today or timezone.localdate()
    cohorts = list(
        service_cohorts(service_id, programme=programme, year=year, status=status, today=today)
        .values("id", "name", "start_date", "programme__key", "programme__name")
        .order_by("-start_date", "name")
    )
    cohort_ids = [c["id"] for c in cohorts]
    cohort_programme = {c["id"]: c["programme__key"] for c in cohorts}
    programme_names = {c["programme__key"]: c["programme__name"] for c in cohorts}
    programmes = sorted(programme_names, key=_programme_order)

    enrolment_counts: dict[int, Counter] = defaultdict(Counter)
    for cohort_id, status_, n in (
        Enrolment.objects.filter(cohort_id__in=cohort_ids)
        .values_list("cohort_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        enrolment_counts[cohort_id][status_] = n
    started_by_programme: Counter = Counter()
    for cohort_id, counts in enrolment_counts.items():
        started_by_programme[cohort_programme[cohort_id]] += sum(counts[s] for s in STARTED)

    attendance = {
        row["enrolment__cohort_id"]: row
        for row in Attendance.objects.filter(
            enrolment__cohort_id__in=cohort_ids, enrolment__status__in=STARTED
        )
        .values("enrolment__cohort_id")
        .annotate(
            recorded=Count("id"),
            attended=Count("id", filter=Q(status__in=Attendance.ATTENDED)),
        )
        .order_by()
    }
    S = Administration.Status
    completion = {
        row["enrolment__cohort_id"]: row
        for row in Administration.objects.filter(enrolment__cohort_id__in=cohort_ids)
        .values("enrolment__cohort_id")
        .annotate(
            completed=Count("id", filter=Q(status=S.COMPLETED)),
            closed=Count("id", filter=Q(status__in=[S.COMPLETED, S.EXPIRED, S.MISSED])),
        )
        .order_by()
    }

    scored = Score.objects.filter(
        administration__enrolment__cohort_id__in=cohort_ids,
        administration__enrolment__status__in=STARTED,
        administration__status=S.COMPLETED,
        value__isnull=False,
    )
    # Baseline scores, each with the same person's end-of-programme score where there is
    # one, grouped into distinct (before, after) values with their counts.
    pairs_by_programme: dict = defaultdict(list)
    baseline_n: Counter = Counter()
    for key, code, scale, before, after, n in _pair_counts(cohort_ids, by="programme"):
        baseline_n[(key, code, scale)] += n
        if after is not None:
            pairs_by_programme[(key, code, scale)].extend([(before, after)] * n)
    headline_pairs: dict = defaultdict(list)
    for cohort_id, _code, _scale, before, after, n in _pair_counts(
        cohort_ids, by="cohort", only=HEADLINE
    ):
        if after is not None:
            headline_pairs[cohort_id].extend([(before, after)] * n)
    totals = {
        (row[PROGRAMME_KEY], row["administration__timepoint__key"], row["scale"]): row
        for row in scored.filter(
            administration__instrument_code__in=NON_SCALE_INSTRUMENTS,
            administration__timepoint__key__in=[k for k, _ in SERVICE_USE_PERIODS],
        )
        .values(PROGRAMME_KEY, "administration__timepoint__key", "scale")
        .annotate(total=Sum("value"), n=Count("id"))
        .order_by()
    }

    scales = sorted({(c, s) for _p, c, s in baseline_n}, key=_instrument_order)
    baseline_sds = service_baseline_sds(service_id, scales)
    comparison = []
    for code, scale in scales:
        row = {
            "code": code,
            "scale": scale,
            "label": scale_label(code, scale),
            "higher_is": get_instrument(code).scale(scale).higher_is,
            "programmes": [],
        }
        for key in programmes:
            pairs = pairs_by_programme.get((key, code, scale), [])
            with_baseline = baseline_n.get((key, code, scale), 0)
            left_out = {
                "no baseline score": started_by_programme[key] - with_baseline,
                "no end-of-programme score": with_baseline - len(pairs),
            }
            result = stats.paired_change(
                code,
                scale,
                pairs,
                left_out={k: v for k, v in left_out.items() if v},
                baseline_sd=baseline_sds.get((code, scale)),
            )
            row["programmes"].append(
                {
                    "key": key,
                    "name": programme_names[key],
                    "result": result,
                    "cells": change_cells(result, small=True, min_n=stats.MIN_PAIRED),
                }
            )
        comparison.append(row)

    cohort_rows = []
    for cohort in cohorts:
        counts = enrolment_counts.get(cohort["id"], Counter())
        att = attendance.get(cohort["id"], {"recorded": 0, "attended": 0})
        comp = completion.get(cohort["id"], {"completed": 0, "closed": 0})
        cohort_rows.append(
            {
                **cohort,
                "status": COHORT_STATUSES[cohort_status(cohort["start_date"], today)],
                "started": sum(counts[s] for s in STARTED),
                "active": counts[Enrolment.Status.ACTIVE],
                "completed": counts[Enrolment.Status.COMPLETED],
                "left": counts[Enrolment.Status.WITHDRAWN] + counts[Enrolment.Status.DISCHARGED],
                "attendance_rate": stats.share(att["attended"], att["recorded"]),
                "completion_rate": stats.share(comp["completed"], comp["closed"]),
                "headline": stats.paired_change(*HEADLINE, headline_pairs.get(cohort["id"], [])),
            }
        )

    return {
        "cohorts": cohort_rows,
        "cohort_ids": cohort_ids,
        "comparison": comparison,
        "programmes": [(k, programme_names[k]) for k in programmes],
        "service_use": [
            {
                "key": k,
                "name": programme_names[k],
                **_totals_service_use(k, totals, started_by_programme[k]),
            }
            for k in programmes
        ],
        "occupation": [
            {
                "key": k,
                "name": programme_names[k],
                **_totals_occupation(k, totals, started_by_programme[k]),
            }
            for k in programmes
        ],
        "headline_label": scale_label(*HEADLINE),
        "comparison_timepoint": "end of programme (week 52)",
    }


def _pair_counts(cohort_ids: list[int], *, by: str, only: tuple[str, str] | None = None):
    """(programme key or cohort id, code, scale, before, after or None, count) rows.

    A self-join written in SQL: the ORM's correlated-subquery form of it took seconds on a
    large service, where this join takes a fraction of one.
    """
    if not cohort_ids:
        return []
    score, admin = Score._meta.db_table, Administration._meta.db_table
    timepoint, enrolment = Timepoint._meta.db_table, Enrolment._meta.db_table
    cohort, programme = Cohort._meta.db_table, Programme._meta.db_table
    group = "p.key" if by == "programme" else "c.id"
    params: list = [
        COMPARISON_TIMEPOINT,
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
        SELECT {group}, a0.instrument_code, s0.scale, s0.value, s1.value, COUNT(*)
        FROM {score} s0
        JOIN {admin} a0 ON a0.id = s0.administration_id
        JOIN {timepoint} t0 ON t0.id = a0.timepoint_id
        JOIN {enrolment} e ON e.id = a0.enrolment_id
        JOIN {cohort} c ON c.id = e.cohort_id
        JOIN {programme} p ON p.id = c.programme_id
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
          AND c.id IN ({", ".join(["%s"] * len(cohort_ids))}){extra}
        GROUP BY {group}, a0.instrument_code, s0.scale, s0.value, s1.value
    """  # noqa: S608 (table names come from the models; every value is a parameter)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _totals_service_use(programme: str, totals: dict, started: int) -> dict:
    periods = []
    for key, label in SERVICE_USE_PERIODS:
        rows = {s: totals.get((programme, key, s)) for s in SERVICE_USE_SCALES}
        people = max((r["n"] for r in rows.values() if r), default=0)
        rates = {}
        for scale, row in rows.items():
            events, years = (row["total"], float(row["n"])) if row else (0.0, 0.0)
            rates[scale] = {
                "events": events,
                "person_years": years,
                "rate": stats.rate_per_person_year(events, years),
            }
        periods.append(
            {
                "key": key,
                "label": label,
                "people": people,
                "left_out": started - people,
                "rates": rates,
            }
        )
    return {"periods": periods, "scales": [(s, _service_use_label(s)) for s in SERVICE_USE_SCALES]}


def _totals_occupation(programme: str, totals: dict, started: int) -> dict:
    rows = []
    for key, label in OCCUPATION_TIMEPOINTS:
        engaged = totals.get((programme, key, "engaged"))
        answered = engaged["n"] if engaged else 0
        counts = {
            flag: int((totals.get((programme, key, flag)) or {"total": 0})["total"] or 0)
            for flag in OCCUPATION_FLAGS
        }
        rows.append(
            {
                "key": key,
                "label": label,
                "answered": answered,
                "left_out": started - answered,
                "shares": {f: stats.share(n, answered) for f, n in counts.items()},
                "counts": counts,
            }
        )
    return {
        "timepoints": rows,
        "flags": [(f, get_instrument(OCCUPATION).scale(f).label) for f in OCCUPATION_FLAGS],
    }


def _programme_order(key: str) -> tuple[int, str]:
    return (0 if key == "cfgp-52" else 1, key)


_INSTRUMENT_ORDER = [
    "core10",
    "coreom",
    "phq9",
    "gad7",
    "dass21",
    "wsas",
    "fscrs",
    "fcs",
    "oas",
    "ssps",
    "scssf",
    "swemwbs",
    "itq",
]


def _instrument_order(cs: tuple[str, str]) -> tuple[int, int]:
    code, scale = cs
    position = _INSTRUMENT_ORDER.index(code) if code in _INSTRUMENT_ORDER else 99
    return (position, get_instrument(code).scale_keys.index(scale))


# --------------------------------------------------------------------------- exports


def export_scores(enrolments_qs):
    return (
        Score.objects.filter(
            administration__enrolment__in=enrolments_qs,
            administration__status=Administration.Status.COMPLETED,
        )
        .values_list(
            "administration__enrolment__participant_id",
            "administration__enrolment__cohort__name",
            "administration__enrolment__cohort__programme__key",
            "administration__timepoint__key",
            "administration__timepoint__week",
            "administration__completed_at",
            "administration__instrument_code",
            "scale",
            "value",
            "band",
            "not_scored_reason",
        )
        .order_by(
            "administration__enrolment__cohort__start_date",
            "administration__enrolment_id",
            "administration__timepoint__week",
            "administration__instrument_code",
            "scale",
        )
    )


def export_attendance(enrolments_qs):
    return (
        Attendance.objects.filter(enrolment__in=enrolments_qs)
        .values_list(
            "enrolment__participant_id",
            "session__cohort__name",
            "session__number",
            "session__week",
            "session__date",
            "session__phase__name",
            "session__status",
            "status",
        )
        .order_by("session__cohort__start_date", "enrolment_id", "session__number")
    )


def export_people(enrolments_qs) -> dict[int, dict]:
    return {
        row["participant_id"]: row
        for row in enrolments_qs.values(
            "participant_id",
            "participant__reference",
            "participant__given_name",
            "participant__family_name",
            "participant__date_of_birth",
            "participant__nhs_number",
        )
    }
