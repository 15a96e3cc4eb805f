"""Reads for programme pages. Each runs a fixed number of queries, whatever the group size."""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.scope import Can, scoped
from programmes.models import (
    Attendance,
    Cohort,
    Enrolment,
    GroupSession,
    Phase,
    Programme,
    counts_for_enrolment,
    held_q,
)

DNA_RUN_FLAG = 3
DNA_RULE = (
    f"Flagged when the last {DNA_RUN_FLAG} sessions with a register taken were all "
    "“did not attend”. Cancelled sessions are skipped; apologies or any attendance end the run."
)


def enrolments_open_at(session: GroupSession) -> QuerySet:
    """Enrolments on the session's register: begun by its date and not ended before it.

    An enrolment that ended on the session's day is on it (models.counts_for_enrolment):
    someone completed on the date of the last session is still on that session's register.
    """
    return (
        Enrolment.objects.filter(cohort_id=session.cohort_id, enrolled_on__lte=session.date)
        .filter(Q(status__in=Enrolment.OPEN_STATUSES) | Q(ended_on__gte=session.date))
        .select_related("participant")
        .order_by("participant__family_name", "participant__given_name", "pk")
    )


def on_register_at(enrolment: Enrolment, date: datetime.date) -> bool:
    """enrolments_open_at's rule for an enrolment already in memory."""
    return enrolment.enrolled_on <= date and (
        enrolment.status in Enrolment.OPEN_STATUSES
        or (enrolment.ended_on is not None and enrolment.ended_on >= date)
    )


def enrolments_open_at_each(sessions: list[GroupSession]) -> dict[int, list[Enrolment]]:
    """enrolments_open_at for several sessions in one query: session id -> its register."""
    cohort_ids = {s.cohort_id for s in sessions}
    enrolments = list(
        Enrolment.objects.filter(cohort_id__in=cohort_ids)
        .select_related("participant")
        .order_by("participant__family_name", "participant__given_name", "pk")
    )
    return {
        s.pk: [e for e in enrolments if e.cohort_id == s.cohort_id and on_register_at(e, s.date)]
        for s in sessions
    }


def dna_run_length(statuses) -> int:
    """How many "did not attend" marks end a person's marks in date order (DNA_RULE)."""
    run = 0
    for status in statuses:
        run = run + 1 if status == Attendance.Status.DNA else 0
    return run


def dna_runs_before(
    sessions: list[GroupSession], today: datetime.date | None = None
) -> dict[int, dict[int, int]]:
    """Session id -> {enrolment id: DNA run} over the sessions held before it (one query).

    The cohort page's rule: only held sessions, each person's marks only up to the day they
    left, cancelled sessions skipped; flag at DNA_RUN_FLAG or more.
    """
    today = today or timezone.localdate()
    marks = list(
        Attendance.objects.filter(session__cohort_id__in={s.cohort_id for s in sessions})
        .filter(held_q(today, "session__"))
        .order_by("session__date", "session__number")
        .values_list(
            "session__cohort_id", "session__date", "enrolment_id", "enrolment__ended_on", "status"
        )
    )
    runs: dict[int, dict[int, int]] = {}
    for session in sessions:
        history: dict[int, list[str]] = defaultdict(list)
        for cohort_id, date, enrolment_id, ended_on, status in marks:
            if (
                cohort_id == session.cohort_id
                and date < session.date
                and counts_for_enrolment(date, ended_on)
            ):
                history[enrolment_id].append(status)
        runs[session.pk] = {eid: dna_run_length(st) for eid, st in history.items()}
    return runs


def cohorts_for(user, *, can: Can = Can.VIEW_CLINICAL) -> QuerySet:
    """The user's cohorts with their next session and number of open enrolments."""
    today = timezone.localdate()
    upcoming = GroupSession.objects.filter(cohort=OuterRef("pk"), date__gte=today).exclude(
        status=GroupSession.Status.CANCELLED
    )
    return (
        scoped(user, Cohort.objects.all(), can=can)
        .select_related("service", "programme")
        .annotate(
            next_session_id=Subquery(upcoming.order_by("date").values("pk")[:1]),
            next_session_date=Subquery(upcoming.order_by("date").values("date")[:1]),
            next_session_number=Subquery(upcoming.order_by("date").values("number")[:1]),
            next_session_register_taken_at=Subquery(
                upcoming.order_by("date").values("register_taken_at")[:1]
            ),
            open_enrolments=Count(
                "enrolments",
                filter=Q(enrolments__status__in=Enrolment.OPEN_STATUSES),
                distinct=True,
            ),
        )
        .order_by("-start_date", "name")
    )


def home_cohorts(user) -> QuerySet:
    """cohorts_for, only those with a session to come or someone enrolled and not ended:
    filtered in the database, so the home page reads the few it lists, not every cohort."""
    today = timezone.localdate()
    upcoming = GroupSession.objects.filter(cohort=OuterRef("pk"), date__gte=today).exclude(
        status=GroupSession.Status.CANCELLED
    )
    open_ = Enrolment.objects.filter(cohort=OuterRef("pk"), status__in=Enrolment.OPEN_STATUSES)
    return cohorts_for(user).filter(Exists(upcoming) | Exists(open_))


def cohort_stage(cohort: Cohort, phases: list[Phase], today: datetime.date | None = None) -> str:
    """Where the cohort is today: 'Starts …', a phase name, or 'Finished'."""
    today = today or timezone.localdate()
    if today < cohort.start_date:
        return "Not started"
    week = (today - cohort.start_date).days // 7 + 1
    for phase in phases:
        if phase.start_week <= week <= phase.end_week:
            return f"{phase.name} (week {week})"
    return "Finished"


@dataclass
class Rate:
    attended: int = 0
    recorded: int = 0

    @property
    def percent(self) -> int | None:
        return round(100 * self.attended / self.recorded) if self.recorded else None


@dataclass
class ParticipantRow:
    enrolment: Enrolment
    overall: Rate = field(default_factory=Rate)
    by_phase: dict[int, Rate] = field(default_factory=dict)
    dna_run: int = 0

    @property
    def flagged(self) -> bool:
        return self.enrolment.is_open and self.dna_run >= DNA_RUN_FLAG


@dataclass
class PhaseBlock:
    phase: Phase
    sessions: list[GroupSession]
    rate: Rate
    first_date: datetime.date
    last_date: datetime.date
    held: int = 0

    @property
    def not_cancelled(self) -> int:
        return sum(1 for s in self.sessions if s.status != GroupSession.Status.CANCELLED)


@dataclass
class CohortOverview:
    cohort: Cohort
    phases: list[PhaseBlock]
    rows: list[ParticipantRow]
    overall: Rate
    stage: str
    open_count: int
    next_session: GroupSession | None
    rule: str = DNA_RULE


def cohort_overview(cohort: Cohort) -> CohortOverview:
    """The cohort page. Only held sessions count (models.held_q), and each person's marks
    only up to the day they left."""
    today = timezone.localdate()
    phases = list(Phase.objects.filter(programme_id=cohort.programme_id).order_by("order"))
    sessions = list(cohort.sessions.order_by("date", "number"))
    # Entered in error: not on the page's list or in any of its rates.
    enrolments = list(
        cohort.enrolments.counted()
        .select_related("participant")
        .order_by("participant__family_name", "participant__given_name", "pk")
    )
    marks = list(
        Attendance.objects.filter(session__cohort=cohort)
        .order_by()
        .values_list("session_id", "enrolment_id", "status")
    )

    by_id = {s.pk: s for s in sessions}
    ended_on = {e.pk: e.ended_on for e in enrolments}
    held = {s.pk for s in sessions if s.is_held(today)}
    present_count: dict[int, int] = defaultdict(int)
    per_enrolment: dict[int, list[tuple[GroupSession, str]]] = defaultdict(list)
    phase_rates: dict[int, Rate] = defaultdict(Rate)
    overall = Rate()
    for session_id, enrolment_id, status in marks:
        session = by_id[session_id]
        if enrolment_id not in ended_on:
            continue  # entered in error
        if session_id not in held or not counts_for_enrolment(
            session.date, ended_on.get(enrolment_id)
        ):
            continue
        attended = status in Attendance.ATTENDED
        per_enrolment[enrolment_id].append((session, status))
        for rate in (phase_rates[session.phase_id], overall):
            rate.recorded += 1
            rate.attended += attended
        present_count[session_id] += attended
    for session in sessions:
        session.attended_count = present_count.get(session.pk, 0)

    rows = []
    for enrolment in enrolments:
        row = ParticipantRow(enrolment=enrolment, by_phase=defaultdict(Rate))
        history = sorted(per_enrolment.get(enrolment.pk, []), key=lambda m: m[0].date)
        for session, status in history:
            attended = status in Attendance.ATTENDED
            for rate in (row.overall, row.by_phase[session.phase_id]):
                rate.recorded += 1
                rate.attended += attended
        row.dna_run = dna_run_length(status for _, status in history)
        row.phase_rates = [row.by_phase.get(p.pk, Rate()) for p in phases if p.group_meets]
        rows.append(row)

    blocks = []
    for phase in phases:
        first = cohort.week_date(phase.start_week)
        last = cohort.week_date(phase.end_week)
        blocks.append(
            PhaseBlock(
                phase=phase,
                sessions=[s for s in sessions if s.phase_id == phase.pk],
                rate=phase_rates.get(phase.pk, Rate()),
                first_date=first,
                last_date=last,
                held=sum(1 for s in sessions if s.phase_id == phase.pk and s.pk in held),
            )
        )
    upcoming = [
        s for s in sessions if s.date >= today and s.status != GroupSession.Status.CANCELLED
    ]
    return CohortOverview(
        cohort=cohort,
        phases=blocks,
        rows=rows,
        overall=overall,
        stage=cohort_stage(cohort, phases, today),
        open_count=sum(1 for e in enrolments if e.is_open),
        next_session=upcoming[0] if upcoming else None,
    )


def register_rows(session: GroupSession) -> list[tuple[Enrolment, str]]:
    """The register: each enrolment open at the session and its recorded status, or ""."""
    enrolments = list(enrolments_open_at(session))
    recorded = dict(
        Attendance.objects.filter(session=session).order_by().values_list("enrolment_id", "status")
    )
    return [(e, recorded.get(e.pk, "")) for e in enrolments]


def participant_history(participant) -> list[dict]:
    """Each enrolment of a participant with its attendance, for the participant page."""
    enrolments = list(
        Enrolment.objects.filter(participant=participant)
        .select_related("cohort", "cohort__programme")
        .order_by("-enrolled_on", "-pk")
    )
    marks = (
        Attendance.objects.filter(enrolment__participant=participant)
        .select_related("session")
        .order_by("session__date")
    )
    by_enrolment: dict[int, list[Attendance]] = defaultdict(list)
    for mark in marks:
        by_enrolment[mark.enrolment_id].append(mark)
    today = timezone.localdate()
    history = []
    for enrolment in enrolments:
        rows = by_enrolment.get(enrolment.pk, [])
        counted = [
            m
            for m in rows
            if m.session.is_held(today) and counts_for_enrolment(m.session.date, enrolment.ended_on)
        ]
        rate = Rate(
            attended=sum(1 for m in counted if m.attended),
            recorded=len(counted),
        )
        history.append({"enrolment": enrolment, "attendance": rows, "rate": rate})
    return history


def participants_finished_before(cutoff: datetime.date) -> QuerySet:
    """Ids of participants with at least one enrolment and every one of them ended before
    `cutoff`: who contact-detail retention may reach (registered in participants.retention).
    Someone only referred has an open enrolment, so is still being contacted."""
    # Enrolments entered in error never happened: they neither keep nor make anyone finished.
    not_finished = (
        Enrolment.objects.counted()
        .filter(
            Q(ended_on__isnull=True)
            | Q(ended_on__gte=cutoff)
            | Q(status__in=Enrolment.OPEN_STATUSES)
        )
        .values("participant_id")
    )
    return (
        Enrolment.objects.counted()
        .exclude(participant_id__in=not_finished)
        .values("participant_id")
    )


def programmes_visible_to(user) -> QuerySet:
    """Shared default programmes and those of the user's own services."""
    from accounts.scope import service_ids

    return Programme.objects.filter(
        Q(service__isnull=True) | Q(service__in=service_ids(user))
    ).order_by("name", "-version")
