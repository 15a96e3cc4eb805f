import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone

from measures.services import administrations_open_due


class Command(BaseCommand):
    help = "Open every scheduled questionnaire whose window includes today. Safe to repeat."

    def add_arguments(self, parser):
        parser.add_argument("--today", type=datetime.date.fromisoformat, default=None)

    def handle(self, *args, today=None, **options):
        opened = administrations_open_due(today=today or timezone.localdate())
        self.stdout.write(f"Opened {opened} questionnaire(s).")
