"""Who is calling the API: a bearer token from the client credentials grant, its FhirClient,
and so the one service whose participants the call may see."""

from django.conf import settings
from django_ratelimit.core import is_ratelimited
from oauth2_provider.oauth2_backends import get_oauthlib_core

from .models import FhirClient
from .outcomes import Refusal

SCOPE = "system/*.read"


def calling_client(request) -> FhirClient:
    """The client behind a valid, unexpired, unrevoked token (401 otherwise), under its
    rate limit (429)."""
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        raise Refusal(401, "A bearer token from /fhir/oauth/token/ is required.")
    valid, oauth = get_oauthlib_core().verify_request(request, scopes=[SCOPE])
    if not valid:
        raise Refusal(401, "The token is not valid: expired, revoked or unknown.")
    try:
        client = FhirClient.objects.select_related("service", "application").get(
            application_id=oauth.access_token.application_id
        )
    except FhirClient.DoesNotExist:
        raise Refusal(403, "This application is not a FHIR client of any service.") from None
    if is_ratelimited(
        request,
        group="fhir.api.client",
        key=lambda group, req: str(client.pk),
        rate=settings.FHIR_API_RATE,
        increment=True,
    ):
        raise Refusal(429, "Too many requests; try again in a minute.")
    return client
