"""FHIR API clients for tests: an OAuth application bound to a service, and its tokens."""

import base64
import secrets

from oauth2_provider.models import Application

from fhir.models import FhirClient
from tests.security.canary_plugin import ISSUED_SECRETS

TOKEN_URL = "/fhir/oauth/token/"


def make_client(service, name="Trust EPR"):
    secret = secrets.token_urlsafe(32)
    application = Application.objects.create(
        name=name,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
    )
    client = FhirClient.objects.create(application=application, service=service)
    ISSUED_SECRETS.add(secret)
    return client, application.client_id, secret


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def fetch_token(http, client_id: str, secret: str) -> str:
    response = http.post(
        TOKEN_URL, {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=basic(client_id, secret)
    )
    assert response.status_code == 200, response.content
    token = response.json()["access_token"]
    ISSUED_SECRETS.add(token)
    return token
