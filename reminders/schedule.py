"""The reminder schedule in UK time: due times, quiet hours and days, across clock changes.

Every time here is an aware datetime. Local wall-clock times are built with zoneinfo for
Europe/London, so 09:00 is 09:00 on the morning the clocks go forward or back, and the
quiet-hours test reads the local clock rather than a fixed UTC offset.
"""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class Policy:
    first_reminder_days: int = 3
    second_reminder_days: int = 7
    final_reminder_days_before_close: int = 2
    escalate_days_after_second_reminder: int = 2
    quiet_from: datetime.time = datetime.time(20, 0)
    quiet_until: datetime.time = datetime.time(9, 0)

    @classmethod
    def from_row(cls, row) -> "Policy":
        return cls(
            first_reminder_days=row.first_reminder_days,
            second_reminder_days=row.second_reminder_days,
            final_reminder_days_before_close=row.final_reminder_days_before_close,
            escalate_days_after_second_reminder=row.escalate_days_after_second_reminder,
            quiet_from=row.quiet_from,
            quiet_until=row.quiet_until,
        )


DEFAULT_POLICY = Policy()


def local_at(day: datetime.date, at: datetime.time) -> datetime.datetime:
    return datetime.datetime.combine(day, at, tzinfo=UK)


def local_day(moment: datetime.datetime) -> datetime.date:
    return moment.astimezone(UK).date()


def day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """The start of a UK day and of the next (23 or 25 hours apart on clock-change days)."""
    return local_at(day, datetime.time(0)), local_at(
        day + datetime.timedelta(days=1), datetime.time(0)
    )


def is_quiet(moment: datetime.datetime, policy: Policy = DEFAULT_POLICY) -> bool:
    clock = moment.astimezone(UK).time()
    return clock >= policy.quiet_from or clock < policy.quiet_until


def next_allowed(moment: datetime.datetime, policy: Policy = DEFAULT_POLICY) -> datetime.datetime:
    """`moment` itself when messages may go out then, else the end of those quiet hours."""
    local = moment.astimezone(UK)
    if local.time() >= policy.quiet_from:
        return local_at(local.date() + datetime.timedelta(days=1), policy.quiet_until)
    if local.time() < policy.quiet_until:
        return local_at(local.date(), policy.quiet_until)
    return moment


def next_day_start(moment: datetime.datetime, policy: Policy = DEFAULT_POLICY) -> datetime.datetime:
    """The first moment messages may go out on the UK day after `moment`."""
    return local_at(local_day(moment) + datetime.timedelta(days=1), policy.quiet_until)


def window_end(closes_on: datetime.date) -> datetime.datetime:
    """A window is open to the end of its closing day, UK time."""
    return day_bounds(closes_on)[1]


def planned_messages(
    *,
    opens_on: datetime.date,
    closes_on: datetime.date,
    today: datetime.date,
    policy: Policy,
    invited_on: datetime.date | None = None,
    second_sent_on: datetime.date | None = None,
) -> list[tuple[str, datetime.datetime]]:
    """(kind, due_at) for one participant's timepoint, in order.

    The invitation goes when the window opens, or today for someone who joins once it is
    open. Reminders count from the day the invitation actually went (`invited_on`), or was
    planned to go, and never from before the window opened: someone who joins late gets
    both reminders spaced as everyone else's, not a burst and not none. Reminders that would
    land on or after the final reminder's day are left out. The facilitators are told a set
    number of days after the second reminder actually went (`second_sent_on`), or was planned.
    """
    day = datetime.timedelta(days=1)
    base = max(invited_on, opens_on) if invited_on else max(opens_on, today)
    final_day = closes_on - policy.final_reminder_days_before_close * day
    second_day = base + policy.second_reminder_days * day
    told_day = (second_sent_on or second_day) + policy.escalate_days_after_second_reminder * day
    candidates = [
        ("invitation", invited_on or base),
        ("reminder_1", base + policy.first_reminder_days * day),
        ("reminder_2", second_day),
        ("final", final_day),
        ("escalation", told_day),
    ]
    planned = []
    for kind, when in candidates:
        if kind in ("reminder_1", "reminder_2") and when >= final_day:
            continue
        if kind == "escalation" and "reminder_2" not in {k for k, _ in planned}:
            continue
        if kind == "final" and when <= base:
            continue
        if when > closes_on:
            continue
        planned.append((kind, local_at(when, policy.quiet_until)))
    return planned
