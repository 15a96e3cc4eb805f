"""Celery tasks: each takes ids, loads rows and calls a service. The database is the truth;
a lost or repeated task only makes a message late, never doubled."""

import datetime
import logging
import socket
from functools import partial

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from reminders import services
from reminders.channels import TransientSendError

log = logging.getLogger(__name__)


def _enqueue(claim: services.Claim) -> None:
    for position, message_id in enumerate(claim.ids):
        try:
            send_message.delay(message_id, claim.token)
        except BrokerError:
            # The broker is down: give the rest back so the next run (or a sweep) picks them
            # up; the ones already queued stay claimed and will be sent.
            released = services.messages_release(ids=claim.ids[position:], claim=claim.token)
            log.warning("Broker unavailable; %d claimed messages released", released)
            return


def dispatch(*, now=None, enqueue=_enqueue) -> dict:
    """One full dispatcher run. `enqueue` receives the claim after it commits."""
    from measures import services as measures_services

    now = now or timezone.now()
    today = timezone.localdate(now)
    measures_services.administrations_open_due(today=today)
    measures_services.administrations_expire(today=today)
    planned = services.messages_plan(today=today)
    swept = services.messages_sweep_stuck(
        now=now, older_than=datetime.timedelta(seconds=settings.REMINDERS_STUCK_SECONDS)
    )
    with transaction.atomic():
        claim = services.messages_claim(
            now=now, limit=settings.REMINDERS_BATCH, worker=socket.gethostname()
        )
        transaction.on_commit(partial(enqueue, claim))
    return {"planned": planned, "swept": swept, "claimed": len(claim.ids)}


@shared_task(name="reminders.tasks.dispatch_due", ignore_result=True)
def dispatch_due() -> dict:
    return dispatch()


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
    # The service decides when a message has failed (REMINDERS_MAX_ATTEMPTS); Celery's
    # max_retries is only a backstop above it.
    return services.message_send(message_id=message_id, claim=claim)


@shared_task(name="reminders.tasks.sweep_stuck", ignore_result=True)
def sweep_stuck() -> int:
    return services.messages_sweep_stuck(
        now=timezone.now(),
        older_than=datetime.timedelta(seconds=settings.REMINDERS_STUCK_SECONDS),
    )
