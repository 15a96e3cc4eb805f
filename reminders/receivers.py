"""Reactions to lower layers' domain events; each calls one reminders service."""

from programmes.models import Enrolment
from reminders import services


def on_windows_changed(sender, enrolment_ids, **kwargs):
    services.messages_replan(enrolment_ids=enrolment_ids)


def on_contact_preferences_changed(sender, participant, **kwargs):
    services.messages_replan(
        enrolment_ids=Enrolment.objects.filter(participant=participant).values_list("pk", flat=True)
    )
