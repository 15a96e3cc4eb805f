"""Editing a cohort after it is created: its name, venue, day and time, capacity and
facilitators.

A change of day or time re-plans only the sessions not yet held (the one rule:
programmes.models.held_q). Each re-planned session keeps its programme week: the new day
is the first one on or after the start of that week (the start date's weekday), so a
session never leaves its week or swaps places with another. Sessions already moved or
cancelled keep the date and time decided for them, since that decision was about a
specific day (a room, a bank holiday); only their planned date follows, and the summary
lists them so the clinician can look at each again. A scheduled session whose new day
has already passed this week keeps its date, so the week still has its group.

If the first session is re-planned, the start date moves with it and
events.cohort_rescheduled is sent, as for programmes.services.cohort_start_move, so
questionnaire windows and their messages are planned again.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import record_bulk_changes
from programmes import events
from programmes.calendar import _and as and_list
from programmes.calendar import _day as long_day
from programmes.calendar import bank_holiday_name, session_is_held
from programmes.models import Cohort, Enrolment, GroupSession

Status = GroupSession.Status
LABELS = {
    "name": "name",
    "venue": "venue",
    "weekday": "day of the week",
    "start_time": "start time",
    "capacity": "capacity",
    "facilitators": "facilitators",
}


@dataclass
class CohortEdit:
    """What an edit changed, for the page it returns to."""

    cohort: Cohort
    fields: list[str]
    redated: list[GroupSession] = field(default_factory=list)
    retimed: list[GroupSession] = field(default_factory=list)
    kept_decisions: list[GroupSession] = field(default_factory=list)
    day_passed: list[GroupSession] = field(default_factory=list)
    start_moved: bool = False

    def summary(self) -> str:
        labels = [LABELS.get(name, name) for name in self.fields]
        parts = [f"Cohort saved: {and_list(labels)} changed."]
        if self.redated or self.retimed:
            count = len({s.pk for s in [*self.redated, *self.retimed]})
            parts.append(
                f"{count} session{'s' if count != 1 else ''} not yet held "
                f"{'now follow' if count != 1 else 'now follows'} the new day and time."
            )
        if self.start_moved:
            parts.append(
                f"The first session is now on {long_day(self.cohort.start_date)}, and "
                "questionnaire dates follow it."
            )
        for label, sessions in (
            (
                "already moved or cancelled, kept the date decided for "
                "{them}: check whether that still fits",
                self.kept_decisions,
            ),
            ("{verb} on {its} old day this week, because the new day has passed", self.day_passed),
        ):
            if sessions:
                many = len(sessions) != 1
                numbers = and_list([str(s.number) for s in sessions])
                text = label.format(
                    them="them" if many else "it",
                    verb="stay" if many else "stays",
                    its="their" if many else "its",
                )
                parts.append(f"Session{'s' if many else ''} {numbers} {text}.")
        bank = [s for s in self.redated if s.bank_holiday]
        if bank:
            parts.append(
                "Now on a bank holiday: "
                + and_list([f"session {s.number} ({s.bank_holiday})" for s in bank])
                + ". Move or cancel them if the group will not meet."
            )
        return " ".join(parts)


@transaction.atomic
def cohort_update(
    *,
    cohort: Cohort,
    by,
    name: str | None = None,
    venue: str | None = None,
    weekday: int | None = None,
    start_time: datetime.time | None = None,
    capacity: int | None = None,
    facilitators: Iterable | None = None,
    today: datetime.date | None = None,
) -> CohortEdit:
    """Change any of the cohort's details; None leaves a detail as it is.

    `by` is named in the audit entries of the sessions re-planned in bulk; the cohort's own
    entries (each changed field, and the facilitators) are auditlog's, by the actor of the
    request, as for cohort_start_move.

    Refuses (ValidationError by field) a capacity below the open enrolments, a name another
    cohort of the service has, facilitators who are not clinicians of the service, a day or
    time that would put two sessions on one day, and an edit that changes nothing.
    """
    from programmes.services import facilitator_candidates

    # The lock makes the capacity check and the save one step against a concurrent
    # enrolment_create, which locks the same row before counting places.
    cohort = Cohort.objects.select_for_update().get(pk=cohort.pk)
    today = today or timezone.localdate()
    errors: dict[str, list[str]] = {}
    new: dict[str, object] = {}

    if name is not None:
        name = name.strip()
        if not name:
            errors["name"] = ["A cohort needs a name."]
        elif name != cohort.name:
            if (
                Cohort.objects.filter(service_id=cohort.service_id, name=name)
                .exclude(pk=cohort.pk)
                .exists()
            ):
                errors["name"] = ["Your service already has a cohort with this name."]
            new["name"] = name
    if venue is not None:
        venue = venue.strip()
        if not venue:
            errors["venue"] = ["Say where the group meets."]
        elif venue != cohort.venue:
            new["venue"] = venue
    if weekday is not None and weekday != cohort.weekday:
        if weekday not in Cohort.Weekday.values:
            errors["weekday"] = ["Choose a day of the week."]
        new["weekday"] = weekday
    if start_time is not None and start_time != cohort.start_time:
        new["start_time"] = start_time
    if capacity is not None and capacity != cohort.capacity:
        enrolled = Enrolment.objects.filter(
            cohort=cohort, status__in=Enrolment.OPEN_STATUSES
        ).count()
        if capacity < 1:
            errors["capacity"] = ["A cohort needs at least one place."]
        elif capacity < enrolled:
            people = "1 person is" if enrolled == 1 else f"{enrolled} people are"
            errors["capacity"] = [
                f"{people} enrolled, so the cohort needs at least {enrolled} "
                f"place{'s' if enrolled != 1 else ''}. End an enrolment first to make it smaller."
            ]
        new["capacity"] = capacity
    facilitator_list = None
    if facilitators is not None:
        facilitator_list = list(facilitators)
        allowed = set(facilitator_candidates(cohort.service).values_list("pk", flat=True))
        if any(user.pk not in allowed for user in facilitator_list):
            errors["facilitators"] = ["Facilitators must be clinicians of the cohort's service."]
        current = set(cohort.facilitators.values_list("pk", flat=True))
        if {user.pk for user in facilitator_list} == current:
            facilitator_list = None
    if errors:
        raise ValidationError(errors)
    if not new and facilitator_list is None:
        raise ValidationError("Nothing has changed, so nothing was saved.")

    edit = CohortEdit(
        cohort=cohort, fields=[*new, *(["facilitators"] if facilitator_list is not None else [])]
    )
    previous_start_date = cohort.start_date
    if "weekday" in new or "start_time" in new:
        _replan_sessions(
            cohort=cohort,
            weekday=new.get("weekday", cohort.weekday),
            start_time=new.get("start_time", cohort.start_time),
            today=today,
            edit=edit,
            by=by,
        )
    if edit.start_moved:
        new["start_date"] = cohort.start_date
    for name_, value in new.items():
        setattr(cohort, name_, value)
    # A registered model: auditlog records each changed field, and the facilitators.
    cohort.save(update_fields=list(new))
    if facilitator_list is not None:
        cohort.facilitators.set(facilitator_list)
    if edit.start_moved:
        events.cohort_rescheduled.send(
            sender=Cohort, cohort=cohort, previous_start_date=previous_start_date
        )
    return edit


def _replan_sessions(*, cohort, weekday, start_time, today, edit: CohortEdit, by) -> None:
    """Put every session not yet held on `weekday` of its programme week at `start_time`,
    as the module docstring says. Changes `cohort.start_date` (not saved) if the first
    session moves."""
    # Days from the start of each programme week (the start date's weekday) to the new day.
    offset = datetime.timedelta(days=(weekday - cohort.start_date.weekday()) % 7)
    sessions = list(cohort.sessions.order_by("number"))
    changed, entries = [], []
    for session in sessions:
        if session.date < today or session_is_held(session, today):
            continue
        planned = cohort.week_date(session.week) + offset
        before = {
            name: getattr(session, name)
            for name in ("planned_date", "date", "start_time", "bank_holiday")
        }
        if session.status != Status.SCHEDULED:
            session.planned_date = planned
            if planned != before["planned_date"]:
                edit.kept_decisions.append(session)
        elif planned < today:
            edit.day_passed.append(session)
            continue
        else:
            session.planned_date = session.date = planned
            session.start_time = start_time
            session.bank_holiday = bank_holiday_name(planned)
            if session.date != before["date"]:
                edit.redated.append(session)
            elif session.start_time != before["start_time"]:
                edit.retimed.append(session)
        changes = {
            name: [old, getattr(session, name)]
            for name, old in before.items()
            if getattr(session, name) != old
        }
        if changes:
            changed.append(session)
            entries.append((session, changes))

    _refuse_clashes(sessions)
    first = sessions[0] if sessions else None
    if first is not None and (first in edit.redated or first in edit.kept_decisions):
        cohort.start_date = first.planned_date
        edit.start_moved = True
    # Each re-planned session stays inside its own programme week, and a session that keeps
    # its date is checked against them above, so no intermediate state of this update can
    # put two sessions on one day (session_one_per_day_per_cohort).
    GroupSession.objects.bulk_update(
        changed, ["planned_date", "date", "start_time", "bank_holiday"]
    )
    record_bulk_changes(entries=entries, actor=by)


def _refuse_clashes(sessions: list[GroupSession]) -> None:
    by_day: dict[datetime.date, list[GroupSession]] = {}
    for session in sessions:
        if session.status != Status.CANCELLED:
            by_day.setdefault(session.date, []).append(session)
    messages = [
        f"This would put session {same[1].number} on {long_day(day)}, already the date of "
        f"session {same[0].number}. Choose another day, or move one of them first."
        for day, same in sorted(by_day.items())
        if len(same) > 1
    ]
    if messages:
        raise ValidationError({"weekday": messages})
