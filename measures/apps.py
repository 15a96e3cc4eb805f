from django.apps import AppConfig


class MeasuresConfig(AppConfig):
    name = "measures"

    def ready(self):
        from auditlog.registry import auditlog

        from measures import models, receivers
        from programmes import events

        events.enrolment_started.connect(receivers.on_enrolment_started, dispatch_uid="measures")
        events.enrolment_ended.connect(receivers.on_enrolment_ended, dispatch_uid="measures")
        events.cohort_rescheduled.connect(receivers.on_cohort_rescheduled, dispatch_uid="measures")
        events.programme_revised.connect(receivers.on_programme_revised, dispatch_uid="measures")
        events.programme_copied.connect(receivers.on_programme_copied, dispatch_uid="measures")

        for model in (
            models.Timepoint,
            models.InstrumentWording,
            models.Administration,
            models.Response,
            models.Score,
            models.RiskAlert,
            models.AlertDigestSent,
            models.HuddleContact,
        ):
            auditlog.register(model)
        # The token hash is a secret in its own right; the audit row needs only the dates.
        auditlog.register(models.ParticipantLink, exclude_fields=["token_hash"])

        from measures import panels, subject_access

        panels.register()
        subject_access.register()
