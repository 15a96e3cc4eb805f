from celery import shared_task
from django.conf import settings
from django.utils import timezone

from participants.services import participant_contacts_blank


@shared_task
def retention_blank_contacts() -> int:
    """Blank contact details past the retention period; does nothing while it is off."""
    days = settings.RETENTION_CONTACT_DAYS
    if not days:
        return 0
    return participant_contacts_blank(older_than_days=days, today=timezone.localdate())
