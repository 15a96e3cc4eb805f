from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from participants.services import participant_contacts_blank


class Command(BaseCommand):
    help = (
        "Blank the e-mail address and mobile number of participants whose enrolments all "
        "ended more than RETENTION_CONTACT_DAYS days ago. Off while that setting is unset."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, help="Override RETENTION_CONTACT_DAYS for this run."
        )

    def handle(self, *args, days=None, **options):
        days = days if days is not None else settings.RETENTION_CONTACT_DAYS
        if days is None or days == 0:
            self.stdout.write("Retention of contact details is off (RETENTION_CONTACT_DAYS).")
            return
        if days < 1:
            raise CommandError("The retention period must be at least one day.")
        count = participant_contacts_blank(older_than_days=days, today=timezone.localdate())
        self.stdout.write(f"Contact details removed for {count} participants.")
