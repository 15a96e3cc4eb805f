"""Writes for programmes, cohorts, sessions, enrolments and the register.

Each function is atomic and announces what higher layers react to through
programmes.events inside the same transaction.
"""

import datetime
from collections.abc import Iterable, Mapping

from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone
from django.utils.formats import date_format

from accounts.audit import record_bulk_changes
from accounts.models import Membership, Service
from participants.models import Participant
from programmes import calendar, events
from programmes.calendar import bank_holiday_name
from programmes.models import (
    Attendance,
    Cohort,
    CurriculumWeek,
    Enrolment,
    GroupSession,
    Phase,
    Programme,
)
from programmes.selectors import enrolments_open_at


def _day(day: datetime.date, fmt: str = "j F Y") -> str:
    return date_format(day, fmt)


def facilitator_candidates(service: Service):
    from accounts.models import User

    return User.objects.filter(
        is_active=True,
        memberships__service=service,
        memberships__role=Membership.Role.CLINICIAN,
    ).order_by("last_name", "first_name", "username")


# Cohorts and sessions ------------------------------------------------------------------


@transaction.atomic
def cohort_create(
    *,
    service: Service,
    programme: Programme,
    name: str,
    start_date: datetime.date,
    start_time: datetime.time,
    venue: str,
    capacity: int,
    weekday: int | None = None,
    facilitators: Iterable = (),
) -> Cohort:
    """Create a cohort and lay out one session per week in which its programme's group meets."""
    name = name.strip()
    errors: dict[str, list[str]] = {}
    if not programme.is_current:
        errors["programme"] = [
            "This programme has a newer version. Choose the current version for a new cohort."
        ]
    elif programme.service_id not in (None, service.pk):
        errors["programme"] = ["This programme belongs to another service."]
    if weekday is not None and start_date.weekday() != weekday:
        errors["start_date"] = [
            f"{_day(start_date)} is a {_day(start_date, 'l')}, not a "
            f"{Cohort.Weekday(weekday).label}. Choose a start date on the group's weekday."
        ]
    if capacity is None or capacity < 1:
        errors["capacity"] = ["A cohort needs at least one place."]
    if Cohort.objects.filter(service=service, name=name).exists():
        errors["name"] = ["Your service already has a cohort with this name."]
    facilitators = list(facilitators)
    allowed = set(facilitator_candidates(service).values_list("pk", flat=True))
    if any(user.pk not in allowed for user in facilitators):
        errors["facilitators"] = ["Facilitators must be clinicians of the cohort's service."]
    if errors:
        raise ValidationError(errors)

    cohort = Cohort.objects.create(
        service=service,
        programme=programme,
        name=name,
        start_date=start_date,
        weekday=start_date.weekday(),
        start_time=start_time,
        venue=venue,
        capacity=capacity,
    )
    if facilitators:
        cohort.facilitators.set(facilitators)

    themes = dict(CurriculumWeek.objects.filter(programme=programme).values_list("week", "theme"))
    sessions = []
    for phase in Phase.objects.filter(programme=programme, group_meets=True).order_by("order"):
        for week in range(phase.start_week, phase.end_week + 1):
            day = cohort.week_date(week)
            sessions.append(
                GroupSession(
                    cohort=cohort,
                    phase=phase,
                    number=len(sessions) + 1,
                    week=week,
                    theme=themes.get(week, ""),
                    planned_date=day,
                    date=day,
                    start_time=start_time,
                    bank_holiday=bank_holiday_name(day),
                )
            )
    GroupSession.objects.bulk_create(sessions)
    record_bulk_changes(
        entries=[(s, {"date": [None, s.date]}) for s in sessions if s.pk],
        action=LogEntry.Action.CREATE,
    )
    return cohort


@transaction.atomic
def session_move(
    *,
    session: GroupSession,
    new_date: datetime.date,
    reason: str,
    start_time: datetime.time | None = None,
) -> GroupSession:
    """Move one session. Every other session keeps its date."""
    session = GroupSession.objects.select_for_update().get(pk=session.pk)
    reason = (reason or "").strip()
    _refuse_if_settled(session, "moved")
    new_time = start_time or session.start_time
    if not reason:
        raise ValidationError({"reason": ["Give a reason for moving the session."]})
    if new_date == session.date and new_time == session.start_time:
        raise ValidationError({"new_date": ["The session is already on this date and time."]})
    clash = (
        GroupSession.objects.filter(cohort_id=session.cohort_id, date=new_date)
        .exclude(status=GroupSession.Status.CANCELLED)
        .exclude(pk=session.pk)
        .first()
    )
    if clash is not None:
        raise ValidationError(
            {
                "new_date": [
                    f"Session {clash.number} of this cohort is already on "
                    f"{_day(new_date)}. Choose another date, or move that session first."
                ]
            }
        )
    session.date = new_date
    session.start_time = new_time
    session.status = GroupSession.Status.MOVED
    session.change_reason = reason[:300]
    session.bank_holiday = bank_holiday_name(new_date)
    session.save(update_fields=["date", "start_time", "status", "change_reason", "bank_holiday"])
    return session


@transaction.atomic
def session_cancel(*, session: GroupSession, reason: str) -> GroupSession:
    session = GroupSession.objects.select_for_update().get(pk=session.pk)
    reason = (reason or "").strip()
    _refuse_if_settled(session, "cancelled")
    if not reason:
        raise ValidationError({"reason": ["Give a reason for cancelling the session."]})
    session.status = GroupSession.Status.CANCELLED
    session.change_reason = reason[:300]
    session.save(update_fields=["status", "change_reason"])
    return session


def _clash(cohort_id: int, day: datetime.date, exclude_pk=None) -> GroupSession | None:
    return (
        GroupSession.objects.filter(cohort_id=cohort_id, date=day)
        .exclude(status=GroupSession.Status.CANCELLED)
        .exclude(pk=exclude_pk)
        .first()
    )


@transaction.atomic
def session_reinstate(*, session: GroupSession, reason: str) -> GroupSession:
    """Undo a cancellation: the session meets on its date again (scheduled when that is its
    planned date, else still moved). The cancellation stays in the audit trail."""
    session = GroupSession.objects.select_for_update().get(pk=session.pk)
    reason = (reason or "").strip()
    if session.status != GroupSession.Status.CANCELLED:
        raise ValidationError("This session is not cancelled, so there is nothing to reinstate.")
    if not reason:
        raise ValidationError({"reason": ["Give a reason for reinstating the session."]})
    clash = _clash(session.cohort_id, session.date, exclude_pk=session.pk)
    if clash is not None:
        raise ValidationError(
            f"Session {clash.number} of this cohort is already on {_day(session.date)}. "
            "Move or cancel that session first, or move this one once it is reinstated."
        )
    if session.is_make_up:
        session.status = GroupSession.Status.SCHEDULED
        session.change_reason = f"Make-up session, reinstated: {reason}"[:300]
    elif session.date == session.planned_date:
        session.status = GroupSession.Status.SCHEDULED
        session.change_reason = ""
    else:
        session.status = GroupSession.Status.MOVED
        session.change_reason = f"Reinstated: {reason}"[:300]
    session.save(update_fields=["status", "change_reason"])
    return session


@transaction.atomic
def session_make_up_add(
    *,
    cohort: Cohort,
    date: datetime.date,
    reason: str,
    start_time: datetime.time | None = None,
    theme: str = "",
) -> GroupSession:
    """Add an extra session on `date`, in the phase the cohort is in then.

    It is a session like the others: held once its day is past (or its register taken
    today), on the register of everyone enrolled on its day, counted in attendance, and
    re-dated with the rest if the cohort's start moves before it is held.
    """
    # Locks the cohort: two make-ups added at once would both take the next number.
    cohort = Cohort.objects.select_for_update().get(pk=cohort.pk)
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = ["Give a reason for the make-up session."]
    sessions = list(cohort.sessions.exclude(status=GroupSession.Status.CANCELLED).order_by("date"))
    if date is None:
        errors["date"] = ["Give the date of the make-up session."]
    elif sessions and not (sessions[0].date <= date):
        errors["date"] = [
            f"A make-up session cannot be before the group's first session "
            f"({_day(sessions[0].date)})."
        ]
    elif (clash := _clash(cohort.pk, date)) is not None:
        errors["date"] = [
            f"Session {clash.number} of this cohort is already on {_day(date)}. "
            "Choose another date."
        ]
    if errors:
        raise ValidationError(errors)
    # The phase and week of the session before it, cancelled or not (a make-up often
    # replaces a cancelled one).
    anchor = (
        cohort.sessions.filter(date__lte=date).order_by("-date", "-number").first()
        if date
        else None
    )
    if anchor is None:
        phase = Phase.objects.filter(programme_id=cohort.programme_id, group_meets=True).first()
        week = phase.start_week if phase else 1
    else:
        phase, week = anchor.phase, anchor.week
    number = (cohort.sessions.aggregate(n=Max("number"))["n"] or 0) + 1
    return GroupSession.objects.create(
        cohort=cohort,
        phase=phase,
        number=number,
        week=week,
        theme=(theme or "").strip()[:200],
        planned_date=date,
        date=date,
        start_time=start_time or cohort.start_time,
        status=GroupSession.Status.SCHEDULED,
        is_make_up=True,
        change_reason=reason[:300],
        bank_holiday=bank_holiday_name(date),
    )


def _refuse_if_settled(session: GroupSession, verb: str) -> None:
    if session.status == GroupSession.Status.CANCELLED:
        raise ValidationError(f"This session was cancelled, so it cannot be {verb}.")
    if session.register_taken_at is not None:
        raise ValidationError(
            f"The register for this session has been taken, so it cannot be {verb}."
        )


@transaction.atomic
def cohort_start_move(
    *,
    cohort: Cohort,
    new_start_date: datetime.date,
    decisions: Mapping[int, str] | None = None,
    by=None,
) -> Cohort:
    """Move the start date, and re-date every session not yet held, as previewed.

    `decisions` maps session id to one of the choices programmes.calendar offers it; a
    session that needs a new decision and has none, or a choice it does not offer, refuses
    the whole move (ValidationError keyed by calendar.decision_field).
    """
    cohort = Cohort.objects.select_for_update().get(pk=cohort.pk)
    preview = calendar.cohort_start_move_preview(
        cohort=cohort, new_start_date=new_start_date, decisions=decisions
    )
    preview.raise_if_invalid()
    previous_start_date = cohort.start_date
    cohort.start_date = new_start_date
    cohort.weekday = new_start_date.weekday()
    cohort.save(update_fields=["start_date", "weekday"])

    changed = preview.changed
    entries = [(plan.session, plan.changes()) for plan in changed]
    rows = []
    for plan in changed:
        session, outcome = plan.session, plan.outcome
        session.planned_date = plan.new_planned_date
        session.date, session.status = outcome.date, outcome.status
        session.change_reason, session.start_time = outcome.reason, outcome.start_time
        session.bank_holiday = outcome.bank_holiday
        rows.append(session)
    # Choices can reorder sessions (a move dropped lands on a day another session is leaving),
    # so no order of single-row updates is safe against session_one_per_day_per_cohort. Every
    # changing row is first set aside as cancelled, which the constraint ignores; the preview
    # has already proved the final calendar has one session a day.
    GroupSession.objects.filter(pk__in=[s.pk for s in rows]).update(
        status=GroupSession.Status.CANCELLED,
        change_reason=Coalesce(NullIf("change_reason", Value("")), Value("Start date moving")),
    )
    GroupSession.objects.bulk_update(
        rows, ["planned_date", "date", "status", "change_reason", "start_time", "bank_holiday"]
    )
    record_bulk_changes(entries=entries, actor=by)
    events.cohort_rescheduled.send(
        sender=Cohort, cohort=cohort, previous_start_date=previous_start_date
    )
    return cohort


# Enrolments ----------------------------------------------------------------------------

COHORT_FULL = "cohort_full"
ACTIVE_ELSEWHERE = "active_elsewhere"


def active_elsewhere(*, participant: Participant, cohort: Cohort) -> list[Enrolment]:
    """The person's active enrolments in other cohorts (each a running group: an active
    enrolment completes by itself once its cohort's last session is past)."""
    return list(
        Enrolment.objects.filter(participant=participant, status=Enrolment.Status.ACTIVE)
        .exclude(cohort=cohort)
        .select_related("cohort")
        .order_by("cohort__name")
    )


@transaction.atomic
def enrolment_create(
    *,
    cohort: Cohort,
    participant: Participant,
    enrolled_on: datetime.date | None = None,
    also_active_reason: str = "",
) -> Enrolment:
    """Enrol `participant`. Someone already active in another cohort would get two sets
    of questionnaires, so that needs a reason (`also_active_reason`), kept on the row."""
    # The lock makes the capacity check and the insert one step for concurrent enrolments.
    cohort = Cohort.objects.select_for_update().get(pk=cohort.pk)
    enrolled_on = enrolled_on or timezone.localdate()
    also_active_reason = (also_active_reason or "").strip()
    if participant.service_id != cohort.service_id:
        raise ValidationError({"participant": ["This participant is not in the cohort's service."]})
    open_enrolments = Enrolment.objects.filter(cohort=cohort, status__in=Enrolment.OPEN_STATUSES)
    if open_enrolments.filter(participant=participant).exists():
        raise ValidationError({"participant": ["This participant is already enrolled here."]})
    elsewhere = active_elsewhere(participant=participant, cohort=cohort)
    if elsewhere and not also_active_reason:
        names = ", ".join(f"“{e.cohort.name}”" for e in elsewhere)
        raise ValidationError(
            f"This person is already active in {names}. Enrolling them here too doubles "
            "their questionnaires. To go ahead, tick the confirmation and say why they need "
            "both.",
            code=ACTIVE_ELSEWHERE,
        )
    if not elsewhere:
        also_active_reason = ""
    taken = open_enrolments.count()
    if taken >= cohort.capacity:
        raise ValidationError(
            f"This cohort is full: {taken} of {cohort.capacity} places are taken. "
            "End an enrolment, or raise the capacity on the cohort's “Edit cohort” page.",
            code=COHORT_FULL,
        )
    enrolment = Enrolment.objects.create(
        cohort=cohort,
        participant=participant,
        status=Enrolment.Status.ACTIVE,
        enrolled_on=enrolled_on,
        also_active_reason=also_active_reason[:300],
    )
    events.enrolment_started.send(sender=Enrolment, enrolment=enrolment)
    return enrolment


@transaction.atomic
def enrolment_end(
    *, enrolment: Enrolment, status: str, ended_on: datetime.date, reason: str = ""
) -> Enrolment:
    """Withdraw, discharge or complete an enrolment, on the day it actually ended.

    That day may be in the past (recorded late): figures then count the person only up to
    it, and the registers after it no longer list them. It cannot be in the future.
    """
    enrolment = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not enrolment.is_open:
        raise ValidationError("This enrolment has already ended.")
    if status not in Enrolment.ENDED_STATUSES:
        errors["status"] = ["Choose completed, withdrawn or discharged."]
    if ended_on is None:
        errors["ended_on"] = ["Give the date the enrolment ended."]
    elif ended_on < enrolment.enrolled_on:
        errors["ended_on"] = [
            f"The end date cannot be before the enrolment date ({_day(enrolment.enrolled_on)})."
        ]
    elif ended_on > timezone.localdate():
        errors["ended_on"] = [
            "The end date cannot be in the future. Give the date the person actually left: "
            "today or an earlier day."
        ]
    if status != Enrolment.Status.COMPLETED and not reason:
        errors["reason"] = ["Give a reason for the withdrawal or discharge."]
    if errors:
        raise ValidationError(errors)
    enrolment.status = status
    enrolment.ended_on = ended_on
    enrolment.end_reason = reason[:300]
    enrolment.save(update_fields=["status", "ended_on", "end_reason"])
    events.enrolment_ended.send(sender=Enrolment, enrolment=enrolment)
    return enrolment


@transaction.atomic
def enrolment_mark_in_error(*, enrolment: Enrolment, reason: str) -> Enrolment:
    """Mark an enrolment as entered in error: the wrong person or the wrong cohort.

    Not a withdrawal (it counts as no drop-out): the enrolment leaves every figure, export
    and register, its questionnaires not yet answered are cancelled with their messages
    (events.enrolment_ended), and the row stays, with its reason, for the audit trail.
    """
    enrolment = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
    reason = (reason or "").strip()
    if enrolment.status == Enrolment.Status.ENTERED_IN_ERROR:
        raise ValidationError("This enrolment is already marked as entered in error.")
    if not reason:
        raise ValidationError({"reason": ["Say what the mistake was."]})
    enrolment.status = Enrolment.Status.ENTERED_IN_ERROR
    enrolment.ended_on = None
    enrolment.end_reason = reason[:300]
    enrolment.save(update_fields=["status", "ended_on", "end_reason"])
    events.enrolment_ended.send(sender=Enrolment, enrolment=enrolment)
    return enrolment


@transaction.atomic
def enrolments_complete_finished(*, today: datetime.date) -> int:
    """Complete every active enrolment of a cohort whose last group session is past.

    The last session is the last one not cancelled; each enrolment ends on its date (or on
    the enrolment date, for someone enrolled after it). Runs a fixed number of queries
    however many cohorts and people; sends events.enrolment_ended for each (follow-up
    questionnaires carry on after a completion). Returns how many were completed.
    """
    last_session = (
        GroupSession.objects.filter(cohort_id=OuterRef("cohort_id"))
        .exclude(status=GroupSession.Status.CANCELLED)
        .order_by("-date")
        .values("date")[:1]
    )
    # Row claim: two beat runs at once, or a clinician ending the enrolment by hand at the
    # same moment (enrolment_end locks the row too). skip_locked leaves a row someone else
    # holds to them; if their change rolls back, the next daily run completes it.
    due = list(
        Enrolment.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("cohort", "participant")
        .annotate(last_session=Subquery(last_session))
        .filter(status=Enrolment.Status.ACTIVE, last_session__lt=today)
        .order_by("pk")
    )
    if not due:
        return 0
    entries = []
    for enrolment in due:
        ended_on = max(enrolment.last_session, enrolment.enrolled_on)
        entries.append(
            (
                enrolment,
                {
                    "status": [enrolment.status, Enrolment.Status.COMPLETED],
                    "ended_on": [enrolment.ended_on, ended_on],
                },
            )
        )
        enrolment.status, enrolment.ended_on = Enrolment.Status.COMPLETED, ended_on
    Enrolment.objects.bulk_update(due, ["status", "ended_on"])
    record_bulk_changes(entries=entries)
    for enrolment in due:
        events.enrolment_ended.send(sender=Enrolment, enrolment=enrolment)
    return len(due)


# The register --------------------------------------------------------------------------


@transaction.atomic
def attendance_record(
    *, session: GroupSession, statuses: Mapping[int, str], group_note: str, by
) -> GroupSession:
    """Record the whole register of one session in one go; a second submit updates it.

    `statuses` maps enrolment id to an Attendance status and must cover every enrolment
    open at the session. Runs a fixed number of queries, whatever the size of the group.
    """
    session = (
        GroupSession.objects.select_for_update(of=("self",))
        .select_related("cohort")
        .get(pk=session.pk)
    )
    if session.status == GroupSession.Status.CANCELLED:
        raise ValidationError("This session was cancelled, so it has no register.")
    if session.date > timezone.localdate():
        raise ValidationError(
            f"This session is on {_day(session.date)}. "
            "Its register can be taken on the day or afterwards."
        )
    statuses = {int(k): v for k, v in statuses.items()}
    known = set(Attendance.Status.values)
    if any(value not in known for value in statuses.values()):
        raise ValidationError("Choose one of the listed statuses for each participant.")
    enrolments = {e.pk: e for e in enrolments_open_at(session)}
    for enrolment in enrolments.values():
        # Audit rows name each attendance by its enrolment; no query per row for that.
        enrolment.cohort = session.cohort
    not_open = set(statuses) - set(enrolments)
    if not_open:
        raise ValidationError(
            f"{len(not_open)} of the statuses sent are for people who are not enrolled at this "
            "session (for example, they have been withdrawn or discharged). Nothing was saved: "
            "reload the register and submit it again."
        )
    if set(enrolments) - set(statuses):
        raise ValidationError("Choose a status for everyone on the register.")

    now = timezone.now()
    existing = {a.enrolment_id: a for a in Attendance.objects.filter(session=session).order_by()}
    created, changed, created_log, changed_log = [], [], [], []
    for enrolment_id, status in statuses.items():
        row = existing.get(enrolment_id)
        if row is None:
            row = Attendance(
                session=session,
                enrolment=enrolments[enrolment_id],
                status=status,
                recorded_by=by,
                recorded_at=now,
            )
            created.append(row)
        elif row.status != status:
            row.session, row.enrolment = session, enrolments[enrolment_id]
            changed_log.append((row, {"status": [row.status, status]}))
            row.status, row.recorded_by, row.recorded_at = status, by, now
            changed.append(row)
    Attendance.objects.bulk_create(created)
    Attendance.objects.bulk_update(changed, ["status", "recorded_by", "recorded_at"])
    created_log = [(row, {"status": [None, row.status]}) for row in created if row.pk]
    record_bulk_changes(entries=created_log, action=LogEntry.Action.CREATE)
    record_bulk_changes(entries=changed_log)

    session.group_note = (group_note or "").strip()
    session.register_taken_at = now
    session.register_taken_by = by
    session.save(update_fields=["group_note", "register_taken_at", "register_taken_by"])
    return session


# Programmes ----------------------------------------------------------------------------


SHARED_READ_ONLY = (
    "The shared programmes are the same for every service, so a service cannot change them. "
    "Copy this one into your service and change the copy."
)


@transaction.atomic
def programme_revise(
    *,
    programme: Programme,
    by,
    name: str | None = None,
    description: str | None = None,
    phase_names: Mapping[int, str] | None = None,
    themes: Mapping[int, str] | None = None,
) -> Programme:
    """Save edits to a service's own programme as a new current version. Cohorts keep the
    version they started with. The shared defaults are refused: a service copies one
    (programme_copy), and the platform revises them (shared_programme_revise).

    `phase_names` maps phase order to name; `themes` maps programme week to theme.
    Sends events.programme_revised so higher layers copy what they attach (timepoints).
    """
    old = Programme.objects.select_for_update().get(pk=programme.pk)
    if old.service_id is None:
        raise ValidationError(SHARED_READ_ONLY)
    return _programme_new_version(
        old=old,
        by=by,
        name=name,
        description=description,
        phase_names=phase_names,
        themes=themes,
    )


@transaction.atomic
def shared_programme_revise(*, key: str, by, **edits) -> Programme:
    """A new current version of a shared default programme, for every service: the
    platform's own revision (manage.py revise_shared_programme), never a service's.
    `edits` are programme_revise's name, description, phase_names and themes."""
    old = (
        Programme.objects.select_for_update()
        .filter(key=key, is_current=True, service__isnull=True)
        .first()
    )
    if old is None:
        raise ValidationError(f"No shared programme has the key {key!r}.")
    return _programme_new_version(old=old, by=by, **edits)


def _programme_new_version(
    *, old, by, name=None, description=None, phase_names=None, themes=None
) -> Programme:
    if not old.is_current:
        raise ValidationError("A newer version of this programme exists. Edit that one.")
    phases = list(old.phases.order_by("order"))
    weeks = {c.week: c for c in old.curriculum.order_by("week")}
    phase_names = {int(k): v.strip() for k, v in (phase_names or {}).items()}
    themes = {int(k): v.strip() for k, v in (themes or {}).items()}
    new_name = (name if name is not None else old.name).strip()
    new_description = (description if description is not None else old.description).strip()

    errors: dict[str, list[str]] = {}
    if not new_name:
        errors["name"] = ["A programme needs a name."]
    if any(not v for v in phase_names.values()):
        errors.setdefault("__all__", []).append("Every phase needs a name.")
    if set(phase_names) - {p.order for p in phases}:
        errors.setdefault("__all__", []).append("One of the phases does not exist.")
    if errors:
        raise ValidationError(errors)
    new_themes = {week: c.theme for week, c in weeks.items()}
    for week, theme in themes.items():
        if theme:
            new_themes[week] = theme
        else:
            new_themes.pop(week, None)
    unchanged = (
        new_name == old.name
        and new_description == old.description
        and all(phase_names.get(p.order, p.name) == p.name for p in phases)
        and new_themes == {week: c.theme for week, c in weeks.items()}
    )
    if unchanged:
        raise ValidationError("Nothing has changed, so no new version was made.")

    version = Programme.objects.filter(key=old.key).aggregate(v=Max("version"))["v"] + 1
    old.is_current = False
    old.save(update_fields=["is_current"])
    new = _programme_lay_out(
        source=old,
        key=old.key,
        version=version,
        name=new_name,
        description=new_description,
        service=old.service,
        by=by,
        phase_names=phase_names,
        themes=new_themes,
    )
    events.programme_revised.send(sender=Programme, programme=new, previous=old)
    return new


def _programme_lay_out(
    *, source, key, version, name, description, service, by, phase_names, themes
) -> Programme:
    """A new Programme row with `source`'s phases (renamed by `phase_names`) and `themes`."""
    new = Programme.objects.create(
        key=key,
        version=version,
        name=name,
        description=description,
        service=service,
        is_current=True,
        default_capacity=source.default_capacity,
        session_minutes=source.session_minutes,
        total_weeks=source.total_weeks,
        created_by=by,
    )
    phases = Phase.objects.bulk_create(
        [
            Phase(
                programme=new,
                order=p.order,
                name=phase_names.get(p.order, p.name),
                kind=p.kind,
                start_week=p.start_week,
                weeks=p.weeks,
                group_meets=p.group_meets,
            )
            for p in source.phases.order_by("order")
        ]
    )
    weeks = CurriculumWeek.objects.bulk_create(
        [CurriculumWeek(programme=new, week=w, theme=t) for w, t in sorted(themes.items())]
    )
    record_bulk_changes(
        entries=[(row, {}) for row in [*phases, *weeks]], action=LogEntry.Action.CREATE
    )
    return new


@transaction.atomic
def programme_copy(*, programme: Programme, service: Service, name: str, by) -> Programme:
    """Copy a shared programme's current version into `service`, as that service's own
    programme (version 1, its own key) to change there in versions. Sends
    events.programme_copied so higher layers copy what they attach (timepoints, reminders).
    """
    # Claims the shared row: two administrators copying at once would otherwise both pass
    # the "already has a copy" check and the second would hit programme_version_unique.
    source = Programme.objects.select_for_update().get(pk=programme.pk)
    if source.service_id is not None or not source.is_current:
        raise ValidationError("Only the current version of a shared programme can be copied.")
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["A programme needs a name."]})
    key = f"{source.key}-service-{service.pk}"
    if Programme.objects.filter(key=key).exists():
        raise ValidationError(
            {"service": [f"{service.name} already has a copy of this programme: change that one."]}
        )
    new = _programme_lay_out(
        source=source,
        key=key,
        version=1,
        name=name,
        description=source.description,
        service=service,
        by=by,
        phase_names={},
        themes=dict(source.curriculum.values_list("week", "theme")),
    )
    events.programme_copied.send(sender=Programme, programme=new, source=source)
    return new
