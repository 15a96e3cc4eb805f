"""What moving a cohort's start date does to its calendar, worked out before anything moves.

A date is a decision (DESIGN.md, "Time, ends and corrections"): a session cancelled or moved
was cancelled or moved because of its date, a bank holiday or a room. Moving the start
re-dates every session not yet held, so each earlier decision either still fits its new date
(proposed: keep it) or no longer does (the clinician decides again; there is no default), and
each session newly landing on a bank holiday gets a choice too. Past sessions stay where they
are: held ones because they happened, cancelled ones because their day has gone.

`cohort_start_move_preview` is a pure read; programmes.services.cohort_start_move applies it.
"""

import datetime
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache

import holidays
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import date_format

from programmes.models import Cohort, GroupSession

KEEP, DROP, CANCEL = "keep", "drop", "cancel"
# A new start further than this from today is a typing slip, and would run dates off the
# calendar (a DateField takes years up to 9999).
FURTHEST_START = datetime.timedelta(days=5 * 366)

Status = GroupSession.Status


def session_is_held(session: GroupSession, today: datetime.date) -> bool:
    """Held: its day is past, or it is today and its register is taken. Never when cancelled."""
    if session.status == Status.CANCELLED:
        return False
    return session.date < today or (session.date == today and session.register_taken_at is not None)


def _stays(session: GroupSession, today: datetime.date) -> bool:
    return session.date < today or session_is_held(session, today)


@cache
def _bank_holidays(year: int):
    return holidays.country_holidays("GB", subdiv="ENG", years=year)


def bank_holiday_name(day: datetime.date) -> str:
    """The bank holiday in England and Wales on `day`, or ""."""
    name = _bank_holidays(day.year).get(day) or ""
    return name[:100]


def _day(day: datetime.date) -> str:
    return date_format(day, "l j F Y")


@dataclass(frozen=True)
class Outcome:
    date: datetime.date
    status: str
    reason: str
    start_time: datetime.time

    @property
    def bank_holiday(self) -> str:
        return bank_holiday_name(self.date)

    def get_status_display(self) -> str:
        return Status(self.status).label


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    outcome: Outcome


@dataclass
class SessionPlan:
    """One session: where it is now, and where each allowed choice would put it."""

    session: GroupSession
    held: bool
    moves: bool
    new_planned_date: datetime.date
    choices: tuple[Choice, ...] = ()
    proposed: str | None = None
    needs_decision: bool = False
    note: str = ""
    chosen: str | None = None
    # None while a needed decision has not been made.
    outcome: Outcome | None = None

    @property
    def number(self) -> int:
        return self.session.number

    @property
    def bank_holiday_before(self) -> str:
        return bank_holiday_name(self.session.date)

    @property
    def bank_holiday_after(self) -> str:
        return self.outcome.bank_holiday if self.outcome else ""

    @property
    def lands_on_bank_holiday(self) -> bool:
        after = self.bank_holiday_after
        return bool(after) and after != self.bank_holiday_before

    @property
    def leaves_bank_holiday(self) -> bool:
        before = self.bank_holiday_before
        if self.outcome is None:
            return bool(before) and all(c.outcome.bank_holiday != before for c in self.choices)
        return bool(before) and self.bank_holiday_after != before

    @property
    def choice_values(self) -> list[str]:
        return [c.value for c in self.choices]

    def changes(self) -> dict[str, list]:
        """{field: [old, new]} for the session row; empty when nothing changes."""
        if self.outcome is None or not self.moves:
            return {}
        s, o = self.session, self.outcome
        pairs = {
            "planned_date": (s.planned_date, self.new_planned_date),
            "date": (s.date, o.date),
            "status": (s.status, o.status),
            "change_reason": (s.change_reason, o.reason),
            "start_time": (s.start_time, o.start_time),
            "bank_holiday": (s.bank_holiday, o.bank_holiday),
        }
        changed = {name: [old, new] for name, (old, new) in pairs.items() if old != new}
        if changed and o.reason:
            # The reason goes into the audit entry even when it is kept, so the trail says
            # why the session is cancelled or moved on its new date.
            changed["change_reason"] = [s.change_reason, o.reason]
        return changed


@dataclass
class StartMovePreview:
    cohort: Cohort
    previous_start_date: datetime.date
    new_start_date: datetime.date
    today: datetime.date
    sessions: list[SessionPlan]
    # Field name -> messages, in the shape of a ValidationError's message_dict.
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def offset(self) -> datetime.timedelta:
        return self.new_start_date - self.previous_start_date

    @property
    def with_choices(self) -> list[SessionPlan]:
        return [p for p in self.sessions if p.choices]

    @property
    def needing_decision(self) -> list[SessionPlan]:
        return [p for p in self.sessions if p.needs_decision]

    @property
    def changed(self) -> list[SessionPlan]:
        return [p for p in self.sessions if p.changes()]

    def raise_if_invalid(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)

    def with_decisions(self, decisions: Mapping[int, str] | None) -> "StartMovePreview":
        """The same calendar with `decisions` (session id -> choice) made. No queries."""
        if not self.sessions:
            return self
        decisions = {str(k): v for k, v in (decisions or {}).items()}
        decided = replace(self, sessions=[], errors={})
        for plan in self.sessions:
            plan = replace(plan)
            if plan.choices:
                plan.chosen, plan.outcome = None, None
                chosen = decisions.get(str(plan.session.pk), plan.proposed)
                field_name = decision_field(plan.session)
                if chosen is None:
                    decided.errors[field_name] = [
                        f"Session {plan.number} needs a new decision: {plan.note} "
                        f"Choose {_or(plan.choices)}."
                    ]
                elif chosen not in plan.choice_values:
                    decided.errors[field_name] = [
                        f"Session {plan.number}: “{chosen}” is not one of its choices; "
                        f"choose {_or(plan.choices)}."
                    ]
                else:
                    plan.chosen = chosen
                    plan.outcome = next(c.outcome for c in plan.choices if c.value == chosen)
            decided.sessions.append(plan)
        _find_clashes(decided)
        return decided

    def summary(self) -> str:
        """What the move did, in a sentence or two, for the page it returns to."""
        moved = [p for p in self.sessions if p.moves]
        stayed = len(self.sessions) - len(moved)
        parts = [
            f"The first session is now on {_day(self.new_start_date)}: "
            f"{len(moved)} session{'s' if len(moved) != 1 else ''} re-dated"
            + (f", {stayed} already past stayed where they were" if stayed else "")
            + "."
        ]
        decided = []
        for plan in self.with_choices:
            outcome = plan.outcome
            if outcome is None:
                continue
            when = _day(outcome.date)
            if outcome.status == Status.CANCELLED:
                decided.append(f"session {plan.number} cancelled ({when})")
            elif outcome.status == Status.MOVED:
                decided.append(f"session {plan.number} still moved, to {when}")
            elif outcome.bank_holiday:
                decided.append(f"session {plan.number} meets on {outcome.bank_holiday} ({when})")
            else:
                decided.append(f"session {plan.number} back on its planned day, {when}")
        if decided:
            sentence = _and(decided)
            parts.append(sentence[0].upper() + sentence[1:] + ".")
        return " ".join(parts)


def decision_field(session: GroupSession) -> str:
    """The name a session's decision goes by, in forms and in ValidationErrors."""
    return f"decision_{session.pk}"


def cohort_start_move_preview(
    *,
    cohort: Cohort,
    new_start_date: datetime.date,
    today: datetime.date | None = None,
    decisions: Mapping[int, str] | None = None,
) -> StartMovePreview:
    """The calendar as it would be with the cohort starting on `new_start_date`.

    `decisions` maps session id to a choice; sessions it does not name take the proposed
    choice, or are listed in `errors` when they need a new decision. Changes nothing.
    """
    today = today or timezone.localdate()
    preview = StartMovePreview(
        cohort=cohort,
        previous_start_date=cohort.start_date,
        new_start_date=new_start_date,
        today=today,
        sessions=[],
    )
    offset = preview.offset
    if not offset:
        preview.errors["new_start_date"] = ["The cohort already starts on this date."]
        return preview
    if abs(new_start_date - today) > FURTHEST_START:
        preview.errors["new_start_date"] = [
            "Choose a date within five years of today for the first session."
        ]
        return preview

    sessions = list(cohort.sessions.order_by("number"))
    vacated = _days_decided_against(sessions)
    preview.sessions = [_plan(session, cohort, offset, today, vacated) for session in sessions]
    return preview.with_decisions(decisions)


def _or(choices) -> str:
    return " or ".join(f"“{c.label}”" for c in choices)


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _days_decided_against(sessions) -> dict[datetime.date, GroupSession]:
    """Bank holidays on which a session was cancelled, or which a session was moved off.

    A session landing on one of these days is proposed for cancelling: the earlier decision
    was about the day, not about that session.
    """
    days = {}
    for s in sessions:
        if s.status == Status.CANCELLED and bank_holiday_name(s.date):
            days[s.date] = s
        elif (
            s.status == Status.MOVED
            and s.date != s.planned_date
            and bank_holiday_name(s.planned_date)
        ):
            days[s.planned_date] = s
    return days


def _plan(session, cohort, offset, today, vacated) -> SessionPlan:
    new_planned = session.planned_date + offset
    if _stays(session, today):
        plan = SessionPlan(
            session=session,
            held=session_is_held(session, today),
            moves=False,
            new_planned_date=session.planned_date,
        )
        plan.outcome = Outcome(
            session.date, session.status, session.change_reason, session.start_time
        )
        return plan
    plan = SessionPlan(session=session, held=False, moves=True, new_planned_date=new_planned)
    same = Outcome(session.date + offset, session.status, session.change_reason, session.start_time)
    as_planned = Outcome(new_planned, Status.SCHEDULED, "", cohort.start_time)
    before, after = bank_holiday_name(session.date), bank_holiday_name(same.date)

    if session.status == Status.SCHEDULED:
        plan.outcome = same
        if after and after != before:
            cancelled = Outcome(
                same.date, Status.CANCELLED, f"Bank holiday: {after}", same.start_time
            )
            plan.choices = (
                Choice(KEEP, "Meet on the bank holiday", same),
                Choice(CANCEL, f"Cancel it for {after}", cancelled),
            )
            plan.note = f"Its new date is a bank holiday: {after}."
            earlier = vacated.get(same.date)
            if earlier is not None and earlier.pk != session.pk:
                plan.proposed = CANCEL
                verb = "cancelled for" if earlier.status == Status.CANCELLED else "moved off"
                plan.note += f" Session {earlier.number} was {verb} this day."
            else:
                plan.proposed = KEEP
        return plan

    if session.status == Status.CANCELLED:
        plan.choices = (
            Choice(KEEP, f"Keep it cancelled ({_day(same.date)})", same),
            Choice(DROP, f"Hold it on {_day(as_planned.date)}", as_planned),
        )
        fits = before == after
        plan.note = _why("cancelled", session.change_reason, before, after, same.date)
    else:
        plan.choices = (
            Choice(KEEP, f"Keep the move: {_day(same.date)}, {same.start_time:%H:%M}", same),
            Choice(DROP, f"Back to {_day(as_planned.date)}, as planned", as_planned),
        )
        planned_before, planned_after = (
            bank_holiday_name(session.planned_date),
            bank_holiday_name(new_planned),
        )
        fits = before == after and planned_before == planned_after
        if planned_before != planned_after:
            plan.note = _why(
                "moved", session.change_reason, planned_before, planned_after, new_planned
            )
        else:
            plan.note = _why("moved", session.change_reason, before, after, same.date)
    plan.needs_decision = not fits
    plan.proposed = KEEP if fits else None
    return plan


def _why(verb: str, reason: str, before: str, after: str, new_day: datetime.date) -> str:
    said = f"It was {verb} (“{reason}”)"
    if before == after:
        return f"{said}; the reason still fits its new date."
    if before and not after:
        return f"{said} for {before}; {_day(new_day)} is not a bank holiday."
    if after and not before:
        return f"{said}; {_day(new_day)} is a bank holiday: {after}."
    return f"{said} for {before}; {_day(new_day)} is {after} instead."


def _find_clashes(preview: StartMovePreview) -> None:
    """Two sessions meeting on one day, which session_one_per_day_per_cohort refuses."""
    by_day = defaultdict(list)
    for plan in preview.sessions:
        if plan.outcome is not None and plan.outcome.status != Status.CANCELLED:
            by_day[plan.outcome.date].append(plan)
    messages = []
    for day, plans in sorted(by_day.items()):
        if len(plans) < 2:
            continue
        staying = [p for p in plans if not p.moves]
        moving = _and([str(p.number) for p in plans if p.moves])
        if staying:
            messages.append(
                f"This would put session {moving} on {_day(day)}, the date of session "
                f"{staying[0].number}, which has already been held. Choose another date."
            )
        else:
            messages.append(
                f"This would put sessions {moving} {'both' if len(plans) == 2 else 'all'} "
                f"on {_day(day)}. Choose another date, or choose differently for one of them."
            )
    if messages:
        preview.errors.setdefault("new_start_date", []).extend(messages)
