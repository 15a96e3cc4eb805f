"""Invitations, reminders and escalations as database rows, claimed and sent exactly once.

The flow:
1. Planning happens on events, never by a scan: when a window is laid out, opened, moved,
   closed or completed (measures.events.windows_changed) or a person's contact preferences
   change (participants.events.contact_preferences_changed), messages_replan lays out,
   re-dates or cancels that enrolment's rows. messages_plan, the whole-table catch-up, is
   kept for data made outside the services (the demo seed, a restored backup).
2. Every minute reminders.tasks.dispatch_due opens and expires windows (which send those
   events), then messages_sweep_stuck returns rows left in "sending" by a worker that died.
3. messages_claim moves due "pending" rows to "sending" under a claim token, atomically, so
   two dispatchers never claim the same row; each claim goes to the queue after commit as
   one send task, and the dispatcher keeps claiming at the provider's rate while rows are due.
4. messages_send re-checks every row of the batch under a row lock (still claimed by this
   claim, not opted out, enrolment open, not completed, window open, not quiet hours,
   nothing sent to this person today), calls the channel with the row's reference (looking
   it up first when an earlier call may have reached the provider), and records the results.
"""

import concurrent.futures
import contextlib
import datetime
import logging
import random
import threading
import uuid
from dataclasses import dataclass, field
from itertools import batched

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format

from accounts.audit import record_bulk_changes
from measures import catalogue
from measures.models import Administration
from programmes.models import Enrolment
from reminders import channels, pacing, schedule, wording
from reminders.models import Escalation, Message, MessageTemplate, ReminderPolicy
from reminders.outcomes import Outcome, Reason, WhenRequested

log = logging.getLogger(__name__)

# Recorded by staff from the clinical record (DESIGN.md), so never a reason to message
# the participant.
STAFF_COMPLETED_INSTRUMENTS = tuple(sorted(catalogue.STAFF_COMPLETED))
ANSWERABLE = (Administration.Status.OPEN, Administration.Status.IN_PROGRESS)
LIVE = Administration.LIVE_STATUSES
# Follow-up questionnaires go on after someone completes the programme; leaving it early
# (withdrawn, discharged) cancels them.
MESSAGEABLE_ENROLMENTS = (*Enrolment.OPEN_STATUSES, Enrolment.Status.COMPLETED)
PARTICIPANT_KINDS = (
    Message.Kind.INVITATION,
    Message.Kind.REMINDER_1,
    Message.Kind.REMINDER_2,
    Message.Kind.FINAL,
    Message.Kind.MANUAL,
)


class ReminderRefused(Exception):
    """A staff request that cannot be carried out; the message is safe to show them."""


# Policies


def policy_for(programme_id: int) -> schedule.Policy:
    row = ReminderPolicy.objects.filter(programme_id=programme_id).first()
    return schedule.Policy.from_row(row) if row else schedule.DEFAULT_POLICY


def _policies(programme_ids) -> dict[int, schedule.Policy]:
    rows = ReminderPolicy.objects.filter(programme_id__in=set(programme_ids))
    found = {row.programme_id: schedule.Policy.from_row(row) for row in rows}
    return {pid: found.get(pid, schedule.DEFAULT_POLICY) for pid in programme_ids}


def reminder_policy_copy(*, source, target) -> bool:
    """Give a new programme (a revision or a service's copy) the reminder policy of the
    programme it came from; without this it would fall back to the defaults unnoticed."""
    row = ReminderPolicy.objects.filter(programme=source).first()
    if row is None or ReminderPolicy.objects.filter(programme=target).exists():
        return False
    row.pk = None
    row.programme = target
    row._state.adding = True
    row.save()
    return True


# 1. Planning


def _answerable_administrations():
    return Administration.objects.filter(status__in=ANSWERABLE).exclude(
        instrument_code__in=STAFF_COMPLETED_INSTRUMENTS
    )


@transaction.atomic
def messages_plan(*, today: datetime.date) -> int:
    """Create the message rows for every open window that has none yet; returns how many
    rows were offered to the database (conflicting ones are ignored).

    A catch-up over every open window, for rows made outside the services. The minute's
    run does not call it: windows plan their messages through events (messages_replan).
    """
    planned_already = Message.objects.filter(
        enrolment_id=OuterRef("enrolment_id"),
        timepoint_id=OuterRef("timepoint_id"),
        kind=Message.Kind.INVITATION,
    )
    groups = list(
        _answerable_administrations()
        .filter(
            opens_on__lte=today,
            closes_on__gte=today,
            enrolment__status__in=MESSAGEABLE_ENROLMENTS,
            enrolment__participant__messages_opt_out=False,
        )
        .values(
            "enrolment_id",
            "timepoint_id",
            participant_id=F("enrolment__participant_id"),
            service_id=F("enrolment__cohort__service_id"),
            programme_id=F("enrolment__cohort__programme_id"),
            preferred=F("enrolment__participant__preferred_channel"),
        )
        .annotate(opens=Min("opens_on"), closes=Max("closes_on"))
        .filter(~Exists(planned_already))
        .order_by()
    )
    if not groups:
        return 0
    policies = _policies({g["programme_id"] for g in groups})
    rows = []
    for group in groups:
        for kind, due_at in schedule.planned_messages(
            opens_on=group["opens"],
            closes_on=group["closes"],
            today=today,
            policy=policies[group["programme_id"]],
        ):
            rows.append(
                Message(
                    service_id=group["service_id"],
                    participant_id=group["participant_id"],
                    enrolment_id=group["enrolment_id"],
                    timepoint_id=group["timepoint_id"],
                    kind=kind,
                    channel=(
                        Message.Channel.STAFF
                        if kind == Message.Kind.ESCALATION
                        else group["preferred"]
                    ),
                    due_at=due_at,
                )
            )
    Message.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    return len(rows)


# 1b. Re-planning


# What re-planning reads of a message row and may write back.
REPLAN_FIELDS = (
    "id",
    "enrolment_id",
    "timepoint_id",
    "kind",
    "channel",
    "due_at",
    "status",
    "sent_at",
    "last_error",
    "day_slot",
)


@dataclass
class _Window:
    """One enrolment's questionnaires at one timepoint, as the messages see them."""

    live: int = 0
    completed: int = 0
    expired: int = 0
    opens: datetime.date | None = None
    closes: datetime.date | None = None
    messages: dict[str, Message] = field(default_factory=dict)

    def ended_as(self) -> Reason:
        """Why nothing more should go for this window, when nothing in it is live."""
        if self.completed:
            return Reason.COMPLETED
        return Reason.WINDOW_CLOSED if self.expired else Reason.CANCELLED


# Why an escalation closed itself, from why its window's messages stopped.
ESCALATION_CLOSED_BY = {
    Reason.COMPLETED: Escalation.Resolution.COMPLETED,
    Reason.WINDOW_CLOSED: Escalation.Resolution.EXPIRED,
    Reason.CANCELLED: Escalation.Resolution.CANCELLED,
}


@transaction.atomic
def messages_replan(*, enrolment_ids, now: datetime.datetime | None = None) -> int:
    """Bring the messages of these enrolments into line with their windows as they are now.

    Called (through measures.events.windows_changed and participants' contact events)
    whenever a window is laid out, moved, opened, closed, completed or cancelled, and after
    an invitation or a second reminder goes. For each enrolment and timepoint: pending
    messages are re-dated to the plan; messages cancelled for a reason that no longer holds
    are planned again; messages the plan no longer holds are cancelled; nothing already sent
    changes, and nothing is planned before its time. Escalations whose questionnaires are
    all completed, expired or cancelled close themselves. A fixed number of queries per 500
    enrolments. Returns how many message rows were created or changed.
    """
    now = now or timezone.now()
    changed = 0
    for chunk in batched(sorted(set(enrolment_ids)), 500):
        changed += _replan(list(chunk), now)
    return changed


def _replan(enrolment_ids: list[int], now: datetime.datetime) -> int:
    today = schedule.local_day(now)
    enrolments = {
        row["pk"]: row
        for row in Enrolment.objects.filter(pk__in=enrolment_ids).values(
            "pk",
            "status",
            "participant_id",
            service_id=F("cohort__service_id"),
            programme_id=F("cohort__programme_id"),
            opted_out=F("participant__messages_opt_out"),
            preferred=F("participant__preferred_channel"),
        )
    }
    windows: dict[tuple[int, int], _Window] = {}
    for row in (
        Administration.objects.filter(enrolment_id__in=enrolment_ids)
        .exclude(instrument_code__in=STAFF_COMPLETED_INSTRUMENTS)
        .values("enrolment_id", "timepoint_id")
        .annotate(
            live=Count("id", filter=Q(status__in=LIVE)),
            completed=Count("id", filter=Q(status=Administration.Status.COMPLETED)),
            expired=Count("id", filter=Q(status=Administration.Status.EXPIRED)),
            opens=Min("opens_on", filter=Q(status__in=LIVE)),
            closes=Max("closes_on", filter=Q(status__in=LIVE)),
        )
        .order_by()
    ):
        key = (row.pop("enrolment_id"), row.pop("timepoint_id"))
        windows[key] = _Window(**row)
    # Locked so that a worker preparing one of these rows, or a second re-plan, waits for
    # this one rather than sending from a plan that is being rewritten. Only the columns the
    # plan reads and writes are loaded.
    for message in (
        Message.objects.select_for_update()
        .filter(enrolment_id__in=enrolment_ids)
        .exclude(kind=Message.Kind.MANUAL)
        .only(*REPLAN_FIELDS)
        .order_by("pk")
    ):
        windows.setdefault((message.enrolment_id, message.timepoint_id), _Window()).messages[
            message.kind
        ] = message
    policies = _policies({e["programme_id"] for e in enrolments.values()})

    create, update = [], []
    # Cancelled rows by reason: each reason's rows take one plain UPDATE of the columns a
    # cancellation changes, instead of a row-by-row CASE over every planned column.
    cancelled: dict[str, list[int]] = {}
    closing: dict[tuple[int, int], str] = {}
    for key, window in sorted(windows.items()):
        enrolment = enrolments[key[0]]
        stop: Reason | None = None
        if enrolment["status"] not in MESSAGEABLE_ENROLMENTS:
            stop = Reason.ENROLMENT_ENDED
        elif not window.live:
            stop = window.ended_as()
        elif window.closes < today:
            stop = Reason.WINDOW_CLOSED
        elif enrolment["opted_out"]:
            stop = Reason.OPTED_OUT
        if not window.live:
            closing[key] = ESCALATION_CLOSED_BY[window.ended_as()]
        elif stop == Reason.ENROLMENT_ENDED:
            closing[key] = Escalation.Resolution.CANCELLED
        if stop:
            for message in window.messages.values():
                if message.status == Message.Status.PENDING:
                    _cancel_in_plan(message, stop, cancelled)
            continue
        sent = {
            kind: schedule.local_day(m.sent_at)
            for kind, m in window.messages.items()
            if m.status == Message.Status.SENT
        }
        plan = dict(
            schedule.planned_messages(
                opens_on=window.opens,
                closes_on=window.closes,
                today=today,
                policy=policies[enrolment["programme_id"]],
                invited_on=sent.get(Message.Kind.INVITATION),
                second_sent_on=sent.get(Message.Kind.REMINDER_2),
            )
        )
        open_now = window.opens <= today
        for kind, due_at in plan.items():
            message = window.messages.get(kind)
            if message is None:
                # A window not yet open gets its rows when it opens (administrations_open_due
                # sends the event); one open now gets them at once.
                if open_now and schedule.local_day(due_at) >= today:
                    create.append(_new_message(enrolment, key, kind, due_at))
            elif message.status == Message.Status.PENDING and (
                message.due_at != due_at or message.channel != _channel(enrolment, kind)
            ):
                # Re-dated, and sent on the channel the person now prefers.
                message.due_at, message.channel = due_at, _channel(enrolment, kind)
                update.append(message)
            elif message.status == Message.Status.CANCELLED and (
                schedule.local_day(due_at) >= today
            ):
                # Cancelled for a reason that no longer holds (the window was not open yet,
                # the person had opted out...): planned again, never before its time.
                message.status, message.due_at, message.last_error = (
                    Message.Status.PENDING,
                    due_at,
                    "",
                )
                message.channel = _channel(enrolment, kind)
                update.append(message)
        for kind, message in window.messages.items():
            if kind not in plan and message.status == Message.Status.PENDING:
                _cancel_in_plan(message, Reason.NOT_PLANNED, cancelled)

    # Every row written here is locked above, so these writes are seen together at commit.
    for reason, ids in sorted(cancelled.items()):
        Message.objects.filter(pk__in=ids).update(
            status=Message.Status.CANCELLED, last_error=reason, day_slot=None
        )
    if update:
        Message.objects.bulk_update(
            update, ["status", "due_at", "last_error", "day_slot", "channel"]
        )
    Message.objects.bulk_create(create, ignore_conflicts=True)
    _escalations_close(closing, now)
    return len(create) + len(update) + sum(len(ids) for ids in cancelled.values())


def _cancel_in_plan(message: Message, reason: str, cancelled: dict[str, list[int]]) -> None:
    message.status, message.last_error, message.day_slot = Message.Status.CANCELLED, reason, None
    cancelled.setdefault(reason, []).append(message.pk)


def _channel(enrolment: dict, kind: str) -> str:
    return Message.Channel.STAFF if kind == Message.Kind.ESCALATION else enrolment["preferred"]


def _new_message(enrolment: dict, key: tuple[int, int], kind: str, due_at) -> Message:
    staff = kind == Message.Kind.ESCALATION
    return Message(
        service_id=enrolment["service_id"],
        participant_id=enrolment["participant_id"],
        enrolment_id=key[0],
        timepoint_id=key[1],
        kind=kind,
        channel=Message.Channel.STAFF if staff else enrolment["preferred"],
        due_at=due_at,
    )


def _escalations_close(closing: dict[tuple[int, int], str], now) -> None:
    if not closing:
        return
    enrolment_ids = {enrolment_id for enrolment_id, _ in closing}
    # Locked so that a second re-plan of the same windows waits and finds them closed rather
    # than closing them again; only the columns naming an escalation's window are read.
    rows = [
        escalation
        for escalation in Escalation.objects.select_for_update()
        .filter(enrolment_id__in=enrolment_ids, resolved_at__isnull=True)
        .only("id", "enrolment_id", "timepoint_id")
        .order_by("pk")
        if (escalation.enrolment_id, escalation.timepoint_id) in closing
    ]
    if not rows:
        return
    by_resolution: dict[str, list[int]] = {}
    for escalation in rows:
        escalation.resolved_at = now
        escalation.resolution = closing[(escalation.enrolment_id, escalation.timepoint_id)]
        by_resolution.setdefault(escalation.resolution, []).append(escalation.pk)
    for resolution, ids in sorted(by_resolution.items()):
        Escalation.objects.filter(pk__in=ids).update(resolved_at=now, resolution=resolution)
    record_bulk_changes(entries=[(e, {"resolution": ["", e.resolution]}) for e in rows])


# 2. Sweeping


@transaction.atomic
def messages_sweep_stuck(*, now: datetime.datetime, older_than: datetime.timedelta) -> int:
    """Rows in "sending" whose claim (refreshed at each provider call) is older than
    `older_than` belonged to a worker that died: back to pending, or failed when they have
    used up their attempts. Returns how many rows were touched."""
    stuck = Message.objects.filter(status=Message.Status.SENDING, claimed_at__lt=now - older_than)
    failed = stuck.filter(attempts__gte=settings.REMINDERS_MAX_ATTEMPTS).update(
        status=Message.Status.FAILED,
        claimed_by="",
        claimed_at=None,
        day_slot=None,
        last_error=Reason.MAX_ATTEMPTS,
    )
    returned = stuck.update(status=Message.Status.PENDING, claimed_by="", claimed_at=None)
    if failed or returned:
        log.warning("Swept stuck messages: %d back to pending, %d failed", returned, failed)
    return failed + returned


# 3. Claiming


@dataclass(frozen=True)
class Claim:
    token: str
    ids: list[int] = field(default_factory=list)


@transaction.atomic
def messages_claim(*, now: datetime.datetime, limit: int, worker: str) -> Claim:
    """Move up to `limit` due pending rows to "sending" under a fresh claim token."""
    token = f"{worker[:60]}:{uuid.uuid4().hex[:12]}"
    table = Message._meta.db_table
    if connection.vendor == "postgresql":
        # SKIP LOCKED lets two dispatchers run side by side, each taking different rows.
        # The CTE is evaluated once (a subquery under IN may be re-run and take more than
        # LIMIT rows).
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH picked AS (
                    SELECT id FROM {table}
                    WHERE status = 'pending' AND due_at <= %s
                    ORDER BY due_at
                    LIMIT %s
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE {table} AS message
                SET status = 'sending', claimed_at = %s, claimed_by = %s
                FROM picked
                WHERE message.id = picked.id
                RETURNING message.id
                """,  # noqa: S608 - the table name is the model's, not input
                [now, limit, now, token],
            )
            ids = sorted(row[0] for row in cursor.fetchall())
    else:
        # SQLite serialises writers (IMMEDIATE transactions), so a conditional update is
        # enough: a row another claimer took is no longer pending.
        candidates = list(
            Message.objects.filter(status=Message.Status.PENDING, due_at__lte=now)
            .order_by("due_at")
            .values_list("id", flat=True)[:limit]
        )
        for chunk in batched(candidates, 500):
            Message.objects.filter(id__in=chunk, status=Message.Status.PENDING).update(
                status=Message.Status.SENDING, claimed_at=now, claimed_by=token
            )
        ids = sorted(
            Message.objects.filter(claimed_by=token, status=Message.Status.SENDING).values_list(
                "id", flat=True
            )
        )
    return Claim(token=token, ids=ids)


def messages_due_count(*, now: datetime.datetime, limit: int) -> int:
    """How many pending rows are due, counted up to `limit` (the message_pending_due index)."""
    return Message.objects.filter(status=Message.Status.PENDING, due_at__lte=now)[:limit].count()


@transaction.atomic
def messages_release(*, ids: list[int], claim: str) -> int:
    """Give claimed rows back (the queue could not take them); they go on the next run."""
    released = 0
    for chunk in batched(ids, 1000):
        released += Message.objects.filter(
            id__in=chunk, claimed_by=claim, status=Message.Status.SENDING
        ).update(status=Message.Status.PENDING, claimed_by="", claimed_at=None)
    return released


# 4. Sending
#
# A claimed batch goes through three steps. _prepare_batch locks the rows and works out
# everything for the whole batch in a fixed number of queries (windows, policies, wording,
# day slots, links and their audit rows), deciding each row's fate by the same rules a
# single message has always had. _deliver_batch calls the providers outside any
# transaction, each call waiting its turn under the shared rate (reminders.pacing), through
# one SMS client per process and one mail connection per batch. _record_batch writes the
# outcomes in bulk. message_send is the same path for a batch of one.


@dataclass
class Outgoing:
    message_id: int
    claim: str
    kind: str
    enrolment_id: int
    channel: str
    reference: str
    recipients: list[str]
    subject: str
    body: str
    attempts: int


@dataclass
class _Batch:
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    outgoing: list[Outgoing] = field(default_factory=list)


@dataclass(frozen=True)
class _Delivery:
    outgoing: Outgoing
    outcome: Outcome  # SENT, RETRY (transient) or FAILED (permanent)
    detail: str  # the provider's reference when sent, else the reason
    at: datetime.datetime | None = None


def messages_send(
    *, ids: list[int], claim: str, now: datetime.datetime | None = None
) -> dict[int, Outcome]:
    """Send one claimed batch. Safe to call any number of times with the same claim.

    A message the provider could not take goes back to pending, due again after a backoff
    (REMINDERS_RETRY_SECONDS, doubling), until REMINDERS_MAX_ATTEMPTS calls have been made;
    a permanent error fails it at once. Returns each id's Outcome.
    """
    now = now or timezone.now()
    batch = _prepare_batch(ids=ids, claim=claim, now=now)
    deliveries = _deliver_batch(batch.outgoing)
    return batch.outcomes | _record_batch(deliveries, now=now, retry_later=True)


def message_send(*, message_id: int, claim: str, now: datetime.datetime | None = None) -> str:
    """Send one claimed message, or cancel or defer it. Safe to call any number of times.

    Returns "sent", "deferred", "cancelled", "failed" or "skipped" (no longer this claim's).
    Raises TransientSendError when the provider may succeed later and attempts remain; the
    row stays claimed, for a caller that retries it itself (the send_message task).
    """
    now = now or timezone.now()
    batch = _prepare_batch(ids=[message_id], claim=claim, now=now)
    if message_id in batch.outcomes:
        return batch.outcomes[message_id]
    deliveries = _deliver_batch(batch.outgoing)
    outcome = _record_batch(deliveries, now=now, retry_later=False)[message_id]
    if outcome == Outcome.RETRY:
        raise channels.TransientSendError(deliveries[0].detail)
    return outcome


def _prepare(*, message_id: int, claim: str, now: datetime.datetime) -> Outgoing | str:
    batch = _prepare_batch(ids=[message_id], claim=claim, now=now)
    return batch.outcomes.get(message_id) or batch.outgoing[0]


class _Decisions:
    """Row changes decided while preparing, written in one update per kind of change."""

    def __init__(self, outcomes: dict[int, Outcome]):
        self.outcomes = outcomes
        self.finished: dict[tuple[str, str], list[int]] = {}
        self.deferred: dict[datetime.datetime, list[int]] = {}

    def finish(self, message: Message, status: str, reason: str) -> None:
        self.finished.setdefault((status, reason), []).append(message.pk)
        self.outcomes[message.pk] = (
            Outcome.FAILED if status == Message.Status.FAILED else Outcome.CANCELLED
        )

    def defer(self, message: Message, until: datetime.datetime) -> None:
        self.deferred.setdefault(until, []).append(message.pk)
        self.outcomes[message.pk] = Outcome.DEFERRED

    def write(self) -> None:
        for (status, reason), pks in self.finished.items():
            # The day slot is given back: nothing reached the person.
            Message.objects.filter(pk__in=pks).update(
                status=status, last_error=reason, claimed_by="", claimed_at=None, day_slot=None
            )
        for until, pks in self.deferred.items():
            Message.objects.filter(pk__in=pks).update(
                status=Message.Status.PENDING, due_at=until, claimed_by="", claimed_at=None
            )


@transaction.atomic
def _prepare_batch(*, ids: list[int], claim: str, now: datetime.datetime) -> _Batch:
    batch = _Batch()
    decisions = _Decisions(batch.outcomes)
    # Locked until this transaction ends: a re-plan, a sweep or a second worker holding a
    # stale copy of the claim waits here, and then sees the row's new state.
    messages = list(
        Message.objects.select_for_update(of=("self",))
        .select_related("participant__service", "enrolment__cohort", "timepoint")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    found = {m.pk for m in messages}
    batch.outcomes.update({pk: Outcome.SKIPPED for pk in ids if pk not in found})
    live = []
    for message in messages:
        if message.status != Message.Status.SENDING or message.claimed_by != claim:
            batch.outcomes[message.pk] = Outcome.SKIPPED
        elif message.attempts >= settings.REMINDERS_MAX_ATTEMPTS:
            decisions.finish(message, Message.Status.FAILED, Reason.MAX_ATTEMPTS)
        else:
            live.append(message)
    if not live:
        decisions.write()
        return batch

    policies = _policies({m.enrolment.cohort.programme_id for m in live})
    windows = _windows(live)
    escalations = [m for m in live if m.kind == Message.Kind.ESCALATION]
    seconds = _second_reminders(escalations)
    sendable = []
    for message in live:
        policy = policies[message.enrolment.cohort.programme_id]
        window = windows.get((message.enrolment_id, message.timepoint_id), _NO_WINDOW)
        if message.kind == Message.Kind.ESCALATION:
            refusal = _escalation_refusal(message, window, now, seconds)
        else:
            refusal = _participant_refusal(message, window, now)
        if refusal == Reason.DEFER_DAY:
            decisions.defer(message, schedule.next_day_start(now, policy))
        elif refusal:
            decisions.finish(message, Message.Status.CANCELLED, refusal)
        elif schedule.is_quiet(now, policy):
            decisions.defer(message, schedule.next_allowed(now, policy))
        else:
            sendable.append(message)

    participant_messages = [m for m in sendable if m.kind != Message.Kind.ESCALATION]
    slotted = _day_slots(participant_messages, now, policies, decisions)
    outgoing = _participant_outgoing_batch(
        [m for m in participant_messages if m.pk in slotted], claim, windows, decisions
    )
    outgoing += _escalation_outgoing_batch(
        [m for m in sendable if m.kind == Message.Kind.ESCALATION], claim
    )
    decisions.write()

    # claimed_at doubles as "last sign of life": the sweep leaves a row alone while a
    # worker is inside a provider call.
    by_channel: dict[str, list[int]] = {}
    for item in outgoing:
        by_channel.setdefault(item.channel, []).append(item.message_id)
    for channel, pks in by_channel.items():
        Message.objects.filter(pk__in=pks).update(
            attempts=F("attempts") + 1, claimed_at=now, channel=channel
        )
    for item in outgoing:
        item.attempts += 1
    batch.outgoing = outgoing
    return batch


_NO_WINDOW = {"answerable": 0, "completed": 0, "closes_on": None}


def _windows(messages: list[Message]) -> dict[tuple[int, int], dict]:
    """The answerable and completed questionnaires of each message's window, one query."""
    pairs = {(m.enrolment_id, m.timepoint_id) for m in messages}
    rows = (
        Administration.objects.filter(
            enrolment_id__in={e for e, _ in pairs}, timepoint_id__in={t for _, t in pairs}
        )
        .exclude(instrument_code__in=STAFF_COMPLETED_INSTRUMENTS)
        .values("enrolment_id", "timepoint_id")
        .annotate(
            answerable=Count("id", filter=Q(status__in=ANSWERABLE)),
            completed=Count("id", filter=Q(status=Administration.Status.COMPLETED)),
            closes_on=Max("closes_on", filter=Q(status__in=ANSWERABLE)),
        )
        .order_by()
    )
    windows = {}
    for row in rows:
        key = (row.pop("enrolment_id"), row.pop("timepoint_id"))
        if key in pairs:
            windows[key] = row
    return windows


def _second_reminders(escalations: list[Message]) -> dict[tuple[int, int], str]:
    if not escalations:
        return {}
    pairs = {(m.enrolment_id, m.timepoint_id) for m in escalations}
    rows = Message.objects.filter(
        enrolment_id__in={e for e, _ in pairs},
        timepoint_id__in={t for _, t in pairs},
        kind=Message.Kind.REMINDER_2,
    ).values_list("enrolment_id", "timepoint_id", "status")
    return {(e, t): status for e, t, status in rows if (e, t) in pairs}


def _participant_refusal(message: Message, window: dict, now) -> Reason | None:
    if message.participant.messages_opt_out:
        return Reason.OPTED_OUT
    if message.enrolment.status not in MESSAGEABLE_ENROLMENTS:
        return Reason.ENROLMENT_ENDED
    if not window["answerable"]:
        return Reason.COMPLETED if window["completed"] else Reason.NOT_OPEN
    if schedule.local_day(now) > window["closes_on"]:
        return Reason.WINDOW_CLOSED
    return None


def _escalation_refusal(message: Message, window: dict, now, seconds: dict) -> Reason | None:
    if message.enrolment.status not in MESSAGEABLE_ENROLMENTS:
        return Reason.ENROLMENT_ENDED
    if not window["answerable"]:
        return Reason.COMPLETED if window["completed"] else Reason.NOT_OPEN
    if schedule.local_day(now) > window["closes_on"]:
        return Reason.WINDOW_CLOSED
    second = seconds.get((message.enrolment_id, message.timepoint_id))
    if second == Message.Status.SENT:
        return None
    if second in (Message.Status.PENDING, Message.Status.SENDING):
        return Reason.DEFER_DAY
    return Reason.NO_SECOND_REMINDER


def _day_slots(messages: list[Message], now, policies, decisions: _Decisions) -> set[int]:
    """Give each message the person's UK day, one message a person a day; returns the ids
    that hold it. The unique constraint message_one_per_person_per_day is the arbiter."""
    if not messages:
        return set()
    day = schedule.local_day(now)
    need = [m for m in messages if m.day_slot != day]
    taken = set(
        Message.objects.filter(participant_id__in={m.participant_id for m in need}, day_slot=day)
        .exclude(pk__in=[m.pk for m in need])
        .values_list("participant_id", flat=True)
    )
    holders = {m.participant_id for m in messages if m.day_slot == day}
    granted, refused = [], []
    for message in need:
        if message.participant_id in taken or message.participant_id in holders:
            refused.append(message)
        else:
            holders.add(message.participant_id)
            granted.append(message)
    if granted:
        try:
            with transaction.atomic():
                Message.objects.filter(pk__in=[m.pk for m in granted]).update(day_slot=day)
        except IntegrityError:
            # Another batch gave one of these people a message meanwhile: one by one, as
            # the single path does, so only that person waits.
            kept = []
            for message in granted:
                try:
                    with transaction.atomic():
                        Message.objects.filter(pk=message.pk).update(day_slot=day)
                    kept.append(message)
                except IntegrityError:
                    refused.append(message)
            granted = kept
    for message in refused:
        policy = policies[message.enrolment.cohort.programme_id]
        decisions.defer(message, schedule.next_day_start(now, policy))
    refused_ids = {m.pk for m in refused}
    return {m.pk for m in messages if m.pk not in refused_ids}


def contact_for(participant) -> tuple[str, str] | None:
    """(channel, address): the preferred channel, else the other one, else None."""
    addresses = {"sms": str(participant.mobile or ""), "email": participant.email or ""}
    preferred = participant.preferred_channel
    other = "email" if preferred == "sms" else "sms"
    for channel in (preferred, other):
        if addresses[channel]:
            return channel, addresses[channel]
    return None


def wording_for(*, service, kind: str, channel: str) -> tuple[str, str]:
    template_kind = wording.TEMPLATE_KIND[kind]
    row = (
        MessageTemplate.objects.filter(service=service, kind=template_kind, channel=channel)
        .values_list("subject", "body")
        .first()
    )
    return row or wording.DEFAULTS[(template_kind, channel)]


def participant_link(raw_token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("questionnaire:landing", args=[raw_token])


def _participant_outgoing_batch(
    messages: list[Message], claim: str, windows: dict, decisions: _Decisions
) -> list[Outgoing]:
    from measures.links import links_issue_derived
    from measures.selectors import windows_minutes

    if not messages:
        return []
    minutes = windows_minutes(pairs=[(m.enrolment_id, m.timepoint_id) for m in messages])
    saved = {
        (service_id, kind, channel): (subject, body)
        for service_id, kind, channel, subject, body in MessageTemplate.objects.filter(
            service_id__in={m.participant.service_id for m in messages}
        ).values_list("service_id", "kind", "channel", "subject", "body")
    }
    ready = []
    for message in messages:
        contact = contact_for(message.participant)
        if contact is None:
            decisions.finish(message, Message.Status.CANCELLED, Reason.NO_CONTACT)
            continue
        channel, address = contact
        service = message.participant.service
        key = (wording.TEMPLATE_KIND[message.kind], channel)
        subject, body = saved.get((service.pk, *key)) or wording.DEFAULTS[key]
        closes_on = windows[(message.enrolment_id, message.timepoint_id)]["closes_on"]
        values = {
            "public_name": service.public_name,
            "phone": service.phone,
            "closes_on": date_format(closes_on, "j F"),
            "minutes": str(minutes[(message.enrolment_id, message.timepoint_id)]),
        }
        # Tried before a link is minted: wording that cannot be filled in is a permanent
        # failure, shown to staff, never retried, and leaves no unsent live link behind.
        problem = wording.render_problem(
            subject=subject, body=body, values=values, email=channel == "email"
        )
        if problem:
            decisions.finish(message, Message.Status.FAILED, problem)
            continue
        ready.append((message, channel, address, subject, body, values, closes_on))
    # One link per message, minted on its first try and the same one on every retry.
    tokens = links_issue_derived(
        wanted={
            str(m.reference): (m.participant_id, schedule.window_end(closes_on))
            for m, *_, closes_on in ready
        }
    )
    outgoing = []
    for message, channel, address, subject, body, values, _ in ready:
        rendered = wording.render(
            subject=subject,
            body=body,
            values={**values, "link": participant_link(tokens[str(message.reference)])},
        )
        outgoing.append(
            Outgoing(
                message_id=message.pk,
                claim=claim,
                kind=message.kind,
                enrolment_id=message.enrolment_id,
                channel=channel,
                reference=str(message.reference),
                recipients=[address],
                subject=rendered.subject,
                body=rendered.body,
                attempts=message.attempts,
            )
        )
    return outgoing


ESCALATION_SUBJECT = "Safeground: questionnaires not answered after two reminders"
ESCALATION_BODY = (
    "A participant in one of your groups has not answered their questionnaires after two "
    "reminders. Sign in to Safeground to see who, and mark the task done once you have "
    "followed it up:\n\n{url}\n"
)


def _escalation_outgoing_batch(messages: list[Message], claim: str) -> list[Outgoing]:
    if not messages:
        return []
    from programmes.models import Cohort

    facilitators: dict[int, list[str]] = {}
    for cohort_id, email in (
        Cohort.facilitators.through.objects.filter(
            cohort_id__in={m.enrolment.cohort_id for m in messages}, user__is_active=True
        )
        .exclude(user__email="")
        .order_by("pk")
        .values_list("cohort_id", "user__email")
    ):
        facilitators.setdefault(cohort_id, []).append(email)
    outgoing = []
    for message in messages:
        # One task per escalation (few: one per person and timepoint at most), audited as
        # staff-facing rows are.
        Escalation.objects.get_or_create(
            enrolment_id=message.enrolment_id,
            timepoint_id=message.timepoint_id,
            defaults={"service_id": message.service_id, "message": message},
        )
        url = settings.SITE_URL.rstrip("/") + reverse(
            "reminders:service_messages", args=[message.service_id]
        )
        outgoing.append(
            Outgoing(
                message_id=message.pk,
                claim=claim,
                kind=message.kind,
                enrolment_id=message.enrolment_id,
                channel=Message.Channel.STAFF,
                reference=str(message.reference),
                recipients=facilitators.get(message.enrolment.cohort_id, []),
                subject=ESCALATION_SUBJECT,
                body=ESCALATION_BODY.format(url=url),
                attempts=message.attempts,
            )
        )
    return outgoing


def _deliver_batch(outgoing: list[Outgoing]) -> list[_Delivery]:
    """Every provider call of a batch, outside any transaction.

    REMINDERS_SEND_CONCURRENCY calls at a time, texts and e-mails alike, each call still
    waiting its turn in the send bucket, so one batch can use the provider's whole rate
    although each call waits for its answer (Notify, an SMTP server: tens of milliseconds).
    Each thread sends its e-mails over one SMTP connection of its own, opened at its first
    e-mail and closed when the batch is done: never one connection an e-mail. Nothing here
    touches the database. Results come back in the batch's order."""
    bucket = pacing.send_bucket()
    width = min(max(1, settings.REMINDERS_SEND_CONCURRENCY), len(outgoing))
    with contextlib.ExitStack() as stack:
        mailers = _Mailers(stack)
        if width <= 1:
            return [_deliver_one(item, bucket, mailers) for item in outgoing]
        with concurrent.futures.ThreadPoolExecutor(width, thread_name_prefix="send") as pool:
            return list(pool.map(lambda item: _deliver_one(item, bucket, mailers), outgoing))


class _Mailers:
    """One SMTP connection for each thread that sends an e-mail, opened at its first one,
    all closed with the batch."""

    def __init__(self, stack: contextlib.ExitStack):
        self.stack, self.local, self.lock = stack, threading.local(), threading.Lock()

    def get(self):
        connection = getattr(self.local, "connection", None)
        if connection is None:
            with self.lock:  # ExitStack is not safe to enter from two threads at once
                connection = self.stack.enter_context(channels.email_session())
            self.local.connection = connection
        return connection


def _deliver_one(item: Outgoing, bucket, mailers: _Mailers) -> _Delivery:
    try:
        if item.channel == Message.Channel.SMS:
            reference = _deliver_sms(item, bucket)
        elif not item.recipients:
            reference = "no-recipient"
        else:
            bucket.take()
            reference = channels.email_send(
                to=item.recipients,
                subject=item.subject,
                body=item.body,
                reference=item.reference,
                mailer=mailers.get(),
            )
    except channels.TransientSendError as error:
        return _Delivery(item, Outcome.RETRY, str(error) or type(error).__name__)
    except channels.PermanentSendError as error:
        return _Delivery(item, Outcome.FAILED, str(error) or type(error).__name__)
    return _Delivery(item, Outcome.SENT, reference, timezone.now())


def _deliver_sms(item: Outgoing, bucket) -> str:
    backend = channels.sms_backend()
    if item.attempts > 1:
        # An earlier call may have reached the provider (the worker died before the sent
        # mark, or the answer timed out): ask before sending again.
        bucket.take()
        found = backend.find(reference=item.reference)
        if found:
            log.info("Message %s was already accepted by the provider", item.message_id)
            return found
    bucket.take()
    return backend.send(to=item.recipients[0], body=item.body, reference=item.reference)


def _retry_at(now: datetime.datetime, attempts: int) -> datetime.datetime:
    base = settings.REMINDERS_RETRY_SECONDS
    wait = min(15 * 60, base * 2 ** max(0, attempts - 1))
    return now + datetime.timedelta(seconds=wait * random.uniform(0.8, 1.2))


SENT_FIELDS = ["status", "sent_at", "provider_reference", "last_error"]


@transaction.atomic
def _record_batch(
    deliveries: list[_Delivery], *, now: datetime.datetime, retry_later: bool
) -> dict[int, Outcome]:
    """Write a batch's provider results in bulk. Marked sent whatever its claim: if a sweep
    handed the row on meanwhile, the new claim then finds it sent and does nothing, rather
    than calling the provider a second time."""
    outcomes: dict[int, Outcome] = {}
    sent = {d.outgoing.message_id: d for d in deliveries if d.outcome == Outcome.SENT}
    failed = {d.outgoing.message_id: d for d in deliveries if d.outcome != Outcome.SENT}
    if sent:
        rows = list(
            Message.objects.select_for_update()
            .filter(pk__in=list(sent), status__in=[Message.Status.SENDING, Message.Status.PENDING])
            .order_by("pk")
        )
        for row in rows:
            delivery = sent[row.pk]
            row.status, row.sent_at = Message.Status.SENT, delivery.at
            row.provider_reference = delivery.detail[:120]
            row.last_error, row.claimed_by, row.claimed_at = "", "", None
        Message.objects.bulk_update(
            rows,
            ["status", "sent_at", "provider_reference", "last_error", "claimed_by", "claimed_at"],
        )
        outcomes.update(dict.fromkeys(sent, Outcome.SENT))
        # Reminders count from the invitation actually sent, and the facilitators are told
        # after the second reminder actually sent: a late send moves what follows it.
        moving = {
            sent[row.pk].outgoing.enrolment_id
            for row in rows
            if sent[row.pk].outgoing.kind in (Message.Kind.INVITATION, Message.Kind.REMINDER_2)
        }
        if moving:
            messages_replan(enrolment_ids=moving, now=max(d.at for d in sent.values()))
    if failed:
        claims = {d.outgoing.claim for d in failed.values()}
        rows = Message.objects.select_for_update().filter(
            pk__in=list(failed), claimed_by__in=claims, status=Message.Status.SENDING
        )
        finished: dict[str, list[int]] = {}
        again: list[Message] = []
        keep: dict[str, list[int]] = {}
        for row in rows:
            delivery = failed[row.pk]
            if row.claimed_by != delivery.outgoing.claim:
                continue
            reason = delivery.detail[:200]
            if (
                delivery.outcome == Outcome.FAILED
                or row.attempts >= settings.REMINDERS_MAX_ATTEMPTS
            ):
                finished.setdefault(reason, []).append(row.pk)
                outcomes[row.pk] = Outcome.FAILED
            elif retry_later:
                row.status, row.due_at, row.last_error = (
                    Message.Status.PENDING,
                    _retry_at(now, row.attempts),
                    reason,
                )
                row.claimed_by, row.claimed_at = "", None
                again.append(row)
                outcomes[row.pk] = Outcome.RETRY
            else:
                keep.setdefault(reason, []).append(row.pk)
                outcomes[row.pk] = Outcome.RETRY
        for reason, pks in finished.items():
            Message.objects.filter(pk__in=pks).update(
                status=Message.Status.FAILED,
                last_error=reason,
                claimed_by="",
                claimed_at=None,
                day_slot=None,
            )
            log.warning("%d messages failed: %s", len(pks), reason)
        Message.objects.bulk_update(
            again, ["status", "due_at", "last_error", "claimed_by", "claimed_at"]
        )
        for reason, pks in keep.items():
            Message.objects.filter(pk__in=pks).update(last_error=reason)
    for delivery in deliveries:
        outcomes.setdefault(delivery.outgoing.message_id, Outcome.SKIPPED)
    return outcomes


def _record_sent(outgoing: Outgoing, *, provider_reference: str, now) -> None:
    _record_batch(
        [_Delivery(outgoing, Outcome.SENT, provider_reference, now)], now=now, retry_later=False
    )


# Staff actions


@dataclass(frozen=True)
class ManualReminder:
    message: Message
    due_at: datetime.datetime
    reason: WhenRequested


@transaction.atomic
def reminder_request(*, participant, requested_by, now: datetime.datetime) -> ManualReminder:
    """A reminder asked for by staff, for the participant's earliest-closing open window.

    It goes out through the dispatcher like any other row, so it obeys quiet hours and the
    one-a-day rule; the result says when it will go.
    """
    if participant.messages_opt_out:
        raise ReminderRefused("This person has opted out of messages, so none was sent.")
    if contact_for(participant) is None:
        raise ReminderRefused("There is no mobile number or email address to send to.")
    today = schedule.local_day(now)
    open_window = (
        _answerable_administrations()
        .filter(
            enrolment__participant=participant,
            enrolment__status__in=MESSAGEABLE_ENROLMENTS,
            opens_on__lte=today,
            closes_on__gte=today,
        )
        .values("enrolment_id", "timepoint_id", "enrolment__cohort__programme_id")
        .annotate(closes=Max("closes_on"))
        .order_by("closes", "enrolment_id", "timepoint_id")
        .first()
    )
    if open_window is None:
        raise ReminderRefused("There is no questionnaire open for this person at the moment.")
    policy = policy_for(open_window["enrolment__cohort__programme_id"])
    due_at, reason = schedule.next_allowed(now, policy), WhenRequested.NOW
    if due_at != now:
        reason = WhenRequested.QUIET_HOURS
    start, end = schedule.day_bounds(schedule.local_day(due_at))
    if Message.objects.filter(
        participant=participant, day_slot=schedule.local_day(due_at)
    ).exists():
        due_at, reason = schedule.next_day_start(due_at, policy), WhenRequested.ALREADY_TODAY
    elif Message.objects.filter(
        participant=participant,
        kind__in=PARTICIPANT_KINDS,
        status=Message.Status.PENDING,
        due_at__gte=max(start, now),
        due_at__lt=end,
    ).exists():
        raise ReminderRefused(
            "A message is already due to go to this person today, so no extra one was added."
        )
    message = Message.objects.create(
        service_id=participant.service_id,
        participant=participant,
        enrolment_id=open_window["enrolment_id"],
        timepoint_id=open_window["timepoint_id"],
        kind=Message.Kind.MANUAL,
        channel=participant.preferred_channel,
        due_at=due_at,
        requested_by=requested_by,
    )
    return ManualReminder(message=message, due_at=due_at, reason=reason)


@transaction.atomic
def escalation_resolve(*, escalation: Escalation, resolved_by) -> Escalation:
    if escalation.resolved_at is None:
        escalation.resolved_at = timezone.now()
        escalation.resolved_by = resolved_by
        escalation.resolution = Escalation.Resolution.FOLLOWED_UP
        escalation.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    return escalation


@transaction.atomic
def message_template_save(
    *, service, kind: str, channel: str, subject: str, body: str, updated_by
) -> MessageTemplate:
    template = MessageTemplate.objects.filter(service=service, kind=kind, channel=channel).first()
    template = template or MessageTemplate(service=service, kind=kind, channel=channel)
    template.subject = subject
    template.body = body
    template.updated_by = updated_by
    template.full_clean()
    template.save()
    return template


@transaction.atomic
def message_template_reset(*, service, kind: str, channel: str) -> None:
    MessageTemplate.objects.filter(service=service, kind=kind, channel=channel).delete()
