from django.contrib import admin
from oauth2_provider.models import get_grant_model, get_id_token_model, get_refresh_token_model

from .models import FhirClient

# FHIR clients use the client credentials grant only: no authorisation codes, ID tokens or
# refresh tokens are ever issued, so their admin pages would only ever be empty.
for model in (get_grant_model(), get_id_token_model(), get_refresh_token_model()):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(FhirClient)
class FhirClientAdmin(admin.ModelAdmin):
    """Binds an OAuth application (made first, client type confidential, grant client
    credentials) to the one service whose participants it may read."""

    list_display = ("application", "service", "created_at")
    list_select_related = ("application", "service")
    raw_id_fields = ("application",)
