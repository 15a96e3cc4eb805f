import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone

from measures.services import administrations_expire


class Command(BaseCommand):
    help = "Expire every unanswered questionnaire whose window has closed. Safe to repeat."

    def add_arguments(self, parser):
        parser.add_argument("--today", type=datetime.date.fromisoformat, default=None)

    def handle(self, *args, today=None, **options):
        expired = administrations_expire(today=today or timezone.localdate())
        self.stdout.write(f"Expired {expired} questionnaire(s).")
