from django.apps import AppConfig


class ParticipantsConfig(AppConfig):
    name = "participants"

    def ready(self):
        from auditlog.registry import auditlog

        from participants.models import Participant, SubjectAccessRequest

        auditlog.register(Participant)
        auditlog.register(SubjectAccessRequest)
