"""Seeded real-world events: what clinicians, participants and the infrastructure do.

The whole plan is drawn from one random.Random(seed) before the first day; choices that
depend on the state of the world when an event comes (which session, which person) are drawn
then from the event's own Random, seeded from the seed and the event's position, and made
among the simulation's own keys in sorted order, never database ids.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field

from tests.simulation.model import DAY, WEEK

EVENT_TIME = datetime.time(10, 30)
ANSWER_TIMES = (
    datetime.time(7, 30),
    datetime.time(12, 15),
    datetime.time(19, 45),
    datetime.time(22, 30),
)
PROGRAMMES = ("cfgp-52", "peg-usual-care")
ANSWER_PLANS = (("online", 50), ("partial", 15), ("never", 15), ("paper", 20))
ATTENDANCE = (("present", 70), ("late", 5), ("left_early", 3), ("apologies", 10), ("dna", 12))


def weighted(rng: random.Random, options) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


@dataclass(frozen=True)
class Event:
    day: datetime.date
    kind: str
    cohort: str
    number: int
    params: tuple = ()

    def rng(self, seed: int) -> random.Random:
        return random.Random(f"{seed}:{self.number}:{self.kind}:{self.cohort}")


@dataclass(frozen=True)
class CohortPlan:
    key: str
    programme: str
    start: datetime.date
    participants: int


@dataclass
class Plan:
    seed: int
    cohorts: list[CohortPlan]
    events: list[Event] = field(default_factory=list)
    worker_down: frozenset = frozenset()
    redis_down: frozenset = frozenset()
    first_day: datetime.date = datetime.date.min
    last_day: datetime.date = datetime.date.min

    def events_on(self, day: datetime.date) -> list[Event]:
        return [e for e in self.events if e.day == day]


# A Monday, so that staggered cohorts meet on Monday to Thursday, and the first year has
# Easter Monday, the May bank holidays and both clock changes in the group's weeks.
BASE_START = datetime.date(2027, 3, 1)


def make_plan(
    seed: int,
    *,
    cohorts: int = 4,
    participants: int = 6,
    open_window_move: bool = False,
    days: int | None = None,
) -> Plan:
    """Draw every event for `cohorts` cohorts; `open_window_move` forces a start move six
    weeks later while the first cohort's baseline window is open; `days` cuts the run short."""
    rng = random.Random(seed)
    base = BASE_START + rng.randint(0, 5) * WEEK
    plans = []
    for i in range(cohorts):
        # Staggered over half a year however many cohorts, on Monday to Thursday.
        start = base + ((2 * i) % 26) * WEEK + (i % 4) * DAY + rng.randint(0, 2) * WEEK
        plans.append(CohortPlan(f"c{i + 1}", PROGRAMMES[i % 2], start, participants))
    plan = Plan(seed=seed, cohorts=plans)
    events: list[tuple] = []

    def add(day, kind, cohort, *params):
        events.append((day, kind, cohort, params))

    for c in plans:
        last_session = c.start + (51 if c.programme == "cfgp-52" else 11) * WEEK
        if open_window_move and c.key == "c1":
            add(c.start - 10 * DAY, "start_move", c.key, 6)
        elif rng.random() < 0.6:
            add(c.start - rng.randint(1, 30) * DAY, "start_move", c.key, rng.choice((-1, 1, 2, 6)))
        if rng.random() < 0.5:
            add(c.start + rng.randint(8, 70) * DAY, "start_move", c.key, rng.choice((1, 2)))
        for _ in range(rng.randint(1, 3)):
            add(c.start + rng.randint(0, 300) * DAY, "session_cancel", c.key)
        for _ in range(rng.randint(1, 3)):
            add(c.start + rng.randint(0, 300) * DAY, "session_move", c.key)
        for _ in range(rng.randint(1, 2)):
            # Into the open baseline window: it opens 21 days before the start.
            add(c.start - rng.randint(3, 18) * DAY, "late_enrolment", c.key)
        span = (last_session - c.start).days
        for kind in ("withdraw", "discharge"):
            if rng.random() < 0.8:
                add(c.start + rng.randint(14, max(15, span - 7)) * DAY, kind, c.key)
        if rng.random() < 0.7:
            add(c.start + rng.randint(-20, 700) * DAY, "opt_out", c.key)
        for _ in range(rng.randint(1, 3)):
            add(c.start + rng.randint(-20, 700) * DAY, "channel_change", c.key)
    events.sort(key=lambda e: (e[0], e[1], e[2], e[3]))
    plan.events = [Event(d, k, c, n, p) for n, (d, k, c, p) in enumerate(events)]

    plan.first_day = min(c.start for c in plans) - 28 * DAY
    plan.last_day = max(c.start for c in plans) + 104 * WEEK + 42 * DAY + 6 * WEEK + 3 * DAY
    if days is not None:
        plan.last_day = plan.first_day + (days - 1) * DAY
    span = (plan.last_day - plan.first_day).days
    plan.worker_down = frozenset(
        plan.first_day + rng.randint(1, span) * DAY for _ in range(max(1, span // 250))
    )
    plan.redis_down = frozenset(
        plan.first_day + rng.randint(1, span) * DAY for _ in range(max(1, span // 350))
    )
    return plan
