"""Invitations, reminders and escalations as database rows, claimed and sent exactly once.

The flow, run every minute by reminders.tasks.dispatch_due:
1. messages_plan lays out one row per participant, timepoint and kind for every open
   questionnaire window (idempotent: a unique key and INSERT ... ON CONFLICT DO NOTHING).
2. messages_sweep_stuck returns rows left in "sending" by a worker that died to "pending".
3. messages_claim moves due "pending" rows to "sending" under a claim token, atomically, so
   two dispatchers never claim the same row; the ids go to the queue after commit.
4. message_send re-checks everything under a row lock (still claimed by this claim, not
   opted out, enrolment open, not completed, window open, not quiet hours, nothing sent to
   this person today), calls the channel with the row's reference as idempotency key, and
   records the result.
"""

import datetime
import logging
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
from reminders import channels, schedule, wording
from reminders.models import Escalation, Message, MessageTemplate, ReminderPolicy

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
    rows were offered to the database (conflicting ones are ignored)."""
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


@dataclass
class _Window:
    """One enrolment's questionnaires at one timepoint, as the messages see them."""

    live: int = 0
    completed: int = 0
    expired: int = 0
    opens: datetime.date | None = None
    closes: datetime.date | None = None
    messages: dict[str, Message] = field(default_factory=dict)

    def ended_as(self) -> str:
        """Why nothing more should go for this window, when nothing in it is live."""
        if self.completed:
            return "completed"
        return "window_closed" if self.expired else "cancelled"


# Why an escalation closed itself, from why its window's messages stopped.
ESCALATION_CLOSED_BY = {
    "completed": Escalation.Resolution.COMPLETED,
    "window_closed": Escalation.Resolution.EXPIRED,
    "cancelled": Escalation.Resolution.CANCELLED,
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
    # this one rather than sending from a plan that is being rewritten.
    for message in (
        Message.objects.select_for_update()
        .filter(enrolment_id__in=enrolment_ids)
        .exclude(kind=Message.Kind.MANUAL)
        .order_by("pk")
    ):
        windows.setdefault((message.enrolment_id, message.timepoint_id), _Window()).messages[
            message.kind
        ] = message
    policies = _policies({e["programme_id"] for e in enrolments.values()})

    create, update = [], []
    closing: dict[tuple[int, int], str] = {}
    for key, window in sorted(windows.items()):
        enrolment = enrolments[key[0]]
        stop = ""
        if enrolment["status"] not in MESSAGEABLE_ENROLMENTS:
            stop = "enrolment_ended"
        elif not window.live:
            stop = window.ended_as()
        elif window.closes < today:
            stop = "window_closed"
        elif enrolment["opted_out"]:
            stop = "opted_out"
        if not window.live:
            closing[key] = ESCALATION_CLOSED_BY[window.ended_as()]
        elif stop == "enrolment_ended":
            closing[key] = Escalation.Resolution.CANCELLED
        if stop:
            for message in window.messages.values():
                if message.status == Message.Status.PENDING:
                    _cancel_in_plan(message, stop)
                    update.append(message)
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
            elif message.status == Message.Status.PENDING and message.due_at != due_at:
                message.due_at = due_at
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
                update.append(message)
        for kind, message in window.messages.items():
            if kind not in plan and message.status == Message.Status.PENDING:
                _cancel_in_plan(message, "not_planned")
                update.append(message)

    Message.objects.bulk_update(update, ["status", "due_at", "last_error", "day_slot"])
    Message.objects.bulk_create(create, ignore_conflicts=True)
    _escalations_close(closing, now)
    return len(create) + len(update)


def _cancel_in_plan(message: Message, reason: str) -> None:
    message.status, message.last_error, message.day_slot = Message.Status.CANCELLED, reason, None


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
    rows = [
        escalation
        for escalation in Escalation.objects.select_for_update()
        .filter(enrolment_id__in=enrolment_ids, resolved_at__isnull=True)
        .select_related("enrolment__cohort", "timepoint")
        if (escalation.enrolment_id, escalation.timepoint_id) in closing
    ]
    for escalation in rows:
        escalation.resolved_at = now
        escalation.resolution = closing[(escalation.enrolment_id, escalation.timepoint_id)]
    Escalation.objects.bulk_update(rows, ["resolved_at", "resolution"])
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
        last_error="max_attempts",
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


def message_send(*, message_id: int, claim: str, now: datetime.datetime | None = None) -> str:
    """Send one claimed message, or cancel or defer it. Safe to call any number of times.

    Returns "sent", "deferred", "cancelled", "failed" or "skipped" (no longer this claim's).
    Raises TransientSendError when the provider may succeed later and attempts remain.
    """
    now = now or timezone.now()
    outgoing = _prepare(message_id=message_id, claim=claim, now=now)
    if isinstance(outgoing, str):
        return outgoing
    try:
        provider_reference = _deliver(outgoing)
    except channels.TransientSendError as error:
        if _record_failure(outgoing, reason=str(error) or type(error).__name__, final=False):
            raise
        return "failed"
    except channels.PermanentSendError as error:
        _record_failure(outgoing, reason=str(error) or type(error).__name__, final=True)
        return "failed"
    _record_sent(outgoing, provider_reference=provider_reference, now=timezone.now())
    return "sent"


@transaction.atomic
def _prepare(*, message_id: int, claim: str, now: datetime.datetime) -> Outgoing | str:
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("participant__service", "enrolment__cohort", "timepoint")
        .filter(pk=message_id)
        .first()
    )
    if message is None or message.status != Message.Status.SENDING:
        return "skipped"
    if message.claimed_by != claim:
        return "skipped"
    if message.attempts >= settings.REMINDERS_MAX_ATTEMPTS:
        _finish(message, Message.Status.FAILED, "max_attempts")
        return "failed"
    policy = policy_for(message.enrolment.cohort.programme_id)
    window = _window(message)

    if message.kind == Message.Kind.ESCALATION:
        refusal = _escalation_refusal(message, window, now)
    else:
        refusal = _participant_refusal(message, window, now)
    if refusal == "defer_day":
        return _defer(message, schedule.next_day_start(now, policy))
    if refusal:
        _finish(message, Message.Status.CANCELLED, refusal)
        return "cancelled"
    if schedule.is_quiet(now, policy):
        return _defer(message, schedule.next_allowed(now, policy))

    if message.kind == Message.Kind.ESCALATION:
        outgoing = _escalation_outgoing(message, claim)
    else:
        day = schedule.local_day(now)
        if message.day_slot != day:
            try:
                with transaction.atomic():
                    Message.objects.filter(pk=message.pk).update(day_slot=day)
            except IntegrityError:
                # This person already has a message today.
                return _defer(message, schedule.next_day_start(now, policy))
        outgoing = _participant_outgoing(message, claim, window)
        if isinstance(outgoing, str):
            _finish(message, Message.Status.CANCELLED, outgoing)
            return "cancelled"

    # claimed_at doubles as "last sign of life": the sweep leaves a row alone while a
    # worker is inside a provider call.
    Message.objects.filter(pk=message.pk).update(
        attempts=F("attempts") + 1, claimed_at=now, channel=outgoing.channel
    )
    outgoing.attempts = message.attempts + 1
    return outgoing


def _window(message: Message) -> dict:
    return (
        Administration.objects.filter(
            enrolment_id=message.enrolment_id, timepoint_id=message.timepoint_id
        )
        .exclude(instrument_code__in=STAFF_COMPLETED_INSTRUMENTS)
        .aggregate(
            answerable=Count("id", filter=Q(status__in=ANSWERABLE)),
            completed=Count("id", filter=Q(status=Administration.Status.COMPLETED)),
            closes_on=Max("closes_on", filter=Q(status__in=ANSWERABLE)),
        )
    )


def _participant_refusal(message: Message, window: dict, now) -> str:
    if message.participant.messages_opt_out:
        return "opted_out"
    if message.enrolment.status not in MESSAGEABLE_ENROLMENTS:
        return "enrolment_ended"
    if not window["answerable"]:
        return "completed" if window["completed"] else "not_open"
    if schedule.local_day(now) > window["closes_on"]:
        return "window_closed"
    return ""


def _escalation_refusal(message: Message, window: dict, now) -> str:
    if message.enrolment.status not in MESSAGEABLE_ENROLMENTS:
        return "enrolment_ended"
    if not window["answerable"]:
        return "completed" if window["completed"] else "not_open"
    if schedule.local_day(now) > window["closes_on"]:
        return "window_closed"
    second = (
        Message.objects.filter(
            enrolment_id=message.enrolment_id,
            timepoint_id=message.timepoint_id,
            kind=Message.Kind.REMINDER_2,
        )
        .values_list("status", flat=True)
        .first()
    )
    if second == Message.Status.SENT:
        return ""
    if second in (Message.Status.PENDING, Message.Status.SENDING):
        return "defer_day"
    return "no_second_reminder"


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


def _participant_outgoing(message: Message, claim: str, window: dict) -> Outgoing | str:
    from measures.links import link_issue
    from measures.selectors import window_minutes

    participant = message.participant
    contact = contact_for(participant)
    if contact is None:
        return "no_contact"
    channel, address = contact
    service = participant.service
    closes_on = window["closes_on"]
    token = link_issue(participant=participant, expires_at=schedule.window_end(closes_on))
    subject, body = wording_for(service=service, kind=message.kind, channel=channel)
    rendered = wording.render(
        subject=subject,
        body=body,
        values={
            "public_name": service.public_name,
            "link": participant_link(token),
            "phone": service.phone,
            "closes_on": date_format(closes_on, "j F"),
            "minutes": str(
                window_minutes(enrolment_id=message.enrolment_id, timepoint_id=message.timepoint_id)
            ),
        },
    )
    return Outgoing(
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


ESCALATION_SUBJECT = "Safeground: questionnaires not answered after two reminders"
ESCALATION_BODY = (
    "A participant in one of your groups has not answered their questionnaires after two "
    "reminders. Sign in to Safeground to see who, and mark the task done once you have "
    "followed it up:\n\n{url}\n"
)


def _escalation_outgoing(message: Message, claim: str) -> Outgoing:
    Escalation.objects.get_or_create(
        enrolment_id=message.enrolment_id,
        timepoint_id=message.timepoint_id,
        defaults={"service_id": message.service_id, "message": message},
    )
    recipients = list(
        message.enrolment.cohort.facilitators.filter(is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    url = settings.SITE_URL.rstrip("/") + reverse(
        "reminders:service_messages", args=[message.service_id]
    )
    return Outgoing(
        message_id=message.pk,
        claim=claim,
        kind=message.kind,
        enrolment_id=message.enrolment_id,
        channel=Message.Channel.STAFF,
        reference=str(message.reference),
        recipients=recipients,
        subject=ESCALATION_SUBJECT,
        body=ESCALATION_BODY.format(url=url),
        attempts=message.attempts,
    )


def _deliver(outgoing: Outgoing) -> str:
    if outgoing.channel == Message.Channel.SMS:
        return channels.sms_backend().send(
            to=outgoing.recipients[0], body=outgoing.body, reference=outgoing.reference
        )
    if not outgoing.recipients:
        return "no-recipient"
    return channels.email_send(
        to=outgoing.recipients,
        subject=outgoing.subject,
        body=outgoing.body,
        reference=outgoing.reference,
    )


def _defer(message: Message, until: datetime.datetime) -> str:
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.PENDING, due_at=until, claimed_by="", claimed_at=None
    )
    return "deferred"


def _finish(message: Message, status: str, reason: str) -> None:
    # The day slot is given back: nothing reached the person.
    Message.objects.filter(pk=message.pk).update(
        status=status, last_error=reason, claimed_by="", claimed_at=None, day_slot=None
    )


@transaction.atomic
def _record_failure(outgoing: Outgoing, *, reason: str, final: bool) -> bool:
    """Record a failed provider call; True when the caller should retry later."""
    message = (
        Message.objects.select_for_update()
        .filter(pk=outgoing.message_id, claimed_by=outgoing.claim, status=Message.Status.SENDING)
        .first()
    )
    if message is None:
        return False
    if final or message.attempts >= settings.REMINDERS_MAX_ATTEMPTS:
        _finish(message, Message.Status.FAILED, reason[:200])
        log.warning("Message %s failed after %d attempts", message.pk, message.attempts)
        return False
    Message.objects.filter(pk=message.pk).update(last_error=reason[:200])
    return True


@transaction.atomic
def _record_sent(outgoing: Outgoing, *, provider_reference: str, now) -> None:
    # Marked sent whatever its claim: if a sweep handed the row on meanwhile, the new claim
    # then finds it sent and does nothing, rather than calling the provider a second time.
    marked = Message.objects.filter(
        pk=outgoing.message_id, status__in=[Message.Status.SENDING, Message.Status.PENDING]
    ).update(
        status=Message.Status.SENT,
        sent_at=now,
        provider_reference=provider_reference[:120],
        last_error="",
        claimed_by="",
        claimed_at=None,
    )
    # Reminders count from the invitation actually sent, and the facilitators are told
    # after the second reminder actually sent: a late send moves what follows it.
    if marked and outgoing.kind in (Message.Kind.INVITATION, Message.Kind.REMINDER_2):
        messages_replan(enrolment_ids=[outgoing.enrolment_id], now=now)


# Staff actions


@dataclass(frozen=True)
class ManualReminder:
    message: Message
    due_at: datetime.datetime
    reason: str  # "now", "quiet_hours" or "already_today"


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
    due_at, reason = schedule.next_allowed(now, policy), "now"
    if due_at != now:
        reason = "quiet_hours"
    start, end = schedule.day_bounds(schedule.local_day(due_at))
    if Message.objects.filter(
        participant=participant, day_slot=schedule.local_day(due_at)
    ).exists():
        due_at, reason = schedule.next_day_start(due_at, policy), "already_today"
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
