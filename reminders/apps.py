from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "reminders"

    def ready(self):
        from auditlog.registry import auditlog

        from measures import events as measures_events
        from participants import events as participants_events
        from reminders import models, panels, receivers

        # Message rows are an operational queue (tens of thousands a day at scale) and are
        # their own history; the rows staff change by hand are audited.
        for model in (models.ReminderPolicy, models.Escalation, models.MessageTemplate):
            auditlog.register(model)
        panels.register()
        measures_events.windows_changed.connect(
            receivers.on_windows_changed, dispatch_uid="reminders"
        )
        participants_events.contact_preferences_changed.connect(
            receivers.on_contact_preferences_changed, dispatch_uid="reminders"
        )
