from django.core.management.base import BaseCommand
from django.utils import timezone

from programmes.services import enrolments_complete_finished


class Command(BaseCommand):
    help = (
        "Complete the active enrolments of every cohort whose last group session is past, "
        "dated that session. Safe to repeat; run daily by Celery beat."
    )

    def handle(self, *args, **options):
        count = enrolments_complete_finished(today=timezone.localdate())
        self.stdout.write(f"Enrolments completed: {count}.")
