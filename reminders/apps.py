from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "reminders"

    def ready(self):
        from auditlog.registry import auditlog

        from programmes import events
        from reminders import models, panels, receivers

        events.programme_revised.connect(receivers.on_programme_revised, dispatch_uid="reminders")
        events.programme_copied.connect(receivers.on_programme_copied, dispatch_uid="reminders")

        # Message rows are an operational queue (tens of thousands a day at scale) and are
        # their own history; the rows staff change by hand are audited.
        for model in (models.ReminderPolicy, models.Escalation, models.MessageTemplate):
            auditlog.register(model)
        panels.register()
