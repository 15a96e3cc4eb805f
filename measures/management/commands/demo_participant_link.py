"""Prints a ready participant link for the demo, at any time of day.

Messages wait for the end of quiet hours (20:00-09:00) before they reach ./data/outbox, so a
newcomer running scripts/run at night would otherwise have no way onto the participant side.
This makes a link for the first demo participant with questionnaires open online, exactly
as a clinician's "New link" button does, and prints it. Development only.
"""

import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils import timezone

from measures import links
from measures.models import Administration
from measures.selectors import participant_due_now
from participants.models import Participant


class Command(BaseCommand):
    help = "Print a participant link for the demo (development only)."

    def handle(self, *args, **options):
        if getattr(settings, "PRODUCTION", False):
            raise CommandError("demo_participant_link prints a live link: not in production.")
        candidates = (
            Administration.objects.filter(
                status__in=(Administration.Status.OPEN, Administration.Status.IN_PROGRESS)
            )
            .order_by("enrolment__participant_id")
            .values_list("enrolment__participant_id", flat=True)
            .distinct()
        )
        for participant_id in candidates:
            due = participant_due_now(participant_id=participant_id)
            if not due:
                continue
            participant = Participant.objects.get(pk=participant_id)
            last_close = max(adm.closes_on for adm in due)
            expires_at = timezone.make_aware(
                datetime.datetime.combine(
                    last_close + datetime.timedelta(days=1), datetime.time.min
                )
            )
            token = links.link_issue(participant=participant, expires_at=expires_at)
            url = settings.SITE_URL.rstrip("/") + reverse("questionnaire:landing", args=[token])
            names = ", ".join(adm.instrument_code for adm in due)
            self.stdout.write(
                f"A participant link for the demo ({len(due)} questionnaires: {names}; "
                f"works until {last_close:%d/%m/%Y}):\n  {url}"
            )
            return
        self.stdout.write("No demo participant has questionnaires open online today.")
