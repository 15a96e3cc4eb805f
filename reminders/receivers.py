"""Reactions to programmes' domain events; each calls one reminders service."""

from reminders import services


def on_programme_revised(sender, programme, previous=None, **kwargs):
    if previous is not None:
        services.reminder_policy_copy(source=previous, target=programme)


def on_programme_copied(sender, programme, source, **kwargs):
    services.reminder_policy_copy(source=source, target=programme)
