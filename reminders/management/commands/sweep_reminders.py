import datetime

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from reminders.services import messages_sweep_stuck


class Command(BaseCommand):
    help = "Return messages left in 'sending' by a worker that died to 'pending'."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=settings.REMINDERS_STUCK_SECONDS,
            help="Seconds since the claim (default REMINDERS_STUCK_SECONDS).",
        )

    def handle(self, *args, older_than, **options):
        count = messages_sweep_stuck(
            now=timezone.now(), older_than=datetime.timedelta(seconds=older_than)
        )
        self.stdout.write(f"Swept {count} stuck messages.")
