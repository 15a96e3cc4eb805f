from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "fhir"
    label = "fhir"
    verbose_name = "FHIR"

    def ready(self):
        from auditlog.registry import auditlog

        from fhir import models, panels

        # Which service an API client may read is a security decision: keep who made it.
        auditlog.register(models.FhirClient)
        panels.register()
