"""The simulation's own idea of what should be true, built from its event log and the written
rules (DESIGN.md "Time, ends and corrections", MEASURES.md's schedule and reminder rules).

Nothing here imports the code under test: the schedule, the phases, the calendar rule and the
reminder policy are written out again from the documents, so a bug in the application cannot
hide by being copied into the model.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from functools import cache
from zoneinfo import ZoneInfo

import holidays

UK = ZoneInfo("Europe/London")
DAY = datetime.timedelta(days=1)
WEEK = datetime.timedelta(weeks=1)

# MEASURES.md: the default reminder policy.
FIRST_REMINDER_DAYS = 3
SECOND_REMINDER_DAYS = 7
FINAL_DAYS_BEFORE_CLOSE = 2
ESCALATE_DAYS_AFTER_SECOND = 2
QUIET_FROM = datetime.time(20, 0)
QUIET_UNTIL = datetime.time(9, 0)
PARTICIPANT_KINDS = ("invitation", "reminder_1", "reminder_2", "final", "manual")
# Completed by staff from the record: never a reason to message the participant.
STAFF_ONLY = ("service_use",)

FULL_SET = (
    "core10",
    "dass21",
    "fscrs",
    "fcs",
    "oas",
    "ssps",
    "wsas",
    "occupation",
    "service_use",
)
# MEASURES.md's default schedule: key, week, opens (days), closes (days), instruments.
TIMEPOINTS = (
    ("baseline", 0, -21, 14, FULL_SET),
    ("week12", 12, -7, 21, tuple(c for c in FULL_SET if c != "service_use")),
    ("week32", 32, -7, 21, ("core10", "dass21", "fscrs")),
    ("week52", 52, -7, 28, FULL_SET),
    ("week104", 104, -14, 42, FULL_SET),
)
TIMEPOINT_KEYS = tuple(t[0] for t in TIMEPOINTS)
# The weeks in which each default programme's group meets, by phase order.
GROUP_WEEKS = {
    "cfgp-52": ((1, 1, 12), (2, 13, 52)),
    "peg-usual-care": ((1, 1, 12),),
}
LIVE = ("scheduled", "open", "in_progress")
ANSWERABLE = ("open", "in_progress")
# Not started and not closed by anyone: what a start move re-dates (DESIGN.md "Time, ends and
# corrections"). A cancelled questionnaire keeps the window it had when it was cancelled.
SHIFTING = ("scheduled", "open", "missed")


@cache
def _bank_holidays(year: int):
    return holidays.country_holidays("GB", subdiv="ENG", years=year)


def bank_holiday(day: datetime.date) -> str:
    return (_bank_holidays(day.year).get(day) or "")[:100]


def local(day: datetime.date, at: datetime.time) -> datetime.datetime:
    return datetime.datetime.combine(day, at, tzinfo=UK)


def local_day(moment: datetime.datetime) -> datetime.date:
    return moment.astimezone(UK).date()


def is_quiet(moment: datetime.datetime) -> bool:
    clock = moment.astimezone(UK).time()
    return clock >= QUIET_FROM or clock < QUIET_UNTIL


def window(start: datetime.date, timepoint_key: str) -> tuple[datetime.date, datetime.date]:
    for key, week, opens, closes, _codes in TIMEPOINTS:
        if key == timepoint_key:
            due = start + datetime.timedelta(weeks=week)
            return due + datetime.timedelta(days=opens), due + datetime.timedelta(days=closes)
    raise KeyError(timepoint_key)


def status_on(today: datetime.date, opens: datetime.date, closes: datetime.date) -> str:
    if closes < today:
        return "missed"
    return "open" if opens <= today else "scheduled"


@dataclass
class MSession:
    number: int
    week: int
    phase: int
    date: datetime.date
    status: str = "scheduled"
    # The moment its register was taken: from then on the session is held and never moves.
    register_at: datetime.datetime | None = None
    # Re-dated by a clinician's decision in a start move: the model adopts the date chosen.
    decided: str = ""

    def held(self, today: datetime.date) -> bool:
        if self.status == "cancelled":
            return False
        return self.date < today or (self.date == today and self.register_at is not None)


@dataclass
class MCohort:
    key: str
    programme: str
    start: datetime.date
    db_id: int = 0
    sessions: dict[int, MSession] = field(default_factory=dict)
    # (session number, enrolment key) -> attendance status, as the register recorded it.
    marks: dict[tuple[int, str], str] = field(default_factory=dict)

    def lay_out_sessions(self) -> None:
        number = 0
        for phase, first, last in GROUP_WEEKS[self.programme]:
            for week in range(first, last + 1):
                number += 1
                day = self.start + (week - 1) * WEEK
                self.sessions[number] = MSession(number, week, phase, day)

    def last_session_date(self) -> datetime.date | None:
        dates = [s.date for s in self.sessions.values() if s.status != "cancelled"]
        return max(dates) if dates else None

    def week_date(self, week: int) -> datetime.date:
        return self.start + (week - 1) * WEEK


@dataclass
class MAdmin:
    timepoint: str
    code: str
    opens: datetime.date
    closes: datetime.date
    status: str
    started: bool = False
    completed_at: datetime.datetime | None = None


@dataclass
class MGroup:
    """One enrolment's questionnaires at one timepoint: what its messages are about."""

    timepoint: str
    # [(from moment, opens, closes)]: the window as it stood from each moment on.
    windows: list = field(default_factory=list)
    # The moment the last answerable questionnaire of the group was completed.
    done_at: datetime.datetime | None = None
    # The day the model first saw the group open for an invitation.
    eligible_since: datetime.date | None = None
    answer_plan: str = ""
    answer_fraction: float = 0.0
    answer_time: datetime.time = datetime.time(12, 0)
    answered: bool = False

    def window_at(self, moment: datetime.datetime):
        current = None
        for since, opens, closes in self.windows:
            if since <= moment:
                current = (opens, closes)
        return current


@dataclass
class MParticipant:
    key: str
    db_id: int = 0
    # [(from moment, channel)]
    channels: list = field(default_factory=list)
    opted_out_at: datetime.datetime | None = None

    def channel_at(self, moment: datetime.datetime) -> str:
        current = self.channels[0][1]
        for since, channel in self.channels:
            if since <= moment:
                current = channel
        return current


@dataclass
class MEnrolment:
    key: str
    cohort: str
    participant: str
    enrolled_on: datetime.date
    db_id: int = 0
    status: str = "active"
    ended_on: datetime.date | None = None
    # When the withdrawal or discharge was recorded (it may be dated earlier).
    left_at: datetime.datetime | None = None
    completed_expected_on: datetime.date | None = None
    admins: dict[tuple[str, str], MAdmin] = field(default_factory=dict)
    groups: dict[str, MGroup] = field(default_factory=dict)
    # The questionnaires messages are about, by timepoint (laid out once, never re-made).
    messaged: dict[str, list[MAdmin]] = field(default_factory=dict)

    @property
    def left(self) -> bool:
        return self.status in ("withdrawn", "discharged")


class Model:
    """The world as the simulation believes it to be."""

    def __init__(self):
        self.cohorts: dict[str, MCohort] = {}
        self.participants: dict[str, MParticipant] = {}
        self.enrolments: dict[str, MEnrolment] = {}

    # Questionnaires -----------------------------------------------------------------

    def lay_out(self, enrolment: MEnrolment, today: datetime.date, now) -> None:
        cohort = self.cohorts[enrolment.cohort]
        for key, _week, _o, _c, codes in TIMEPOINTS:
            opens, closes = window(cohort.start, key)
            for code in codes:
                enrolment.admins[(key, code)] = MAdmin(
                    key, code, opens, closes, status_on(today, opens, closes)
                )
            enrolment.groups.setdefault(key, MGroup(key))
        self._refresh_windows(enrolment, now)

    def open_and_expire(self, today: datetime.date) -> None:
        for enrolment in self.enrolments.values():
            for adm in enrolment.admins.values():
                if adm.status == "scheduled" and adm.opens <= today <= adm.closes:
                    adm.status = "open"
                if adm.status in LIVE and adm.closes < today:
                    adm.status = "expired"

    def cancel_future(self, enrolment: MEnrolment) -> None:
        for adm in enrolment.admins.values():
            if adm.status in ("scheduled", "open") and not adm.started:
                adm.status = "cancelled"

    def shift(self, cohort: MCohort, today: datetime.date, now) -> None:
        for enrolment in self.enrolments.values():
            if enrolment.cohort != cohort.key:
                continue
            for adm in enrolment.admins.values():
                if adm.started or adm.status not in SHIFTING:
                    continue
                adm.opens, adm.closes = window(cohort.start, adm.timepoint)
                adm.status = status_on(today, adm.opens, adm.closes)
            self._refresh_windows(enrolment, now)

    def _refresh_windows(self, enrolment: MEnrolment, now) -> None:
        for key, group in enrolment.groups.items():
            admins = self.messaged_admins(enrolment, key)
            live = [a for a in admins if a.status in LIVE] or admins
            span = (min(a.opens for a in live), max(a.closes for a in live))
            if not group.windows or group.windows[-1][1:] != span:
                group.windows.append((now, *span))

    def messaged_admins(self, enrolment: MEnrolment, timepoint: str) -> list[MAdmin]:
        found = enrolment.messaged.get(timepoint)
        if found is None:
            found = enrolment.messaged[timepoint] = [
                a
                for k, a in enrolment.admins.items()
                if k[0] == timepoint and a.code not in STAFF_ONLY
            ]
        return found

    def group_window(self, enrolment: MEnrolment, timepoint: str):
        """(opens, closes) over the group's answerable questionnaires, or None."""
        live = [a for a in self.messaged_admins(enrolment, timepoint) if a.status in ANSWERABLE]
        if not live:
            return None
        return min(a.opens for a in live), max(a.closes for a in live)

    def messages_allowed(self, enrolment: MEnrolment, timepoint: str, today) -> tuple | None:
        """The group's window when the participant may be messaged about it today, else None.

        Follow-up questionnaires still go after a completed programme; leaving early, opting
        out, answering everything and the window's end stop them.
        """
        if enrolment.left:
            return None
        if self.participants[enrolment.participant].opted_out_at is not None:
            return None
        span = self.group_window(enrolment, timepoint)
        if span is None or not (span[0] <= today <= span[1]):
            return None
        return span

    def complete(self, enrolment: MEnrolment, adm: MAdmin, now) -> None:
        adm.status = "completed"
        adm.started = True
        adm.completed_at = now
        group = enrolment.groups[adm.timepoint]
        admins = self.messaged_admins(enrolment, adm.timepoint)
        if group.done_at is None and not any(a.status in ANSWERABLE for a in admins):
            group.done_at = now


def expected_after_invitation(
    invited: datetime.date, opens: datetime.date, closes: datetime.date
) -> dict[str, datetime.date]:
    """The days the policy puts each later message on, counted from the invitation actually
    sent (or from the window's opening, for a window that moved later after its invitation,
    so that the reminders keep their spacing rather than all going on the day it reopens):
    reminders 3 and 7 days after, while still before the final reminder's day, and the final
    reminder 2 days before the window closes."""
    base = reminder_base(invited, opens)
    final_day = closes - FINAL_DAYS_BEFORE_CLOSE * DAY
    days = {}
    for kind, offset in (("reminder_1", FIRST_REMINDER_DAYS), ("reminder_2", SECOND_REMINDER_DAYS)):
        when = base + offset * DAY
        if when < final_day:
            days[kind] = when
    if final_day > base:
        days["final"] = final_day
    return days


def reminder_base(invited: datetime.date, opens: datetime.date) -> datetime.date:
    return max(invited, opens)
