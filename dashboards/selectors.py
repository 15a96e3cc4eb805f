"""Reads for the dashboards: a fixed number of queries, figures in Python.

What is rendered and cached, and when, is dashboards.pages; the exports' reads are in
dashboards.exports.

No query here depends on the number of participants, sessions or cohorts: each function
fetches flat rows (values()/values_list()) or database aggregates once and computes the rest
in memory, so a page's query count stays pinned whatever the size of the data.
"""

from __future__ import annotations

import datetime
import functools
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from dashboards import figures, mixed_model, stats, suppression
from dashboards.tables import (
    change_cells,
    change_rows,
    grid_cells,
    mean_rows,
    retention_rows,
    scale_view_rows,
    service_cohort_rows,
    session_head,
)
from measures.definitions import get_instrument
from measures.models import Administration, Score, Timepoint
from programmes.models import (
    Attendance,
    Cohort,
    Enrolment,
    GroupSession,
    counts_for_enrolment,
    is_held,
)

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


def improvement(value: float | None, higher_is: str) -> float | None:
    """A change or effect size on one axis for every scale: above 0 is an improvement."""
    if value is None:
        return None
    return -value if higher_is == "worse" else value


def own_sd(baseline_sds: dict, code: str, scale: str) -> dict:
    """paired_change's keywords for the service's own baseline SD of one scale."""
    sd, n = baseline_sds.get((code, scale), (None, 0))
    return {"baseline_sd": sd, "baseline_n": n}


def rci_notes(scales: list[tuple[str, str]], baseline_sds: dict) -> list[dict]:
    """For each scale shown: how its reliable change index was reached, in words."""
    return [
        {
            "label": scale_label(code, scale),
            "basis": stats.rci_basis(code, scale, *baseline_sds.get((code, scale), (None, 0))).text,
        }
        for code, scale in scales
    ]


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
    grid: str = ""


def cohort_people(cohort: Cohort, show_names: bool) -> list[Person]:
    rows = (
        Enrolment.objects.counted()
        .filter(cohort=cohort)
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


_CANCELLED_CELL = ("X", "session cancelled")
_UNRECORDED_CELL = ("", "not recorded")
_CELLS = {status: (code, ATTENDANCE_MEANINGS[status]) for status, code in ATTENDANCE_CODES.items()}
# A mark kept on a session after the person left, or on one not yet held: shown, not counted.
_UNCOUNTED_CELLS = {
    status: (code, f"{ATTENDANCE_MEANINGS[status]} (not counted)")
    for status, code in ATTENDANCE_CODES.items()
}
_ATTENDED = frozenset(Attendance.ATTENDED)


def cohort_register(
    cohort: Cohort, ended_on: dict[int, datetime.date | None], today: datetime.date
) -> dict:
    """The register grid and attendance by phase, by enrolment id (no names), in one pass.

    `ended_on` maps each enrolment id to the day it ended (or None). Only held sessions
    (programmes.models.held_q) count, and each person's only up to the day they left.
    {"attendance": sessions, header, phases and totals; "people": {enrolment id:
    (attended, recorded, the grid row's cells as HTML)}}.
    """
    enrolment_ids = list(ended_on)
    sessions = list(
        GroupSession.objects.filter(cohort=cohort)
        .values(
            "id",
            "number",
            "week",
            "date",
            "status",
            "register_taken_at",
            "phase__name",
            "phase__order",
        )
        # By date: a make-up session is numbered last but meets where its date puts it.
        .order_by("date", "number")
    )
    # By enrolment id: the enrolment index finds these rows without a join on the session.
    marks: dict[int, dict[int, str]] = {e: {} for e in enrolment_ids}
    for session_id, enrolment_id, status in (
        Attendance.objects.filter(enrolment_id__in=enrolment_ids)
        .values_list("session_id", "enrolment_id", "status")
        .order_by()
    ):
        marks[enrolment_id][session_id] = status
    # [enrolment id, attended, recorded, cells]
    rows = [[e, 0, 0, []] for e in enrolment_ids]
    phases: dict[str, dict] = {}
    for session in sessions:
        session["label"] = f"Session {session['number']}, {_day(session['date'])}"
        taken = session.pop("register_taken_at") is not None
        phase = phases.get(session["phase__name"])
        if phase is None:
            phase = phases[session["phase__name"]] = {
                "name": session["phase__name"],
                "order": session["phase__order"],
                "sessions": 0,
                "registers": 0,
                "attended": 0,
                "recorded": 0,
            }
        if session["status"] == GroupSession.Status.CANCELLED:
            for row in rows:
                row[3].append(_CANCELLED_CELL)
            continue
        held = is_held(
            date=session["date"],
            status=session["status"],
            register_taken=taken,
            today=today,
        )
        phase["sessions"] += held
        session_id, recorded, attended = session["id"], 0, 0
        for row in rows:
            status = marks[row[0]].get(session_id)
            if status is None:
                row[3].append(_UNRECORDED_CELL)
                continue
            if not (held and counts_for_enrolment(session["date"], ended_on[row[0]])):
                row[3].append(_UNCOUNTED_CELLS[status])
                continue
            row[3].append(_CELLS[status])
            recorded += 1
            row[2] += 1
            if status in _ATTENDED:
                attended += 1
                row[1] += 1
        phase["recorded"] += recorded
        phase["attended"] += attended
        phase["registers"] += int(recorded > 0)
    phase_rows = sorted(phases.values(), key=lambda p: p["order"])
    for phase in phase_rows:
        phase["rate"] = stats.share(phase["attended"], phase["recorded"])
    recorded = sum(p["recorded"] for p in phase_rows)
    attended = sum(p["attended"] for p in phase_rows)
    return {
        "attendance": {
            "sessions": sessions,
            "head": session_head(sessions),
            "phases": phase_rows,
            "overall_rate": stats.share(attended, recorded),
            "attended": attended,
            "recorded": recorded,
        },
        "people": {e: (a, r, grid_cells(cells)) for e, a, r, cells in rows},
    }


def cohort_retention(cohort: Cohort, people: list[Person], today: datetime.date) -> dict:
    started = [p for p in people if p.status in STARTED]
    weeks = []
    for week in range(1, 53):
        date = cohort.week_date(week)
        if date > today:
            break
        # Counted by the day each person actually left (ended_on, however late it was
        # recorded); someone who completed stayed to the end, even when the last session
        # came before week 52's date.
        still = sum(
            1
            for p in started
            if p.enrolled_on <= date
            and (p.ended_on is None or p.ended_on >= date or p.status == Enrolment.Status.COMPLETED)
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
        "rows": retention_rows(weeks),
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


def programme_timepoints(programme_id: int) -> list[dict]:
    return list(
        Timepoint.objects.filter(programme_id=programme_id)
        .values("id", "key", "name", "week", "instruments")
        .order_by("week")
    )


def _scores(enrolment_ids: list[int]) -> tuple[dict, dict]:
    """The completed scores of these enrolments, indexed as _score_index does."""
    return _score_index(
        Score.objects.filter(
            administration__enrolment_id__in=enrolment_ids,
            administration__status=Administration.Status.COMPLETED,
        )
        .values_list(
            "administration__enrolment_id",
            "administration__timepoint__key",
            "administration__instrument_code",
            "scale",
            "value",
        )
        .order_by()
    )


def cohort_outcomes(
    counted_ids: list[int],
    enrolment_ids: list[int],
    timepoints: list[dict],
    scales: list[tuple[str, str]],
    baseline_sds: dict,
    view: str,
    *,
    every_timepoint: list[dict] | None = None,
    fit_models: bool = True,
) -> dict:
    """The cohort's figures without names, from two queries.

    `every_timepoint` is the scales' mixed models, completers and LOCF if already worked
    out for this version of the data (they do not depend on the view); else they are
    worked out if `fit_models`, and left None (being worked out) if not.
    """
    # Administrations and scores by enrolment id: on a large service the planner finds
    # them through the enrolment index faster than through a join on the cohort.
    admin_rows = list(
        Administration.objects.filter(enrolment_id__in=enrolment_ids)
        .values_list("enrolment_id", "timepoint_id", "instrument_code", "status")
        .order_by()
    )
    values, not_scored = _scores(enrolment_ids)

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
    # For the scatter: each scale's change by enrolment id (no names) at its target, the
    # end of the programme when that timepoint asks for the scale, else the last one.
    changes_by_person = {}
    for code, scale in scales:
        asked = [tp for tp in later if code in tp["instruments"]]
        by_timepoint = {}
        for tp in asked:
            pairs, left_out, owners = _pairs(
                counted_ids, code, scale, tp, timepoints, values, not_scored, view
            )
            by_timepoint[tp["key"]] = {
                "timepoint": tp,
                "changes": [(e, a - b) for (b, a), e in zip(pairs, owners, strict=True)],
                "left_out": len(counted_ids) - len(pairs),
            }
            result = stats.paired_change(
                code, scale, pairs, left_out=left_out, **own_sd(baseline_sds, code, scale)
            )
            changes.append(
                {
                    "code": code,
                    "scale": scale,
                    "label": scale_label(code, scale),
                    "timepoint": tp,
                    "higher_is": get_instrument(code).scale(scale).higher_is,
                    "result": result,
                    "cells": change_cells(result, min_n=stats.MIN_PAIRED),
                }
            )
        if by_timepoint:
            changes_by_person[f"{code}.{scale}"] = _scatter_target(by_timepoint)
    return {
        "completion": _completion(timepoints, admin_rows),
        "means": means,
        "changes": changes,
        "change_rows": change_rows(changes),
        "service_use": _service_use(counted_ids, values, not_scored),
        "occupation": _occupation(counted_ids, values),
        "changes_by_person": changes_by_person,
        "rci_notes": rci_notes(scales, baseline_sds),
        "every_timepoint": (
            _cohort_scale_views(counted_ids, timepoints, scales, values)
            if every_timepoint is None and fit_models
            else every_timepoint
        ),
    }


def _scale_views_entry(code: str, scale: str, views: dict, show=None) -> dict:
    """One scale's mixed model, completers and LOCF views, as the pages show them."""
    extra = {} if show is None else {"show": show}
    return {
        "code": code,
        "scale": scale,
        "label": scale_label(code, scale),
        "higher_is": get_instrument(code).scale(scale).higher_is,
        "views": views,
        "view_list": [views[kind] for kind in mixed_model.VIEW_ORDER],
        "rows": scale_view_rows(views, min_n=stats.MIN_PAIRED, **extra),
    }


def _cohort_scale_views(
    counted_ids: list[int], timepoints: list[dict], scales: list[tuple[str, str]], values: dict
) -> list[dict]:
    """Each scale across every timepoint it is asked at, three ways (dashboards.mixed_model),
    from the scores already read: no query of its own."""
    counted = set(counted_ids)
    by_scale: dict[tuple[str, str], list] = defaultdict(list)
    for (enrolment_id, tp_key, code, scale), value in values.items():
        if enrolment_id in counted:
            by_scale[(code, scale)].append((enrolment_id, tp_key, value))
    entries = []
    for code, scale in scales:
        asked = [tp for tp in timepoints if code in tp["instruments"]]
        # A scale nobody has answered yet has nothing to show.
        if not asked or asked[0]["key"] != BASELINE or not by_scale.get((code, scale)):
            continue
        views = mixed_model.scale_views(
            by_scale.get((code, scale), []),
            [tp["key"] for tp in asked],
            {tp["key"]: tp["name"] for tp in asked},
        )
        entries.append(_scale_views_entry(code, scale, views))
    return entries


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


def _scatter_target(by_timepoint: dict) -> dict:
    """The end of the programme when anyone has both scores there; else the latest
    timepoint where someone does (a running cohort has end-of-preparation pairs long
    before week 52); else the end of the programme or the last timepoint."""
    with_pairs = [found for found in by_timepoint.values() if found["changes"]]
    if "week52" in by_timepoint and by_timepoint["week52"]["changes"]:
        return by_timepoint["week52"]
    if with_pairs:
        return with_pairs[-1]
    return by_timepoint.get("week52") or list(by_timepoint.values())[-1]


def association_sentence(correlation: stats.Correlation, higher_is: str) -> str:
    """What a correlation between sessions attended and change says, in the scale's own
    direction: "improved" and "worsened", never "higher" or "lower"."""
    if not correlation.enough:
        return ""
    if correlation.low <= 0 <= correlation.high:
        return (
            "The 95% confidence interval includes no association at all, so these figures "
            "show no clear link between sessions attended and how much people improved."
        )
    improved_more = (correlation.r < 0) == (higher_is == "worse")
    if improved_more:
        return "People who attended more sessions tended to have improved more."
    return "People who attended more sessions tended to have improved less, or worsened."


def cohort_scatter(chosen: str | None, people: list[Person], changes_by_person: dict) -> dict:
    """Sessions attended against change on one scale, person by person."""
    found = changes_by_person.get(chosen) if chosen else None
    if found is None:
        return {"scale": chosen, "points": []}
    by_id = {p.enrolment_id: p for p in people}
    points = [
        {"label": by_id[e].label, "attended": by_id[e].attended, "change": change}
        for e, change in found["changes"]
    ]
    correlation = stats.correlation([p["attended"] for p in points], [p["change"] for p in points])
    code, scale = chosen.split(".")
    return {
        "scale": chosen,
        "label": scale_label(code, scale),
        "timepoint": found["timepoint"],
        "points": points,
        "left_out": found["left_out"],
        "correlation": correlation,
        "sentence": association_sentence(correlation, get_instrument(code).scale(scale).higher_is),
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


HEADLINE = ("core10", "total")


def service_dashboard(
    service_id: int,
    *,
    programme=None,
    year=None,
    status=None,
    today=None,
    versions=None,
    models_key: str | None = None,
    fit_models: bool = True,
):
    """Every cohort side by side and the two programmes compared, from a few queries.

    The cohorts and their figures pooled by programme (dashboards.figures): for the
    unfiltered page the service's stored pool, which reads only the cohorts changed since
    it was stored; for a filtered one, the filtered cohorts' stored figures pooled afresh.
    While any cohort's figures are stale, a batch of queries recomputes them first.
    `versions` are those of all the service's cohorts, if the caller has read them; the
    service's baseline SDs are cached under them. The mixed models are read from the cache
    under `models_key`, and fitted only if `fit_models` (figures.arm_scale_views);
    "every_timepoint" is None while they are being worked out.
    Scores arrive as distinct (before, after) pairs with their counts, so the work here
    depends on the spread of scores, not on the number of participants.
    """
    today = today or timezone.localdate()
    selected = service_cohorts(
        service_id, programme=programme, year=year, status=status, today=today
    )
    cohorts = list(
        selected.values("id", "name", "start_date", "programme__key", "programme__name").order_by(
            "-start_date", "name"
        )
    )
    programme_of = {c["id"]: c["programme__key"] for c in cohorts}
    whole_service = None
    if programme is None and year is None and status is None:
        # Every cohort: the service's stored pool, brought up to date one changed cohort
        # at a time.
        if versions is None:
            versions = figures.current_versions(Cohort.objects.filter(service_id=service_id))
        pool = whole_service = figures.service_pool(service_id, versions, programme_of)
    else:
        stored = figures.current_figures(selected)
        pool = figures.pool_of({i: (key, stored[i]) for i, key in programme_of.items()})
    cohort_ids = [c["id"] for c in cohorts]
    programme_names = {c["programme__key"]: c["programme__name"] for c in cohorts}
    programmes = sorted(programme_names, key=_programme_order)

    started_by_programme: Counter = Counter()
    # {(programme, code, scale): {(before, after): how many people}}
    pairs_by_programme: dict = defaultdict(dict)
    baseline_n: Counter = Counter()
    later_pairs: dict = defaultdict(dict)
    totals: dict = defaultdict(lambda: {"total": 0.0, "n": 0})
    for key, prog in pool["programmes"].items():
        started_by_programme[key] += sum(prog["enrolments"].get(s, 0) for s in STARTED)
        for scale_key, counts in prog["pairs"].items():
            code, scale = scale_key.split(".")
            pairs = pairs_by_programme[(key, code, scale)]
            for pair, n in counts.items():
                before, after = figures.pair_of(pair)
                baseline_n[(key, code, scale)] += n
                if after is not None:
                    pairs[(before, after)] = n
        for tp_key, by_scale in prog["later"].items():
            for scale_key, counts in by_scale.items():
                code, scale = scale_key.split(".")
                later_pairs[(key, tp_key, code, scale)] = {
                    figures.pair_of(pair): n for pair, n in counts.items()
                }
        for total_key, (total, n) in prog["totals"].items():
            tp_key, _code, scale = total_key.split(".")
            row = totals[(key, tp_key, scale)]
            row["total"] += total
            row["n"] += n

    scales = sorted({(c, s) for _p, c, s in baseline_n}, key=_instrument_order)
    baseline_sds = figures.service_baseline_sds(
        service_id,
        None if versions is None else figures.digest(versions),
        pool=whole_service,
    )
    comparison = []
    for code, scale in scales:
        for tp_key, tp_name in COMPARISON_TIMEPOINTS:
            if tp_key == figures.COMPARISON_TIMEPOINT:
                found = pairs_by_programme
            else:
                found = {(p, c, s): v for (p, t, c, s), v in later_pairs.items() if t == tp_key}
            # Every timepoint the data allows: some arm has someone with both scores.
            if tp_key != figures.COMPARISON_TIMEPOINT and not any(
                found.get((key, code, scale)) for key in programmes
            ):
                continue
            comparison.append(
                _comparison_row(
                    code,
                    scale,
                    (tp_key, tp_name),
                    programmes,
                    programme_names,
                    found,
                    baseline_n,
                    started_by_programme,
                    baseline_sds,
                )
            )
    comparison.sort(key=lambda r: (_instrument_order((r["code"], r["scale"])), r["order"]))
    arm_views = figures.arm_scale_views(cohorts, models_key, fit=fit_models)
    every_timepoint = (
        None
        if arm_views is None
        else [
            {
                "key": key,
                "name": programme_names[key],
                "scales": [
                    {"code": code, "scale": scale, "views": arm_views[(key, code, scale)]}
                    for code, scale in scales
                    if (key, code, scale) in arm_views
                ],
            }
            for key in programmes
        ]
    )

    cohort_rows = []
    pooled = {"recorded": 0, "attended": 0, "completed": 0, "closed": 0}
    for cohort in cohorts:
        found = pool["cohorts"][str(cohort["id"])]
        pooled["recorded"] += found["attendance"][0]
        pooled["attended"] += found["attendance"][1]
        pooled["completed"] += found["completion"][0]
        pooled["closed"] += found["completion"][1]
        counts = Counter(found["enrolments"])
        recorded, attended = found["attendance"]
        completed, closed = found["completion"]
        cohort_rows.append(
            {
                **cohort,
                "status": COHORT_STATUSES[cohort_status(cohort["start_date"], today)],
                "started": sum(counts[s] for s in STARTED),
                "active": counts[Enrolment.Status.ACTIVE],
                "completed": counts[Enrolment.Status.COMPLETED],
                "left": counts[Enrolment.Status.WITHDRAWN] + counts[Enrolment.Status.DISCHARGED],
                "attendance_rate": stats.share(attended, recorded),
                "completion_rate": stats.share(completed, closed),
                "headline": _cohort_headline(tuple(sorted(map(tuple, found["headline"])))),
            }
        )

    page = {
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
        "rci_notes": rci_notes(scales, baseline_sds),
        "comparison_timepoint": "end of programme (week 52)",
        "every_timepoint": every_timepoint,
    }
    page["pooled"] = pooled
    page["hidden"] = _suppress(page)
    # One reverse() for the table's thousand links, not one each.
    link = reverse("dashboards:cohort", args=[_LINK_ID])
    page["cohort_rows"] = service_cohort_rows(
        cohort_rows, lambda pk: link.replace(str(_LINK_ID), str(pk))
    )
    page["summary"] = service_summary(page)
    return page


_LINK_ID = 987654321


@functools.lru_cache(maxsize=4096)
def _pooled_change(code, scale, pairs, left_out, *, baseline_sd, baseline_n) -> stats.PairedChange:
    # Each arm's change on one scale at one timepoint, from its counted pairs: after one
    # cohort changes, most scales' pairs are those of the last drawing, worked out then.
    # (Read, never changed, by pages.)
    return stats.paired_change(
        code,
        scale,
        dict(pairs),
        left_out=dict(left_out),
        baseline_sd=baseline_sd,
        baseline_n=baseline_n,
    )


@functools.lru_cache(maxsize=16384)
def _cohort_headline(pairs: tuple[tuple[float, float, int], ...]) -> stats.PairedChange:
    # A cohort's change on the headline measure depends on its pairs alone, and a service
    # page shows a thousand cohorts of which one has changed since it was last drawn: each
    # is worked out once per process for the pairs it has. (Read, never changed, by pages.)
    return stats.paired_change(*HEADLINE, {(b, a): n for b, a, n in pairs})


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _primary_item(result, shown, where: str, href: str) -> dict:
    label = f"Reliable change on {scale_label(*HEADLINE)} ({where})"
    if not result.enough or not result.categories or shown("n", result.n) != result.n:
        return {"label": label, "value": "not enough data", "href": href}
    improved = shown(stats.RELIABLE_IMPROVEMENT, result.reliable_improvement)
    worse = shown(stats.RELIABLE_DETERIORATION, result.reliable_deterioration)
    return {
        "label": label,
        "value": f"{improved} of {result.n} improved reliably; {worse} deteriorated reliably",
        "href": href,
    }


def _service_use_item(periods: list[dict], hidden_when, where: str) -> dict:
    """Inpatient bed days per person-year in the 12 months before and during."""
    by_key = {p["key"]: p for p in periods}
    before, during = by_key.get("baseline"), by_key.get("week52")
    label = (
        f"{_service_use_label('inpatient_bed_days')} per person-year, before and during ({where})"
    )
    if not before or not during or hidden_when(before) or hidden_when(during):
        value = "not enough data"
    else:
        value = (
            f"{_rate(before['rates']['inpatient_bed_days']['rate'])} before, "
            f"{_rate(during['rates']['inpatient_bed_days']['rate'])} during"
        )
    return {"label": label, "value": value, "href": "#service-use"}


def service_summary(page: dict) -> list[dict]:
    """The handful of figures a service is judged on, each linking to its section."""
    hidden = page["hidden"]
    started = suppression.shown(
        sum(c["started"] for c in page["cohorts"]), ("summary", "started"), hidden
    )
    engaged = suppression.shown(
        sum(c["active"] + c["completed"] for c in page["cohorts"]), ("summary", "engaged"), hidden
    )
    pooled = page["pooled"]
    # A rate is hidden with the number of people it is about.
    few = ("summary", "started") in hidden
    rate_of = (
        (lambda _n, _d: suppression.SUPPRESSED) if few else (lambda n, d: _pct(stats.share(n, d)))
    )
    items = [
        {"label": "People who started", "value": started, "href": "#cohorts"},
        {"label": "Still taking part or completed", "value": engaged, "href": "#cohorts"},
        {
            "label": "Attendance (sessions attended of those recorded)",
            "value": rate_of(pooled["attended"], pooled["recorded"]),
            "href": "#cohorts",
        },
        {
            "label": "Questionnaires returned (of those whose window has closed)",
            "value": rate_of(pooled["completed"], pooled["closed"]),
            "href": "#cohorts",
        },
    ]
    headline = [
        r
        for r in page["comparison"]
        if (r["code"], r["scale"]) == HEADLINE and r["timepoint"] == "week52"
    ]
    for row in headline:
        for prog in row["programmes"]:
            base = ("comparison", prog["key"], *HEADLINE, "week52")

            def shown(field, value, base=base):
                return suppression.shown(value, (*base, field), hidden)

            items.append(
                _primary_item(prog["result"], shown, f"{prog['name']}, to week 52", "#comparison")
            )
    for prog in page["service_use"]:
        items.append(_service_use_item(prog["periods"], lambda p: p["rates_hidden"], prog["name"]))
    return items


def cohort_summary(data: dict) -> list[dict]:
    """The cohort dashboard's headline figures, each linking to its section."""
    people = [p for p in data["people"] if p.status in STARTED]
    engaged = sum(
        1 for p in people if p.status in (Enrolment.Status.ACTIVE, Enrolment.Status.COMPLETED)
    )
    closed = [r for r in data["completion"] if r["rate"] is not None]
    latest = closed[-1] if closed else None
    items = [
        {"label": "People who started", "value": len(people), "href": "#retention"},
        {"label": "Still taking part or completed", "value": engaged, "href": "#retention"},
        {
            "label": "Attendance (sessions attended of those recorded)",
            "value": _pct(data["attendance"]["overall_rate"]),
            "href": "#attendance",
        },
        {
            "label": (
                f"Questionnaires returned at {latest['timepoint']['name']}"
                if latest
                else "Questionnaires returned"
            ),
            "value": _pct(latest["rate"]) if latest else "none due yet",
            "href": "#completion",
        },
    ]
    primary = [
        c for c in data["changes"] if (c["code"], c["scale"]) == HEADLINE and c["result"].enough
    ]
    if primary:
        last = primary[-1]
        items.append(
            _primary_item(
                last["result"],
                lambda _f, v: v,
                f"baseline to {last['timepoint']['name']}",
                "#change",
            )
        )
    else:
        items.append(
            {
                "label": f"Reliable change on {scale_label(*HEADLINE)}",
                "value": "not enough data",
                "href": "#change",
            }
        )
    items.append(
        _service_use_item(data["service_use"]["periods"], lambda p: p["people"] < 1, "this cohort")
    )
    return items


def suppression_sheet(page: dict) -> suppression.Sheet:
    """Every count the service page shows, and the sums a reader knows tie them together."""
    sheet = suppression.Sheet()
    started: dict[str, list] = defaultdict(list)
    headline_ns: dict[str, list] = defaultdict(list)
    for c in page["cohorts"]:
        key = ("cohort", c["id"])
        parts = [sheet.add((*key, f), c[f]) for f in ("active", "completed", "left")]
        sheet.equal([sheet.add((*key, "started"), c["started"])], parts)
        started[c["programme__key"]].append((*key, "started"))
        # Hidden last: its mean change goes with it.
        headline_ns[c["programme__key"]].append(sheet.add((*key, "n"), c["headline"].n, cost=5))
    everyone = [k for keys in started.values() for k in keys]
    sheet.equal(
        [sheet.add(("summary", "started"), sum(c["started"] for c in page["cohorts"]))], everyone
    )
    sheet.equal(
        [
            sheet.add(
                ("summary", "engaged"), sum(c["active"] + c["completed"] for c in page["cohorts"])
            )
        ],
        [("cohort", c["id"], f) for c in page["cohorts"] for f in ("active", "completed")],
    )
    headline = ".".join(HEADLINE)
    for row in page["comparison"]:
        for prog in row["programmes"]:
            result = prog["result"]
            base = ("comparison", prog["key"], row["code"], row["scale"], row["timepoint"])
            n = sheet.add((*base, "n"), result.n, cost=10)
            reasons = [sheet.add((*base, "lo", why), k) for why, k in result.left_out.items()]
            sheet.equal([n, *reasons], started[prog["key"]])
            if result.enough and result.categories:
                sheet.equal([sheet.add((*base, k), v) for k, v in result.categories.items()], [n])
            if result.enough:
                sheet.add((*base, "recovered"), result.recovered)
                sheet.add((*base, "reliable_recovery"), result.reliable_recovery)
            if f"{row['code']}.{row['scale']}" == headline and row["timepoint"] == "week52":
                sheet.equal([n], headline_ns[prog["key"]])
    for prog in page.get("every_timepoint") or []:
        for entry in prog["scales"]:
            _every_timepoint_counts(sheet, prog["key"], entry, page["comparison"], started)
    for prog in page["service_use"]:
        for period in prog["periods"]:
            base = ("service_use", prog["key"], period["key"])
            sheet.equal(
                [
                    sheet.add((*base, "people"), period["people"], cost=3),
                    sheet.add((*base, "left_out"), period["left_out"]),
                ],
                started[prog["key"]],
            )
    for prog in page["occupation"]:
        for tp in prog["timepoints"]:
            base = ("occupation", prog["key"], tp["key"])
            sheet.equal(
                [
                    sheet.add((*base, "answered"), tp["answered"], cost=3),
                    sheet.add((*base, "left_out"), tp["left_out"]),
                ],
                started[prog["key"]],
            )
            for flag, count in tp["counts"].items():
                sheet.add((*base, flag), count)
    return sheet


def _every_timepoint_key(programme: str, entry: dict, kind: str, timepoint: str) -> tuple:
    base = ("every_timepoint", programme, entry["code"], entry["scale"], kind)
    # Completers and LOCF count the same people at every timepoint: one count each.
    return (*base, timepoint) if kind == mixed_model.MIXED else base


def _every_timepoint_counts(sheet, programme: str, entry: dict, comparison, started) -> None:
    """The mixed model's, completers' and LOCF's counts, and the sums tying them to the
    comparison: those with a baseline score and those without add up to those who started,
    and completers over two timepoints are the comparison's people with both scores."""
    views = entry["views"]
    for kind, view in views.items():
        for estimate in view.estimates:
            key = _every_timepoint_key(programme, entry, kind, estimate.timepoint)
            # Hidden first as complements: a hidden count here takes no other figure with it.
            sheet.add(key, estimate.n, cost=0)
    mixed, locf, complete = (
        views[mixed_model.MIXED],
        views[mixed_model.LOCF],
        views[mixed_model.COMPLETERS],
    )
    if not mixed.estimates:
        return
    baseline = _every_timepoint_key(
        programme, entry, mixed_model.MIXED, mixed.estimates[0].timepoint
    )
    if locf.estimates:
        sheet.equal([_every_timepoint_key(programme, entry, mixed_model.LOCF, "")], [baseline])
    for row in comparison:
        if (row["code"], row["scale"]) != (entry["code"], entry["scale"]):
            continue
        base = ("comparison", programme, row["code"], row["scale"], row["timepoint"])
        if row["timepoint"] == figures.COMPARISON_TIMEPOINT:  # the row every scale has
            sheet.equal([baseline, (*base, "lo", "no baseline score")], started[programme])
        shown = [e.timepoint for e in complete.estimates]
        if shown == [mixed.estimates[0].timepoint, row["timepoint"]]:
            sheet.equal(
                [_every_timepoint_key(programme, entry, mixed_model.COMPLETERS, "")],
                [(*base, "n")],
            )


def _suppress(page: dict) -> set:
    """Hide what suppression.Sheet.protect says, and every figure worked out from it."""
    hidden = suppression_sheet(page).protect()
    hide = suppression.shown
    for c in page["cohorts"]:
        key = ("cohort", c["id"])
        c["shown"] = {
            f: hide(c[f], (*key, f), hidden) for f in ("started", "active", "completed", "left")
        }
        c["shown"]["n"] = hide(c["headline"].n, (*key, "n"), hidden)
        # Rates are shown only where the cohort's size is: a rate of a hidden count is hidden.
        c["rates_hidden"] = (*key, "started") in hidden
        c["headline_hidden"] = (*key, "n") in hidden
    for row in page["comparison"]:
        for prog in row["programmes"]:
            base = ("comparison", prog["key"], row["code"], row["scale"], row["timepoint"])

            def show(field, value, base=base):
                wanted = (*base, *field) if isinstance(field, tuple) else (*base, field)
                return hide(value, wanted, hidden)

            prog["cells"] = change_cells(prog["result"], min_n=stats.MIN_PAIRED, show=show)
            prog["n_hidden"] = (*base, "n") in hidden
            prog["improvement_d"] = (
                None if prog["n_hidden"] else improvement(prog["result"].d, row["higher_is"])
            )
    for prog in page["every_timepoint"] or []:
        for entry in prog["scales"]:

            def show_count(field, value, programme=prog["key"], entry=entry):
                kind, timepoint = field
                return hide(value, _every_timepoint_key(programme, entry, kind, timepoint), hidden)

            entry.update(
                _scale_views_entry(entry["code"], entry["scale"], entry["views"], show_count)
            )
    for prog in page["service_use"]:
        for period in prog["periods"]:
            base = ("service_use", prog["key"], period["key"])
            period["shown_people"] = hide(period["people"], (*base, "people"), hidden)
            period["shown_left_out"] = hide(period["left_out"], (*base, "left_out"), hidden)
            period["rates_hidden"] = (*base, "people") in hidden
    for prog in page["occupation"]:
        for tp in prog["timepoints"]:
            base = ("occupation", prog["key"], tp["key"])
            tp["shown_answered"] = hide(tp["answered"], (*base, "answered"), hidden)
            tp["shown_left_out"] = hide(tp["left_out"], (*base, "left_out"), hidden)
            tp["shown_shares"] = {
                flag: (
                    suppression.SUPPRESSED
                    if (*base, flag) in hidden or (*base, "answered") in hidden
                    else tp["shares"][flag]
                )
                for flag in tp["counts"]
            }
    return hidden


COMPARISON_TIMEPOINTS = (
    ("week12", "end of preparation (week 12)"),
    ("week32", "mid trauma group (week 32)"),
    ("week52", "end of programme (week 52)"),
    ("week104", "12-month follow-up (week 104)"),
)


def _comparison_row(
    code, scale, timepoint, programmes, programme_names, found, baseline_n, started, sds
) -> dict:
    """One measure at one timepoint, each arm's paired change from baseline."""
    tp_key, tp_name = timepoint
    row = {
        "code": code,
        "scale": scale,
        "label": scale_label(code, scale),
        "timepoint": tp_key,
        "timepoint_name": tp_name,
        "order": [k for k, _n in COMPARISON_TIMEPOINTS].index(tp_key),
        "higher_is": get_instrument(code).scale(scale).higher_is,
        "programmes": [],
    }
    for key in programmes:
        pairs = found.get((key, code, scale), {})
        with_baseline = baseline_n.get((key, code, scale), 0)
        left_out = {
            "no baseline score": started[key] - with_baseline,
            (
                "no end-of-programme score" if tp_key == "week52" else f"no score at {tp_name}"
            ): with_baseline - sum(pairs.values()),
        }
        result = _pooled_change(
            code,
            scale,
            tuple(sorted(pairs.items())),
            tuple(sorted((k, v) for k, v in left_out.items() if v)),
            **own_sd(sds, code, scale),
        )
        row["programmes"].append({"key": key, "name": programme_names[key], "result": result})
    return row


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
