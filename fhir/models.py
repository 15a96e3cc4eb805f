from django.db import models
from oauth2_provider.models import Application

from accounts.models import Service


class FhirClient(models.Model):
    """A system allowed to read the FHIR API: one OAuth 2 application, bound to one service.

    A client sees only that service's participants; its tokens come from the client
    credentials grant at /fhir/oauth/token/.
    """

    application = models.OneToOneField(
        Application, on_delete=models.CASCADE, related_name="fhir_client"
    )
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="fhir_clients")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["service", "application__name"]

    def __str__(self):
        return f"FHIR client {self.application.name} of {self.service}"
