"""After every simulated day: the database, the outbox and the figures against the model.

Reads are in bulk (a handful of queries a day, whatever the number of messages). Each
violation names the seed, the day, the invariant and the simulation's own keys of what is
wrong (cohort c1, enrolment c1e3, session numbers, timepoint keys), never personal data and
never database ids, so the same seed prints the same report on every run.
"""

from __future__ import annotations

import datetime
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from tests.simulation.model import (
    DAY,
    ESCALATE_DAYS_AFTER_SECOND,
    FINAL_DAYS_BEFORE_CLOSE,
    FIRST_REMINDER_DAYS,
    PARTICIPANT_KINDS,
    SECOND_REMINDER_DAYS,
    SHIFTING,
    UK,
    bank_holiday,
    expected_after_invitation,
    is_quiet,
    local,
    local_day,
    reminder_base,
)

ATTENDED = ("present", "late", "left_early")
MESSAGE_ID = re.compile(rb"Message-ID: <([0-9a-f-]{36})@safeground\.invalid>", re.IGNORECASE)
REMINDER_OFFSETS = {"reminder_1": FIRST_REMINDER_DAYS, "reminder_2": SECOND_REMINDER_DAYS}


@dataclass(frozen=True)
class Violation:
    seed: int
    day: datetime.date
    invariant: str
    detail: str
    index: int = 0

    def __str__(self):
        return (
            f"seed={self.seed} day={self.index} ({self.day.isoformat()}) "
            f"invariant={self.invariant}: {self.detail}"
        )


def answers_for(code: str, *, partial: bool = False) -> dict[int, object]:
    from measures.definitions import get_instrument

    items = get_instrument(code).items
    if partial:
        items = items[: max(1, len(items) // 2)]
    return {item.number: 0 if item.count else min(item.option_values) for item in items}


class Checker:
    def __init__(self, sim):
        self.sim = sim
        self.seed = sim.seed
        self.administration_ids: dict[tuple[str, str, str], int] = {}
        self.administration_keys: dict[int, tuple[str, str, str]] = {}
        # (enrolment key, timepoint, kind) -> (sent_at, reference)
        self.sent: dict[tuple[str, str, str], tuple[datetime.datetime, str]] = {}
        self.person_days: Counter = Counter()
        self.delivered: Counter = Counter()
        self.references: set[str] = set()
        self.email_offsets: dict[str, int] = {}
        self.sms_seen: set[str] = set()
        self.reported: set[tuple] = set()
        self.found: list[Violation] = []
        self.day = None
        self.figure_days: set[datetime.date] = set()
        self.ended_on: dict[str, datetime.date | None] = {}
        # Statements that may have changed a row (track), and each bulk read's rows with
        # the count at which they were read: unchanged since, they are read again from here.
        self.writes = 0
        self.reads: dict[str, tuple[int, list]] = {}

    # Reads ------------------------------------------------------------------------------

    def track(self, execute, sql, params, many, context):
        """A connection.execute_wrapper: counts the statements that changed (or may have
        changed) a row. Reads, row locks and writes that matched no row do not count."""
        head = sql.lstrip()[:8].upper()
        if not head.startswith(("INSERT", "UPDATE", "DELETE", "WITH", "TRUNCATE", "MERGE")):
            return execute(sql, params, many, context)
        changed = True
        try:
            result = execute(sql, params, many, context)
            changed = context["cursor"].rowcount != 0
            return result
        finally:
            if changed:
                self.writes += 1

    def unchanged_since_read(self, name: str) -> bool:
        found = self.reads.get(name)
        return found is not None and found[0] == self.writes

    def rows(self, name: str, query) -> list:
        """The rows of a bulk read, read again only when a statement may have changed a row
        since the last time: the database is then proven to hold exactly those rows."""
        if not self.unchanged_since_read(name):
            self.reads[name] = (self.writes, list(query))
        return self.reads[name][1]

    # Bookkeeping ------------------------------------------------------------------------

    def learn_administrations(self, enrolment) -> None:
        from measures.models import Administration

        for pk, tp, code in Administration.objects.filter(enrolment_id=enrolment.db_id).values_list(
            "id", "timepoint__key", "instrument_code"
        ):
            self.administration_ids[(enrolment.key, tp, code)] = pk
            self.administration_keys[pk] = (enrolment.key, tp, code)

    def fail(self, invariant: str, detail: str, *, once: tuple | None = None) -> None:
        key = (invariant, once if once is not None else detail)
        if key in self.reported:
            return
        self.reported.add(key)
        index = (self.day - self.sim.plan.first_day).days + 1
        self.found.append(Violation(self.seed, self.day, invariant, detail, index))

    def check(self) -> None:
        self.sim.result.checks += 1

    def up(self, day: datetime.date) -> bool:
        return day not in self.sim.plan.worker_down

    def first_up(self, day: datetime.date) -> datetime.date:
        while not self.up(day):
            day += DAY
        return day

    # The day's checks -------------------------------------------------------------------

    def check_day(self, day: datetime.date, now, *, worker_up: bool) -> list[Violation]:
        self.day = day
        self.found = []
        self._messages(day)
        self._outbox()
        self._lost(day)
        self._enrolments(day)
        self._sessions()
        self._administrations()
        due = self.figures_due(day)
        if due:
            self._figures(day, due)
        return self.found

    def figures_due(self, day: datetime.date) -> set[str]:
        """The cohorts whose figures are checked today: every cohort on Mondays, on the last
        day and when an enrolment changed; otherwise those with a session today (each
        check costs a cohort page's and a dashboard's queries)."""
        model = self.sim.model
        if day.weekday() == 0 or day == self.sim.plan.last_day or day in self.figure_days:
            return set(model.cohorts)
        return {
            key
            for key, cohort in model.cohorts.items()
            if any(session.date == day for session in cohort.sessions.values())
        }

    # Messages: what went out today ------------------------------------------------------

    def _messages(self, day: datetime.date) -> None:
        from reminders.models import Message

        start, end = local(day, datetime.time(0)), local(day + DAY, datetime.time(0))
        keys = {e.db_id: e for e in self.sim.model.enrolments.values()}
        if self.unchanged_since_read("messages"):
            # Nothing written since yesterday's read: nothing can have been sent today.
            rows = []
        else:
            self.reads["messages"] = (self.writes, [])
            rows = list(
                Message.objects.filter(
                    service_id=self.sim.service.pk,
                    status="sent",
                    sent_at__gte=start,
                    sent_at__lt=end,
                )
                .values_list(
                    "enrolment_id", "timepoint__key", "kind", "channel", "sent_at", "reference"
                )
                .order_by("sent_at", "kind")
            )
        order = {"invitation": 0, "reminder_1": 1, "reminder_2": 2, "final": 3, "escalation": 4}
        rows.sort(key=lambda r: (r[4], order.get(r[2], 5)))
        for enrolment_id, tp, kind, channel, sent_at, reference in rows:
            enrolment = keys[enrolment_id]
            self._one_message(enrolment, tp, kind, channel, sent_at, str(reference))

    def _one_message(self, enrolment, tp, kind, channel, sent_at, reference) -> None:
        model = self.sim.model
        who = f"enrolment={enrolment.key} timepoint={tp} kind={kind}"
        participant = model.participants[enrolment.participant]
        self.check()
        self.references.add(reference)
        key = (enrolment.key, tp, kind)
        if key in self.sent and kind != "manual":
            self.fail("message_twice", who)
        self.sent[key] = (sent_at, reference)
        sent_day = local_day(sent_at)
        at = sent_at.astimezone(UK).strftime("%H:%M")
        if is_quiet(sent_at):
            self.fail("message_in_quiet_hours", f"{who} at={at}")
        if kind in PARTICIPANT_KINDS:
            self.person_days[(participant.key, sent_day)] += 1
            if self.person_days[(participant.key, sent_day)] > 1:
                self.fail("two_messages_one_day", f"participant of {enrolment.key} {who}")
            expected_channel = participant.channel_at(sent_at)
            if channel != expected_channel:
                self.fail("message_on_old_channel", f"{who} channel={channel}")
        elif channel != "staff":
            self.fail("escalation_not_to_staff", who)
        group = enrolment.groups[tp]
        if enrolment.left_at is not None and sent_at >= enrolment.left_at:
            self.fail("message_after_leaving", who)
        opted_out = participant.opted_out_at
        if opted_out is not None and sent_at >= opted_out and kind in PARTICIPANT_KINDS:
            self.fail("message_after_opt_out", who)
        if group.done_at is not None and sent_at >= group.done_at:
            self.fail("message_after_completion", who)
        span = group.window_at(sent_at)
        if span is None:
            self.fail("message_without_window", who)
            return
        opens, closes = span
        if sent_day < opens:
            self.fail("message_before_window", f"{who} days_early={(opens - sent_day).days}")
        if sent_day > closes:
            self.fail("message_after_window", f"{who} days_late={(sent_day - closes).days}")
        invitation = self.sent.get((enrolment.key, tp, "invitation"))
        invited = local_day(invitation[0]) if invitation else None
        final_day = closes - FINAL_DAYS_BEFORE_CLOSE * DAY
        if kind in REMINDER_OFFSETS:
            if invited is None:
                self.fail("reminder_without_invitation", who)
            else:
                due = reminder_base(invited, opens) + REMINDER_OFFSETS[kind] * DAY
                if sent_day < due:
                    self.fail(
                        "reminder_before_its_offset",
                        f"{who} days_after_invitation={(sent_day - invited).days}",
                    )
                if due >= final_day:
                    self.fail("reminder_on_or_after_final_day", who)
        elif kind == "final":
            if sent_day < final_day:
                self.fail("final_reminder_early", f"{who} days_early={(final_day - sent_day).days}")
            if invited is None:
                self.fail("final_without_invitation", who)
        elif kind == "escalation":
            second = self.sent.get((enrolment.key, tp, "reminder_2"))
            if second is None:
                self.fail("escalation_without_second_reminder", who)
            elif sent_day < local_day(second[0]) + ESCALATE_DAYS_AFTER_SECOND * DAY:
                self.fail("escalation_early", who)

    def _outbox(self) -> None:
        root = self.sim.outbox
        sms = root / "sms"
        if sms.is_dir():
            for entry in sorted(os.scandir(sms), key=lambda e: e.name):
                if entry.name not in self.sms_seen:
                    self.sms_seen.add(entry.name)
                    self.delivered[entry.name.removesuffix(".json")] += 1
        email = root / "email"
        if email.is_dir():
            for entry in sorted(os.scandir(email), key=lambda e: e.name):
                offset = self.email_offsets.get(entry.name, 0)
                if entry.stat().st_size <= offset:
                    continue
                with open(entry.path, "rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read()
                self.email_offsets[entry.name] = offset + len(chunk)
                for match in MESSAGE_ID.finditer(chunk):
                    self.delivered[match.group(1).decode()] += 1
        for reference, count in sorted(self.delivered.items()):
            self.check()
            if count > 1:
                self.fail("delivered_twice", "a message reference", once=("twice", reference))
            if reference not in self.references:
                self.fail("delivered_but_not_sent", "a message reference", once=("ns", reference))
        for reference in sorted(self.references - set(self.delivered)):
            self.fail("sent_but_not_delivered", "a message reference", once=("nd", reference))

    # Messages: what should have gone out by today ---------------------------------------

    def _deadline(self, participant_key: str, due: datetime.date, *, slot: bool) -> datetime.date:
        day = self.first_up(due)
        # One message a day: another one that day puts this one on the next day the worker runs.
        if slot and self.person_days[(participant_key, day)]:
            day = self.first_up(day + DAY)
        return day

    def _lost(self, day: datetime.date) -> None:
        model = self.sim.model
        for key in sorted(model.enrolments):
            enrolment = model.enrolments[key]
            for tp in sorted(enrolment.groups):
                span = model.messages_allowed(enrolment, tp, day)
                if span is None:
                    continue
                self.check()
                group = enrolment.groups[tp]
                opens, closes = span
                who = f"enrolment={key} timepoint={tp}"
                invitation = self.sent.get((key, tp, "invitation"))
                if invitation is None:
                    if group.eligible_since is None:
                        group.eligible_since = day
                    if (
                        self._deadline(enrolment.participant, group.eligible_since, slot=True)
                        <= day
                    ):
                        self.fail(
                            "invitation_lost",
                            f"{who} window_opened={group.eligible_since}",
                            once=(key, tp, "invitation"),
                        )
                    continue
                invited = local_day(invitation[0])
                for kind, due in sorted(expected_after_invitation(invited, opens, closes).items()):
                    if (key, tp, kind) in self.sent:
                        continue
                    if self._deadline(enrolment.participant, due, slot=True) <= day:
                        self.fail(
                            f"{kind}_lost",
                            f"{who} due_days_after_invitation={(due - invited).days}",
                            once=(key, tp, kind),
                        )
                second = self.sent.get((key, tp, "reminder_2"))
                if second is not None and (key, tp, "escalation") not in self.sent:
                    due = local_day(second[0]) + ESCALATE_DAYS_AFTER_SECOND * DAY
                    if (
                        due <= closes
                        and self._deadline(enrolment.participant, due, slot=False) <= day
                    ):
                        self.fail("escalation_lost", who, once=(key, tp, "escalation"))

    # Enrolments, sessions, questionnaires -----------------------------------------------

    def _enrolments(self, day: datetime.date) -> None:
        from programmes.models import Enrolment

        rows = dict(
            (pk, (status, ended_on))
            for pk, status, ended_on in self.rows(
                "enrolments",
                Enrolment.objects.filter(cohort__service_id=self.sim.service.pk).values_list(
                    "id", "status", "ended_on"
                ),
            )
        )
        self.ended_on = {}
        for key in sorted(self.sim.model.enrolments):
            enrolment = self.sim.model.enrolments[key]
            status, ended_on = rows[enrolment.db_id]
            self.ended_on[key] = ended_on
            self.check()
            if status != enrolment.status:
                self.fail(
                    "enrolment_status",
                    f"enrolment={key} expected={enrolment.status} found={status}",
                    once=(key, enrolment.status, status),
                )
            elif enrolment.left and ended_on != enrolment.ended_on:
                self.fail("enrolment_end_date", f"enrolment={key}", once=(key, "ended_on"))

    def _sessions(self) -> None:
        from programmes.models import GroupSession

        ids = {c.db_id: c for c in self.sim.model.cohorts.values()}
        for cohort_id, number, date, status, holiday in self.rows(
            "sessions",
            GroupSession.objects.filter(cohort__service_id=self.sim.service.pk).values_list(
                "cohort_id", "number", "date", "status", "bank_holiday"
            ),
        ):
            cohort = ids[cohort_id]
            session = cohort.sessions[number]
            who = f"cohort={cohort.key} session={number}"
            self.check()
            if session.decided in ("keep", "drop", "cancel"):
                # The date the clinician's decision gave it is the model's from now on.
                decision, session.decided = session.decided, f"adopted-{session.decided}"
                session.date = date
                if decision == "cancel" and status != "cancelled":
                    self.fail("session_decision_ignored", f"{who} decision=cancel")
                if decision == "drop" and status == "cancelled":
                    self.fail("session_decision_ignored", f"{who} decision=drop")
                if decision == "keep":
                    session.status = status
            if date != session.date:
                self.fail(
                    "session_date",
                    f"{who} days_off={(date - session.date).days}",
                    once=(cohort.key, number, "date", date),
                )
            if (status == "cancelled") != (session.status == "cancelled"):
                self.fail(
                    "session_status",
                    f"{who} expected={session.status} found={status}",
                    once=(cohort.key, number, status),
                )
            if holiday != bank_holiday(date):
                self.fail("session_bank_holiday_flag", who, once=(cohort.key, number, date))
            # A cancellation or move made for a bank holiday must still sit on (or next to) one.
            holiday_day = session.date - (
                DAY if session.status == "moved" else datetime.timedelta(0)
            )
            for_a_holiday = (cohort.key, number) in self.sim.bank_holiday_reasons
            stale = for_a_holiday and session.status != "scheduled"
            if stale and not bank_holiday(holiday_day):
                self.fail(
                    "bank_holiday_decision_on_ordinary_day",
                    f"{who} status={status}",
                    once=(cohort.key, number, "stale"),
                )

    def _administrations(self) -> None:
        from measures.models import Administration

        rows = self.rows(
            "administrations",
            Administration.objects.filter(
                enrolment__cohort__service_id=self.sim.service.pk
            ).values_list("id", "status", "opens_on", "closes_on"),
        )
        for pk, status, opens, closes in rows:
            enrolment_key, tp, code = self.administration_keys[pk]
            enrolment = self.sim.model.enrolments[enrolment_key]
            adm = enrolment.admins[(tp, code)]
            cohort = self.sim.model.cohorts[enrolment.cohort]
            self.check()
            who = f"enrolment={enrolment_key} timepoint={tp}"
            if (opens, closes) != (adm.opens, adm.closes):
                self.fail(
                    "questionnaire_window",
                    f"{who} opens_off={(opens - adm.opens).days} "
                    f"closes_off={(closes - adm.closes).days}",
                    once=(enrolment_key, tp, "window", opens),
                )
            if status != adm.status:
                self.fail(
                    "questionnaire_status",
                    f"{who} expected={adm.status} found={status}",
                    once=(enrolment_key, tp, adm.status, status),
                )
            # Started questionnaires keep their window (answers were given in it), and so do
            # cancelled ones (a closed record of what was due when the enrolment ended: it
            # never opens again); the rest move with the start.
            moves = status in SHIFTING and not adm.started
            if tp == "baseline" and moves and opens < cohort.start - 21 * DAY:
                self.fail("window_before_cohort_start", who, once=(enrolment_key, tp, "early"))

    # Figures ----------------------------------------------------------------------------

    def _figures(self, day: datetime.date, due: set[str]) -> None:
        from dashboards.figures import current_figures
        from dashboards.pages import cohort_dashboard
        from programmes.models import Cohort
        from programmes.selectors import cohort_overview

        model = self.sim.model
        cohorts = {c.pk: c for c in Cohort.objects.filter(service_id=self.sim.service.pk)}
        stored = current_figures(Cohort.objects.filter(service_id=self.sim.service.pk))
        for key in sorted(due):
            cohort = model.cohorts[key]
            row = cohorts[cohort.db_id]
            enrolments = [e for k, e in sorted(model.enrolments.items()) if e.cohort == key]
            recorded = len(cohort.marks)
            attended = sum(1 for s in cohort.marks.values() if s in ATTENDED)
            held = Counter(s.phase for s in cohort.sessions.values() if s.held(day))
            counts = self._completion_counts(enrolments)
            self.check()

            overview = cohort_overview(row)
            if (overview.overall.recorded, overview.overall.attended) != (recorded, attended):
                self.fail(
                    "cohort_page_attendance",
                    f"cohort={key} expected={recorded}/{attended} "
                    f"found={overview.overall.recorded}/{overview.overall.attended}",
                    once=(key, "overview", recorded, attended),
                )
            for block in overview.phases:
                found = getattr(block, "held", None)
                if isinstance(found, (list, tuple)):
                    found = len(found)
                if found is not None and found != held.get(block.phase.order, 0):
                    self.fail(
                        "cohort_page_sessions_held",
                        f"cohort={key} phase={block.phase.order} "
                        f"expected={held.get(block.phase.order, 0)} found={found}",
                        once=(key, "page-held", block.phase.order, found),
                    )

            board = cohort_dashboard(row, show_names=False, today=day)
            attendance = board["attendance"]
            if (attendance["recorded"], attendance["attended"]) != (recorded, attended):
                self.fail(
                    "dashboard_attendance",
                    f"cohort={key} expected={recorded}/{attended} "
                    f"found={attendance['recorded']}/{attendance['attended']}",
                    once=(key, "board", recorded, attended),
                )
            for phase in attendance["phases"]:
                if phase["sessions"] != held.get(phase["order"], 0):
                    self.fail(
                        "dashboard_sessions_held",
                        f"cohort={key} phase={phase['order']} "
                        f"expected={held.get(phase['order'], 0)} "
                        f"found={phase['sessions']}",
                        once=(key, "held", phase["order"]),
                    )
            self._retention(key, cohort, enrolments, board["retention"], day)
            for completion in board["completion"]:
                tp = completion["timepoint"]["key"]
                found = {k: completion[k] for k in ("completed", "expired", "pending", "cancelled")}
                if found != counts[tp]:
                    self.fail(
                        "dashboard_completion",
                        f"cohort={key} timepoint={tp} expected={dict(counts[tp])} found={found}",
                        once=(key, "completion", tp, tuple(found.values())),
                    )
            figures = stored[cohort.db_id]
            completed = sum(c["completed"] for c in counts.values())
            closed = completed + sum(c["expired"] for c in counts.values())
            if figures["attendance"] != [recorded, attended] or figures["completion"] != [
                completed,
                closed,
            ]:
                self.fail(
                    "service_dashboard_figures",
                    f"cohort={key} attendance expected={[recorded, attended]} "
                    f"found={figures['attendance']} "
                    f"completion expected={[completed, closed]} found={figures['completion']}",
                    once=(key, "figures", recorded, completed, closed),
                )

    def _completion_counts(self, enrolments) -> dict[str, Counter]:
        counts: dict[str, Counter] = defaultdict(
            lambda: Counter(completed=0, expired=0, pending=0, cancelled=0)
        )
        for enrolment in enrolments:
            for (tp, _code), adm in enrolment.admins.items():
                bucket = {
                    "completed": "completed",
                    "expired": "expired",
                    "missed": "expired",
                    "cancelled": "cancelled",
                }.get(adm.status, "pending")
                counts[tp][bucket] += 1
        return {tp: dict(c) for tp, c in counts.items()}

    def _retention(self, key, cohort, enrolments, retention, day) -> None:
        left = sum(1 for e in enrolments if e.left)
        if (retention["started"], retention["left"]) != (len(enrolments), left):
            self.fail(
                "dashboard_retention_totals",
                f"cohort={key} expected={len(enrolments)}/{left} "
                f"found={retention['started']}/{retention['left']}",
                once=(key, "retention", len(enrolments), left),
            )
        expected = []
        for week in range(1, 53):
            date = cohort.week_date(week)
            if date > day:
                break
            # Counted until the day someone actually left; whoever completed stayed.
            still = sum(
                1
                for e in enrolments
                if e.enrolled_on <= date and (not e.left or e.ended_on >= date)
            )
            expected.append((week, still))
        found = [(w["week"], w["enrolled"]) for w in retention["weeks"]]
        if found != expected:
            wrong = [w for w, f in zip(expected, found, strict=False) if w != f][:3]
            self.fail(
                "dashboard_retention_by_week",
                f"cohort={key} weeks_expected={len(expected)} weeks_found={len(found)} "
                f"first_wrong={wrong}",
                once=(key, "retention-weeks", len(expected)),
            )
