"""Reads for the dashboards: flat rows from a fixed number of queries, figures in Python.

No query here depends on the number of participants, sessions or cohorts: each function
fetches flat rows (values()/values_list()) or database aggregates once and computes the rest
in memory, so a page's query count stays pinned whatever the size of the data.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q, StdDev
from django.utils import timezone

from dashboards import stats
from measures.definitions import get_instrument
from measures.models import Administration, Score, Timepoint
from programmes.models import Attendance, Cohort, Enrolment, GroupSession

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


def service_baseline_sds(service_id: int, scales: list[tuple[str, str]]) -> dict:
    """The service's own baseline SD for scales whose RCI is computed from it (one query)."""
    wanted = [(c, s) for c, s in scales if stats.needs_baseline_sd(c, s)]
    if not wanted:
        return {}
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
    return {
        (row["administration__instrument_code"], row["scale"]): row["sd"]
        for row in rows
        if row["sd"]
    }


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
                person.cells.append(
                    (ATTENDANCE_CODES[status], Attendance.Status(status).label.lower())
                )
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
        weeks.append({"week": week, "date": date, "enrolled": still})
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
    """Everything the cohort dashboard shows, from eight queries."""
    today = today or timezone.localdate()
    people = _people(cohort, show_names)
    counted = [p for p in people if p.status in STARTED]
    counted_ids = [p.enrolment_id for p in counted]
    attendance = _attendance(cohort, people)
    retention = _retention(cohort, people, today)

    timepoints = list(
        Timepoint.objects.filter(programme_id=cohort.programme_id)
        .values("id", "key", "name", "week", "instruments")
        .order_by("week")
    )
    admin_rows = list(
        Administration.objects.filter(enrolment__cohort=cohort).values_list(
            "enrolment_id", "timepoint_id", "instrument_code", "status"
        )
    )
    score_rows = Score.objects.filter(
        administration__enrolment__cohort=cohort,
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
            {"code": code, "scale": scale, "label": scale_label(code, scale), "cells": cells}
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
                }
            )

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


def service_dashboard(service_id: int, *, programme=None, year=None, status=None, today=None):
    """Every cohort side by side and the two programmes compared, from seven queries."""
    today = today or timezone.localdate()
    cohorts_qs = service_cohorts(
        service_id, programme=programme, year=year, status=status, today=today
    )
    cohorts = list(
        cohorts_qs.values(
            "id", "name", "start_date", "programme__key", "programme__name", "programme_id"
        ).order_by("-start_date", "name")
    )
    cohort_ids = [c["id"] for c in cohorts]

    enrolment_counts = defaultdict(Counter)
    for cohort_id, status_, n in (
        Enrolment.objects.filter(cohort_id__in=cohorts_qs.values("id"))
        .values_list("cohort_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        enrolment_counts[cohort_id][status_] = n

    attendance = {
        row["enrolment__cohort_id"]: row
        for row in Attendance.objects.filter(enrolment__cohort_id__in=cohorts_qs.values("id"))
        .exclude(enrolment__status=Enrolment.Status.REFERRED)
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
        for row in Administration.objects.filter(enrolment__cohort_id__in=cohorts_qs.values("id"))
        .values("enrolment__cohort_id")
        .annotate(
            completed=Count("id", filter=Q(status=S.COMPLETED)),
            closed=Count("id", filter=Q(status__in=[S.COMPLETED, S.EXPIRED, S.MISSED])),
        )
        .order_by()
    }

    # Baseline and end-of-programme scores for the programme comparison and the cohorts'
    # headline change, as flat rows.
    score_rows = (
        Score.objects.filter(
            administration__enrolment__cohort_id__in=cohorts_qs.values("id"),
            administration__status=S.COMPLETED,
            administration__enrolment__status__in=STARTED,
        )
        .filter(
            Q(administration__timepoint__key__in=[BASELINE, COMPARISON_TIMEPOINT])
            | Q(
                administration__timepoint__key="week104",
                administration__instrument_code__in=NON_SCALE_INSTRUMENTS,
            )
        )
        .values_list(
            "administration__enrolment_id",
            "administration__enrolment__cohort_id",
            "administration__timepoint__key",
            "administration__instrument_code",
            "scale",
            "value",
        )
    )
    cohort_programme = {c["id"]: c["programme__key"] for c in cohorts}
    programme_names = {c["programme__key"]: c["programme__name"] for c in cohorts}
    values: dict = {}
    enrolment_cohort: dict[int, int] = {}
    scales_seen: list[tuple[str, str]] = []
    for enrolment_id, cohort_id, tp_key, code, scale, value in score_rows:
        enrolment_cohort[enrolment_id] = cohort_id
        if value is not None:
            values[(enrolment_id, tp_key, code, scale)] = value
        if code not in NON_SCALE_INSTRUMENTS and (code, scale) not in scales_seen:
            scales_seen.append((code, scale))
    scales_seen.sort(key=lambda cs: _instrument_order(cs))

    baseline_by_scale = defaultdict(list)
    for (_e, tp_key, code, scale), value in values.items():
        if tp_key == BASELINE and code not in NON_SCALE_INSTRUMENTS:
            baseline_by_scale[(code, scale)].append(value)
    baseline_sds = {k: stats.sample_sd(v) for k, v in baseline_by_scale.items()}

    started_by_programme = defaultdict(list)
    started_by_cohort = defaultdict(list)
    for enrolment_id, cohort_id in enrolment_counts_ids(cohorts_qs):
        started_by_cohort[cohort_id].append(enrolment_id)
        started_by_programme[cohort_programme[cohort_id]].append(enrolment_id)

    comparison = []
    for code, scale in scales_seen:
        row = {
            "code": code,
            "scale": scale,
            "label": scale_label(code, scale),
            "higher_is": get_instrument(code).scale(scale).higher_is,
            "programmes": [],
        }
        for key in sorted(started_by_programme, key=_programme_order):
            pairs, left_out = _service_pairs(
                started_by_programme[key], code, scale, COMPARISON_TIMEPOINT, values
            )
            row["programmes"].append(
                {
                    "key": key,
                    "name": programme_names[key],
                    "result": stats.paired_change(
                        code,
                        scale,
                        pairs,
                        left_out=left_out,
                        baseline_sd=baseline_sds.get((code, scale)),
                    ),
                }
            )
        comparison.append(row)

    headline = ("core10", "total")
    cohort_rows = []
    for cohort in cohorts:
        counts = enrolment_counts.get(cohort["id"], Counter())
        started = sum(counts[s] for s in STARTED)
        att = attendance.get(cohort["id"], {"recorded": 0, "attended": 0})
        comp = completion.get(cohort["id"], {"completed": 0, "closed": 0})
        pairs, _ = _service_pairs(
            started_by_cohort[cohort["id"]], *headline, COMPARISON_TIMEPOINT, values
        )
        headline_change = stats.paired_change(*headline, pairs)
        cohort_rows.append(
            {
                **cohort,
                "status": COHORT_STATUSES[cohort_status(cohort["start_date"], today)],
                "started": started,
                "active": counts[Enrolment.Status.ACTIVE],
                "completed": counts[Enrolment.Status.COMPLETED],
                "left": counts[Enrolment.Status.WITHDRAWN] + counts[Enrolment.Status.DISCHARGED],
                "attendance_rate": stats.share(att["attended"], att["recorded"]),
                "completion_rate": stats.share(comp["completed"], comp["closed"]),
                "headline": headline_change,
            }
        )

    return {
        "cohorts": cohort_rows,
        "cohort_ids": cohort_ids,
        "comparison": comparison,
        "programmes": [
            (k, programme_names[k]) for k in sorted(started_by_programme, key=_programme_order)
        ],
        "service_use": _programme_service_use(started_by_programme, values, programme_names),
        "occupation": _programme_occupation(started_by_programme, values, programme_names),
        "headline_label": scale_label(*headline),
        "comparison_timepoint": "end of programme (week 52)",
    }


def enrolment_counts_ids(cohorts_qs) -> list[tuple[int, int]]:
    return list(
        Enrolment.objects.filter(cohort_id__in=cohorts_qs.values("id"), status__in=STARTED)
        .values_list("id", "cohort_id")
        .order_by()
    )


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


def _service_pairs(enrolment_ids, code, scale, later_key, values):
    pairs, left_out = [], Counter()
    for e in enrolment_ids:
        before = values.get((e, BASELINE, code, scale))
        after = values.get((e, later_key, code, scale))
        if before is None:
            left_out["no baseline score"] += 1
        elif after is None:
            left_out["no end-of-programme score"] += 1
        else:
            pairs.append((before, after))
    return pairs, dict(left_out)


def _programme_service_use(started_by_programme, values, names) -> list[dict]:
    rows = []
    for key in sorted(started_by_programme, key=_programme_order):
        ids = started_by_programme[key]
        rows.append(
            {"key": key, "name": names[key], **_service_use(ids, values, {}), "people": len(ids)}
        )
    return rows


def _programme_occupation(started_by_programme, values, names) -> list[dict]:
    rows = []
    for key in sorted(started_by_programme, key=_programme_order):
        ids = started_by_programme[key]
        rows.append({"key": key, "name": names[key], **_occupation(ids, values)})
    return rows


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
