from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "fhir"
    label = "fhir"
    verbose_name = "FHIR"

    def ready(self):
        from fhir import panels

        panels.register()
