"""Drives cohorts day by day through their two years, time frozen at each step.

Every change goes through the service functions the views and tasks call; the beat tasks run
as config/settings.py schedules them (the dispatcher several times a day, the figures refresh,
the enrolment completion task), and each claimed message is sent at once through the file
backends; on days proven quiet (Simulation._quiet) the beat tasks rest. After every day the
invariants (tests/simulation/invariants.py) compare the database with the model
(tests/simulation/model.py) the simulation keeps from its own log.
"""

from __future__ import annotations

import datetime
import inspect
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import TestCase, override_settings

from tests.simulation import events as ev
from tests.simulation import invariants
from tests.simulation.model import (
    ANSWERABLE,
    DAY,
    ESCALATE_DAYS_AFTER_SECOND,
    MCohort,
    MEnrolment,
    Model,
    MParticipant,
    bank_holiday,
    expected_after_invitation,
    local,
    local_day,
)

BEAT_TIMES = (datetime.time(8, 0), datetime.time(9, 5), datetime.time(13, 0), datetime.time(20, 30))
# On days when, by the model, nothing is due, the dispatcher still runs, so a message sent
# when none should be is still seen.
IDLE_BEAT_TIMES = (datetime.time(13, 0),)
# On the nights the clocks change, also in the hour that happens twice (or never).
CLOCK_CHANGE_TIME = datetime.time(1, 30)
REGISTER_TIME = datetime.time(18, 0)
CHECK_TIME = datetime.time(23, 50)
DEAD_REDIS = "redis://127.0.0.1:1/0"
# A quiet day (Simulation._quiet) has nothing the model expects from today to a week ahead.
QUIET_HORIZON = datetime.timedelta(days=7)


@dataclass
class Result:
    seed: int
    days: int = 0
    events: Counter = field(default_factory=Counter)
    # Outcomes of message_send (sent, deferred, cancelled...), and messages sent by kind.
    messages: Counter = field(default_factory=Counter)
    sent_by_kind: Counter = field(default_factory=Counter)
    checks: int = 0
    violations: list = field(default_factory=list)
    wall: float = 0.0
    cpu: float = 0.0

    def report(self, limit: int = 25) -> str:
        lines = [str(v) for v in self.violations[:limit]]
        more = len(self.violations) - limit
        if more > 0:
            lines.append(f"... and {more} more")
        return "\n".join(lines)


def is_clock_change(day: datetime.date) -> bool:
    before = local(day, datetime.time(0)).utcoffset()
    after = local(day + DAY, datetime.time(0)).utcoffset()
    return before != after


class Simulation:
    def __init__(self, plan: ev.Plan, outbox: Path | None = None):
        self.plan = plan
        self.seed = plan.seed
        self.model = Model()
        self.result = Result(seed=plan.seed)
        self.outbox = outbox or Path(tempfile.mkdtemp(prefix="sg-sim-"))
        self.counter = 0
        self.completion_ran_on = None
        self.forgotten: set[tuple[str, int]] = set()
        self.bank_holiday_reasons: set[tuple[str, int]] = set()

    # Set-up ----------------------------------------------------------------------------

    def _setup(self) -> None:
        from accounts.models import Membership, Service, User
        from programmes.models import Programme

        tag = f"sim{self.seed}-{random.Random(self.seed).randint(0, 10**9)}-{id(self)}"
        self.service = Service.objects.create(
            name=f"Simulated service {tag}", public_name="Your NHS team", phone="0113 496 0000"
        )
        self.clinician = User.objects.create_user(
            username=f"{tag}-clinician", email=f"{tag}@example.nhs.uk", password=None
        )
        Membership.objects.create(
            user=self.clinician, service=self.service, role=Membership.Role.CLINICIAN
        )
        self.programmes = {
            key: Programme.objects.get(key=key, is_current=True) for key in ev.PROGRAMMES
        }
        self.checker = invariants.Checker(self)

    def _participant(self, cohort_key: str, now) -> MParticipant:
        from participants.services import participant_create
        from tests.factories import canary_email, canary_phone

        self.counter += 1
        n = self.counter
        key = f"{cohort_key}p{n}"
        channel = "sms" if n % 3 else "email"
        row = participant_create(
            service=self.service,
            reference=f"SIM{self.seed}-{n}",
            given_name=f"Simgiven{n}",
            family_name=f"Simfamily{n}",
            email=canary_email(100000 + n),
            mobile=canary_phone(100000 + n),
            preferred_channel=channel,
        )
        participant = MParticipant(key=key, db_id=row.pk, channels=[(now, channel)])
        self.model.participants[key] = participant
        return participant

    def _enrol(self, cohort: MCohort, today, now) -> MEnrolment:
        from programmes.models import Cohort
        from programmes.services import enrolment_create

        participant = self._participant(cohort.key, now)
        row = enrolment_create(
            cohort=Cohort.objects.get(pk=cohort.db_id),
            participant=self._participant_row(participant),
            enrolled_on=today,
        )
        number = sum(1 for e in self.model.enrolments.values() if e.cohort == cohort.key) + 1
        key = f"{cohort.key}e{number}"
        enrolment = MEnrolment(
            key=key, cohort=cohort.key, participant=participant.key, enrolled_on=today, db_id=row.pk
        )
        self.model.enrolments[key] = enrolment
        self.model.lay_out(enrolment, today, now)
        for timepoint, group in enrolment.groups.items():
            rng = random.Random(f"{self.seed}:answers:{key}:{timepoint}")
            group.answer_plan = ev.weighted(rng, ev.ANSWER_PLANS)
            group.answer_fraction = rng.random()
            group.answer_time = rng.choice(ev.ANSWER_TIMES)
        self.checker.learn_administrations(enrolment)
        return enrolment

    def _participant_row(self, participant: MParticipant):
        from participants.models import Participant

        return Participant.objects.get(pk=participant.db_id)

    def _create_cohort(self, plan: ev.CohortPlan, today, now) -> None:
        from programmes.models import GroupSession
        from programmes.services import cohort_create, session_cancel, session_move

        row = cohort_create(
            service=self.service,
            programme=self.programmes[plan.programme],
            name=f"Simulated cohort {plan.key}",
            start_date=plan.start,
            start_time=datetime.time(10, 0),
            venue="Room 2",
            capacity=12,
            facilitators=[self.clinician],
        )
        cohort = MCohort(key=plan.key, programme=plan.programme, start=plan.start, db_id=row.pk)
        cohort.lay_out_sessions()
        self.model.cohorts[plan.key] = cohort
        # The clinician's first decisions: each bank holiday's session cancelled or moved on.
        rng = random.Random(f"{self.seed}:bank-holidays:{plan.key}")
        rows = {s.number: s for s in GroupSession.objects.filter(cohort_id=row.pk)}
        taken = {s.date for s in cohort.sessions.values()}
        for number in sorted(cohort.sessions):
            session = cohort.sessions[number]
            if not bank_holiday(session.date):
                continue
            self.bank_holiday_reasons.add((plan.key, number))
            if rng.random() < 0.5 or session.date + DAY in taken:
                session_cancel(session=rows[number], reason="Bank holiday")
                session.status = "cancelled"
            else:
                session_move(
                    session=rows[number],
                    new_date=session.date + DAY,
                    reason="Bank holiday: moved to the next day",
                )
                session.date += DAY
                session.status = "moved"
            self.result.events["bank_holiday_decision"] += 1
        for _ in range(plan.participants):
            self._enrol(cohort, today, now)

    # The day ---------------------------------------------------------------------------

    def run(self, *, stop_at_first: bool = False) -> Result:
        started, cpu = time.perf_counter(), time.process_time()
        mailers = {
            "default": {
                "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                "OPTIONS": {"file_path": str(self.outbox / "email")},
            }
        }
        with override_settings(
            SMS_BACKEND="reminders.channels.sms.FileSmsBackend",
            SMS_OUTBOX_DIR=self.outbox / "sms",
            MAILERS=mailers,
        ):
            first = local(self.plan.first_day, datetime.time(7, 0))
            with time_machine.travel(first, tick=False):
                self._setup()
            with connection.execute_wrapper(self.checker.track):
                with time_machine.travel(first, tick=False):
                    for cohort_plan in self.plan.cohorts:
                        self._create_cohort(cohort_plan, self.plan.first_day, first)
                day = self.plan.first_day
                while day <= self.plan.last_day:
                    self._day(day)
                    self.result.days += 1
                    if stop_at_first and self.result.violations:
                        break
                    day += DAY
        for _enrolment, _tp, kind in self.checker.sent:
            self.result.sent_by_kind[kind] += 1
        self.result.wall = time.perf_counter() - started
        self.result.cpu = time.process_time() - cpu
        return self.result

    def _messages_due(self, day: datetime.date) -> bool:
        """Whether, by the model, a message is due today or was due yesterday (deferred by
        an outage or the one-a-day rule), or the clocks change or Redis is down: then the
        dispatcher runs at every beat moment of the day, quiet hours included. Other days it
        runs once, so a message sent when none should be is still seen."""
        if is_clock_change(day) or day in self.plan.redis_down:
            return True
        recent = {day, day - DAY}
        sent = self.checker.sent
        for key in sorted(self.model.enrolments):
            enrolment = self.model.enrolments[key]
            for tp in sorted(enrolment.groups):
                span = self.model.messages_allowed(enrolment, tp, day)
                if span is None:
                    if any(
                        a.status == "scheduled" and a.opens == day
                        for a in self.model.messaged_admins(enrolment, tp)
                    ):
                        return True
                    continue
                invitation = sent.get((key, tp, "invitation"))
                if invitation is None:
                    return True
                invited = local_day(invitation[0])
                due = set(expected_after_invitation(invited, *span).values())
                second = sent.get((key, tp, "reminder_2"))
                if second is not None:
                    due.add(local_day(second[0]) + ESCALATE_DAYS_AFTER_SECOND * DAY)
                if due & recent:
                    return True
        return False

    def _quiet(self, day: datetime.date) -> bool:
        """Whether the day is proven quiet: the beat tasks would find nothing to do, so they
        do not run (the figures refresh still does, on Mondays, and every check is made).

        By the model, from yesterday to a week ahead: no event, no session (so no register,
        forgotten or not, and no completion coming), nobody active whose cohort has ended,
        no questionnaire open or opening. By the database: no message waiting to be claimed
        or swept. The week's margin keeps every early action visible: a task that acted
        too soon does so at its next run, still before the model's day, and is seen then.
        Never a clock-change or Redis-outage day, and never after a violation (yesterday's
        checks are what prove the database matches the model).
        """
        if self.result.violations or self.forgotten or self.plan.events_on(day):
            return False
        if is_clock_change(day) or day in self.plan.redis_down:
            return False
        horizon = day + QUIET_HORIZON
        for cohort in self.model.cohorts.values():
            if any(day - DAY <= s.date <= horizon for s in cohort.sessions.values()):
                return False
        for enrolment in self.model.enrolments.values():
            if enrolment.status == "active":
                last = self.model.cohorts[enrolment.cohort].last_session_date()
                if last is None or last <= horizon:
                    return False
            for adm in enrolment.admins.values():
                if adm.status in ANSWERABLE or (adm.status == "scheduled" and adm.opens <= horizon):
                    return False
        from reminders.models import Message

        waiting = self.checker.rows(
            "messages waiting",
            Message.objects.filter(status__in=("pending", "sending")).values_list("id")[:1],
        )
        return not waiting

    def _day(self, day: datetime.date) -> None:
        steps: list[tuple[datetime.time, int, object]] = []
        worker_up = day not in self.plan.worker_down
        quiet = self._quiet(day)
        busy = not quiet and self._messages_due(day)
        self.result.events[
            "days_quiet" if quiet else "days_every_beat" if busy else "days_one_beat"
        ] += 1
        if not worker_up:
            self.result.events["worker_down"] += 1
        elif quiet:
            if day.weekday() == 0:
                steps.append((BEAT_TIMES[2], 0, self._refresh))
        else:
            for at in BEAT_TIMES if busy else IDLE_BEAT_TIMES:
                steps.append((at, 0, self._beat))
            if is_clock_change(day):
                steps.append((CLOCK_CHANGE_TIME, 0, self._beat))
        steps.append((ev.EVENT_TIME, 1, self._events))
        for at in sorted(set(ev.ANSWER_TIMES)):
            steps.append((at, 2, self._answers))
        steps.append((REGISTER_TIME, 3, self._registers))
        steps.sort(key=lambda s: (s[0], s[1]))
        redis_down = day in self.plan.redis_down
        if redis_down:
            self.result.events["redis_outage"] += 1
        if is_clock_change(day):
            self.result.events["clock_change_day"] += 1
        with self._redis(redis_down):
            for at, _order, step in steps:
                now = local(day, at)
                with time_machine.travel(now, tick=False):
                    step(day, now)
            now = local(day, CHECK_TIME)
            with time_machine.travel(now, tick=False):
                found = self.checker.check_day(day, now, worker_up=worker_up)
        self.result.violations.extend(found)

    def _redis(self, down: bool):
        if not down:
            return override_settings()
        from django.conf import settings

        caches = {**settings.CACHES}
        caches["dashboards"] = {
            "BACKEND": "config.cache.FailOpenRedisCache",
            "LOCATION": DEAD_REDIS,
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
        return override_settings(CACHES=caches)

    # Beat tasks ------------------------------------------------------------------------

    def _beat(self, day, now) -> None:
        from programmes import services as programme_services
        from reminders import services as reminder_services
        from reminders.tasks import dispatch

        if self.completion_ran_on != day:
            # A daily beat task: at the day's first run of the beat.
            self.completion_ran_on = day
            complete = getattr(programme_services, "enrolments_complete_finished", None)
            if complete is not None:
                complete(today=day)
        claims = []
        with TestCase.captureOnCommitCallbacks(execute=True):
            dispatch(now=now, enqueue=claims.append)
        self.model.open_and_expire(day)
        for claim in claims:
            for message_id in claim.ids:
                outcome = reminder_services.message_send(
                    message_id=message_id, claim=claim.token, now=now
                )
                self.result.messages[outcome] += 1
        if now.time() == BEAT_TIMES[2] and (day.weekday() == 0 or day in self.plan.redis_down):
            self._refresh(day, now)
        self._completions(day)

    def _refresh(self, day, now) -> None:
        # The figures refresh runs every minute in production, but only warms the cache:
        # here once a week and on the days Redis is down, so the figures checked read both
        # what it cached and what they work out afresh.
        from dashboards.warm import refresh_stale

        refresh_stale()

    def _completions(self, day) -> None:
        # The model's own rule: completed once the cohort's last non-cancelled session is
        # past, at the first run of the beat after it.
        for enrolment in self.model.enrolments.values():
            if enrolment.status != "active":
                continue
            last = self.model.cohorts[enrolment.cohort].last_session_date()
            if last is not None and last < day:
                enrolment.status = "completed"
                enrolment.completed_expected_on = day
                self.checker.figure_days.add(day)

    # Events ----------------------------------------------------------------------------

    def _events(self, day, now) -> None:
        for key in sorted(self.forgotten):
            self.forgotten.discard(key)
            self._take_register(*key, day, now)
        for event in self.plan.events_on(day):
            handler = getattr(self, f"_event_{event.kind}")
            done = handler(event, day, now)
            if done:
                self.checker.figure_days.add(day)
            self.result.events[event.kind if done else f"{event.kind} (not applicable)"] += 1

    def _cohort_row(self, cohort: MCohort):
        from programmes.models import Cohort

        return Cohort.objects.get(pk=cohort.db_id)

    def _session_row(self, cohort: MCohort, number: int):
        from programmes.models import GroupSession

        return GroupSession.objects.get(cohort_id=cohort.db_id, number=number)

    def _refused(self, day, what: str, error: ValidationError, ids: str) -> None:
        # The service's own words say which rule it applied (they name no one).
        said = " ".join(error.messages)
        self.violation(day, "service_refused_valid_change", f"{what} {ids} said={said!r}")

    def violation(self, day, invariant: str, detail: str) -> None:
        index = (day - self.plan.first_day).days + 1
        self.result.violations.append(
            invariants.Violation(self.seed, day, invariant, detail, index)
        )

    def _event_start_move(self, event, day, now) -> bool:
        from programmes import services

        cohort = self.model.cohorts[event.cohort]
        weeks = event.params[0]
        new_start = cohort.start + weeks * 7 * DAY
        if new_start <= day:
            return False
        offset = new_start - cohort.start
        # Held sessions (and any whose day has gone) stay; the rest are re-dated.
        moving = [
            s
            for s in cohort.sessions.values()
            if s.date > day or (s.date == day and s.register_at is None)
        ]
        staying = {s.date for s in cohort.sessions.values() if s not in moving}
        if any(s.date + offset in staying for s in moving if s.status != "cancelled"):
            return False
        rng = event.rng(self.seed)
        needs = self._needs_decision(cohort, moving, offset)
        kwargs = {}
        offered: dict[int, str] = {}
        preview = getattr(services, "cohort_start_move_preview", None)
        if preview is None:
            from programmes import calendar

            preview = getattr(calendar, "cohort_start_move_preview", None)
        if preview is not None:
            found = preview(cohort=self._cohort_row(cohort), new_start_date=new_start, today=day)
            plans = sorted(found.with_choices, key=lambda p: p.number)
            offered = {p.number: rng.choice(p.choice_values) for p in plans}
            kwargs["decisions"] = {p.session.pk: offered[p.number] for p in plans}
        if "by" in inspect.signature(services.cohort_start_move).parameters:
            kwargs["by"] = self.clinician
        try:
            services.cohort_start_move(
                cohort=self._cohort_row(cohort), new_start_date=new_start, **kwargs
            )
        except ValidationError as error:
            self._refused(day, "start move", error, f"cohort={cohort.key} weeks={weeks}")
            return False
        missing = sorted(needs - set(offered))
        if missing:
            self.violation(
                day,
                "start_move_without_calendar_decision",
                f"cohort={cohort.key} sessions={missing}",
            )
        cohort.start = new_start
        for session in moving:
            session.date += offset
            decision = offered.get(session.number)
            if decision:
                # Decided afresh: whatever reason it had before no longer binds it.
                self.bank_holiday_reasons.discard((cohort.key, session.number))
                session.decided = decision
                if decision == "cancel":
                    session.status = "cancelled"
                elif decision == "drop":
                    session.status = "scheduled"
        self.model.shift(cohort, day, now)
        return True

    def _needs_decision(self, cohort: MCohort, moving, offset) -> set[int]:
        """Sessions whose date is a decision the move makes stale: those landing on a bank
        holiday, and those cancelled or moved for one that leave it."""
        needs = set()
        for session in moving:
            lands = bank_holiday(session.date + offset)
            if lands and session.status != "cancelled":
                needs.add(session.number)
            for_a_holiday = (cohort.key, session.number) in self.bank_holiday_reasons
            if for_a_holiday and not lands and session.status != "scheduled":
                needs.add(session.number)
        return needs

    def _future_sessions(self, cohort: MCohort, day) -> list[int]:
        return sorted(
            n
            for n, s in cohort.sessions.items()
            if s.date > day and s.status != "cancelled" and s.register_at is None
        )

    def _event_session_cancel(self, event, day, now) -> bool:
        from programmes.services import session_cancel

        cohort = self.model.cohorts[event.cohort]
        choices = self._future_sessions(cohort, day)
        if not choices:
            return False
        number = event.rng(self.seed).choice(choices)
        try:
            session_cancel(session=self._session_row(cohort, number), reason="Room unavailable")
        except ValidationError as error:
            self._refused(day, "cancel", error, f"cohort={cohort.key} session={number}")
            return False
        cohort.sessions[number].status = "cancelled"
        self.bank_holiday_reasons.discard((cohort.key, number))
        return True

    def _event_session_move(self, event, day, now) -> bool:
        from programmes.services import session_move

        cohort = self.model.cohorts[event.cohort]
        taken = {s.date for s in cohort.sessions.values() if s.status != "cancelled"}
        choices = [n for n in self._future_sessions(cohort, day)]
        choices = [n for n in choices if cohort.sessions[n].date + DAY not in taken]
        if not choices:
            return False
        number = event.rng(self.seed).choice(choices)
        session = cohort.sessions[number]
        try:
            session_move(
                session=self._session_row(cohort, number),
                new_date=session.date + DAY,
                reason="Room unavailable: moved to the next day",
            )
        except ValidationError as error:
            self._refused(day, "move", error, f"cohort={cohort.key} session={number}")
            return False
        session.date += DAY
        session.status = "moved"
        self.bank_holiday_reasons.discard((cohort.key, number))
        return True

    def _event_late_enrolment(self, event, day, now) -> bool:
        cohort = self.model.cohorts[event.cohort]
        self._enrol(cohort, day, now)
        return True

    def _active(self, cohort_key: str) -> list[MEnrolment]:
        return [
            self.model.enrolments[k]
            for k in sorted(self.model.enrolments)
            if self.model.enrolments[k].cohort == cohort_key
            and self.model.enrolments[k].status == "active"
        ]

    def _end(self, event, day, now, status: str, reason: str) -> bool:
        from programmes.models import Enrolment
        from programmes.services import enrolment_end

        cohort = self.model.cohorts[event.cohort]
        choices = self._active(cohort.key)
        if not choices:
            return False
        rng = event.rng(self.seed)
        enrolment = rng.choice(choices)
        registers = [s.date for s in cohort.sessions.values() if s.register_at is not None]
        earliest = max([enrolment.enrolled_on, *registers])
        ended_on = max(earliest, day - rng.randint(0, 14) * DAY)
        try:
            enrolment_end(
                enrolment=Enrolment.objects.get(pk=enrolment.db_id),
                status=status,
                ended_on=ended_on,
                reason=reason,
            )
        except ValidationError as error:
            self._refused(day, status, error, f"enrolment={enrolment.key}")
            return False
        enrolment.status, enrolment.ended_on, enrolment.left_at = status, ended_on, now
        self.model.cancel_future(enrolment)
        return True

    def _event_withdraw(self, event, day, now) -> bool:
        return self._end(event, day, now, "withdrawn", "Moved out of the area")

    def _event_discharge(self, event, day, now) -> bool:
        return self._end(event, day, now, "discharged", "Treatment goals met elsewhere")

    def _people(self, cohort_key: str) -> list[MParticipant]:
        keys = sorted(
            {e.participant for e in self.model.enrolments.values() if e.cohort == cohort_key}
        )
        return [self.model.participants[k] for k in keys]

    def _event_opt_out(self, event, day, now) -> bool:
        from participants.services import participant_update

        choices = [p for p in self._people(event.cohort) if p.opted_out_at is None]
        if not choices:
            return False
        participant = event.rng(self.seed).choice(choices)
        participant_update(participant=self._participant_row(participant), messages_opt_out=True)
        participant.opted_out_at = now
        return True

    def _event_channel_change(self, event, day, now) -> bool:
        from participants.services import participant_update

        participant = event.rng(self.seed).choice(self._people(event.cohort))
        channel = "email" if participant.channel_at(now) == "sms" else "sms"
        participant_update(
            participant=self._participant_row(participant), preferred_channel=channel
        )
        participant.channels.append((now, channel))
        return True

    # Registers and answers -------------------------------------------------------------

    def _registers(self, day, now) -> None:
        for cohort_key in sorted(self.model.cohorts):
            cohort = self.model.cohorts[cohort_key]
            for number in sorted(cohort.sessions):
                session = cohort.sessions[number]
                if session.date != day or session.status == "cancelled":
                    continue
                rng = random.Random(f"{self.seed}:register:{cohort_key}:{number}")
                if rng.random() < 0.05:
                    self.forgotten.add((cohort_key, number))
                    continue
                self._take_register(cohort_key, number, day, now)

    def _take_register(self, cohort_key, number, day, now) -> None:
        from programmes.services import attendance_record

        cohort = self.model.cohorts[cohort_key]
        session = cohort.sessions[number]
        if session.status == "cancelled" or session.register_at is not None:
            return
        rng = random.Random(f"{self.seed}:marks:{cohort_key}:{number}")
        # DESIGN.md: an enrolment ends on the date the person actually left, and covers the
        # sessions up to and including that day; so someone who left on a session's day is on
        # its register (and in its retention week), however late either was recorded.
        on_register = [
            e
            for k, e in sorted(self.model.enrolments.items())
            if e.cohort == cohort_key
            and e.enrolled_on <= session.date
            and (e.ended_on is None or e.ended_on >= session.date)
        ]
        statuses = {e.key: ev.weighted(rng, ev.ATTENDANCE) for e in on_register}
        try:
            attendance_record(
                session=self._session_row(cohort, number),
                statuses={e.db_id: statuses[e.key] for e in on_register},
                group_note="",
                by=self.clinician,
            )
        except ValidationError as error:
            self._refused(day, "register", error, f"cohort={cohort_key} session={number}")
            return
        session.register_at = now
        for key, status in statuses.items():
            cohort.marks[(number, key)] = status
        self.result.events["register"] += 1

    def _answers(self, day, now) -> None:
        for key in sorted(self.model.enrolments):
            enrolment = self.model.enrolments[key]
            for timepoint in sorted(enrolment.groups):
                group = enrolment.groups[timepoint]
                if group.answered or group.answer_time != now.time().replace(second=0):
                    continue
                if group.answer_plan == "never":
                    continue
                span = self.model.group_window(enrolment, timepoint)
                if span is None or enrolment.left:
                    continue
                opens, closes = span
                target = opens + round(group.answer_fraction * (closes - opens).days) * DAY
                if not (target <= day <= closes):
                    continue
                group.answered = True
                self._answer(enrolment, timepoint, group.answer_plan, now)

    def _answer(self, enrolment: MEnrolment, timepoint: str, how: str, now) -> None:
        from measures import services as measures_services
        from measures.models import Administration

        admins = [
            a
            for k, a in sorted(enrolment.admins.items())
            if k[0] == timepoint and a.status in ("open", "in_progress")
        ]
        ids = self.checker.administration_ids
        for adm in admins:
            if how != "paper" and adm.code in ("service_use",):
                continue
            adm_id = ids[(enrolment.key, timepoint, adm.code)]
            answers = invariants.answers_for(adm.code, partial=how == "partial")
            try:
                if how == "paper":
                    measures_services.administration_enter(
                        administration=Administration.objects.get(pk=adm_id),
                        answers=answers,
                        entered_by=self.clinician,
                        completed_at=now,
                    )
                    self.model.complete(enrolment, adm, now)
                else:
                    measures_services.response_save(administration_id=adm_id, answers=answers)
                    adm.started, adm.status = True, "in_progress"
                    if how == "online":
                        measures_services.response_submit(administration_id=adm_id)
                        self.model.complete(enrolment, adm, now)
            except measures_services.AdministrationClosed:
                self.violation(
                    local_day(now),
                    "answer_refused_in_open_window",
                    f"enrolment={enrolment.key} timepoint={timepoint} code={adm.code}",
                )
                continue
            if how == "partial":
                break
        self.result.events[f"answers_{how}"] += 1
