"""Demo data for reminders: plan today's messages and make a few due now, so the worker the
run command starts has something to send (they land in data/outbox). Safe to run again."""

from django.utils import timezone

from measures import services as measures_services
from reminders.models import Message
from reminders.services import messages_plan

DUE_NOW = 5


def seed(stdout) -> None:
    today = timezone.localdate()
    measures_services.administrations_open_due(today=today)
    planned = messages_plan(today=today)
    now = timezone.now()
    # A handful of today's invitations, one per person, are brought forward so the first
    # dispatcher run sends them (quiet hours still apply: at night they wait for 09:00).
    first_per_person = {}
    for message in Message.objects.filter(
        kind=Message.Kind.INVITATION, status=Message.Status.PENDING, due_at__gt=now
    ).order_by("due_at", "pk"):
        first_per_person.setdefault(message.participant_id, message.pk)
    brought_forward = Message.objects.filter(pk__in=list(first_per_person.values())[:DUE_NOW])
    count = brought_forward.update(due_at=now)
    total = Message.objects.count()
    stdout.write(
        f"Reminders: {total} messages planned ({planned} offered now); {count} due at once."
    )
