"""Celery tasks: each takes ids, loads rows and calls a service. The database is the truth;
a lost or repeated task only makes a message late, never doubled."""

import datetime
import logging
import socket
import time

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from reminders import pacing, services
from reminders.channels import TransientSendError

log = logging.getLogger(__name__)


def _enqueue(claim: services.Claim) -> bool:
    """One send task for the whole claim; False (and the rows given back) if the broker
    cannot take it, so the next run or a sweep picks them up."""
    try:
        send_batch.delay(claim.ids, claim.token)
    except BrokerError:
        released = services.messages_release(ids=claim.ids, claim=claim.token)
        log.warning("Broker unavailable; %d claimed messages released", released)
        return False
    return True


def dispatch(*, now=None, enqueue=_enqueue, seconds: float | None = None) -> dict:
    """One dispatcher run: open and expire questionnaires (whose events plan and cancel
    their messages), sweep stuck messages, then claim what is due, REMINDERS_BATCH at a
    time, one send task per batch, for as long as messages are due and the run lasts
    (REMINDERS_DISPATCH_SECONDS), paced to the provider's rate. Messages are planned by
    events when windows open or move (reminders.receivers), not by this run.

    `enqueue` receives each claim after it commits; a False answer (the broker is down)
    ends the run.
    """
    from measures import services as measures_services

    explicit = now is not None
    now = now or timezone.now()
    today = timezone.localdate(now)
    opened = measures_services.administrations_open_due(today=today)
    measures_services.administrations_expire(today=today)
    swept = services.messages_sweep_stuck(
        now=now, older_than=datetime.timedelta(seconds=settings.REMINDERS_STUCK_SECONDS)
    )
    bucket = pacing.claim_bucket()
    limit = settings.REMINDERS_BATCH
    deadline = time.monotonic() + (
        settings.REMINDERS_DISPATCH_SECONDS if seconds is None else seconds
    )
    claimed, queued = 0, []
    # Counted again only after a claim: while the bucket makes the run wait, the count read
    # before is still what the next claim may take (a count a wait would cost a query each
    # time the run wakes, most of a burst's queries).
    due = None
    while True:
        claim_now = now if explicit else timezone.now()
        if due is None:
            due = services.messages_due_count(now=claim_now, limit=limit)
        if not due:
            break
        # A whole batch's worth (or all that is due) or nothing: small claims would cost a
        # task and a batch's fixed queries for a few messages.
        granted, wait = bucket.take_up_to(due, at_least=min(due, int(bucket.capacity)))
        if not granted:
            if time.monotonic() + wait > deadline:
                break
            time.sleep(max(wait, 0.01))
            continue
        with transaction.atomic():
            claim = services.messages_claim(
                now=claim_now, limit=granted, worker=socket.gethostname()
            )
            if claim.ids:
                transaction.on_commit(lambda claim=claim: queued.append(enqueue(claim)))
        bucket.give_back(granted - len(claim.ids))
        due = None
        if queued and queued[-1] is False:
            break
        claimed += len(claim.ids)
        if len(claim.ids) < granted:
            break
    return {"opened": opened, "swept": swept, "claimed": claimed}


@shared_task(name="reminders.tasks.dispatch_due", ignore_result=True)
def dispatch_due() -> dict:
    return dispatch()


@shared_task(
    name="reminders.tasks.send_batch",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def send_batch(message_ids: list[int], claim: str) -> dict:
    """Send one claimed batch. Retries are rows back in pending with a due time (the
    service's backoff), so a redelivered task finds them no longer its claim's."""
    outcomes = services.messages_send(ids=message_ids, claim=claim)
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@shared_task(
    name="reminders.tasks.send_message",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientSendError,),
    retry_backoff=30,
    retry_backoff_max=15 * 60,
    retry_jitter=True,
    max_retries=10,
    ignore_result=True,
)
def send_message(self, message_id: int, claim: str) -> str:
    # One message: kept for tasks queued before send_batch existed. The service decides
    # when a message has failed (REMINDERS_MAX_ATTEMPTS); max_retries is only a backstop.
    return services.message_send(message_id=message_id, claim=claim)


@shared_task(name="reminders.tasks.sweep_stuck", ignore_result=True)
def sweep_stuck() -> int:
    return services.messages_sweep_stuck(
        now=timezone.now(),
        older_than=datetime.timedelta(seconds=settings.REMINDERS_STUCK_SECONDS),
    )
