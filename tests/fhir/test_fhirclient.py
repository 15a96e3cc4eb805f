"""A real FHIR client, the SMART on FHIR Python client, against a running server.

fhirclient has no client credentials flow (it does SMART's authorisation code launch), so
the test finds the token endpoint in the server's CapabilityStatement through fhirclient,
takes a token there with requests, as a system would, and hands it to fhirclient's OAuth 2
handler, which signs every request with it.
"""

import pytest
import requests
from fhirclient.auth import FHIROAuth2Auth
from fhirclient.models.observation import Observation
from fhirclient.models.questionnaire import Questionnaire
from fhirclient.server import FHIRServer, FHIRUnauthorizedException

from fhir.capability import SMART_OAUTH_URIS
from tests.dashboards.builders import enrol, make_cohort, score
from tests.factories import ServiceFactory
from tests.fhir.clients import make_client
from tests.security.canary_plugin import ISSUED_SECRETS


def _token_url(server: FHIRServer) -> str:
    security = server.capabilityStatement.rest[0].security
    uris = next(e for e in security.extension if e.url == SMART_OAUTH_URIS)
    return next(e.valueUri for e in uris.extension if e.url == "token")


@pytest.mark.django_db(transaction=True)
def test_fhirclient_reads_a_participants_observations_with_a_client_credentials_token(
    live_server,
):
    service = ServiceFactory()
    person = enrol(make_cohort(service))
    score(person, "baseline", "phq9", {"total": 16})
    score(person, "week12", "phq9", {"total": 8})
    stranger = enrol(make_cohort(ServiceFactory()))
    score(stranger, "baseline", "phq9", {"total": 2})
    _, client_id, secret = make_client(service)

    server = FHIRServer(None, base_uri=f"{live_server.url}/fhir/")
    server.get_capability()
    token = requests.post(
        _token_url(server),
        data={"grant_type": "client_credentials", "scope": "system/*.read"},
        auth=(client_id, secret),
        timeout=10,
    ).json()
    assert token["token_type"] == "Bearer"
    ISSUED_SECRETS.add(token["access_token"])

    with pytest.raises(FHIRUnauthorizedException):
        next(Observation.where(struct={"patient": str(person.participant_id)}).perform_iter(server))

    server.auth = FHIROAuth2Auth(state={"access_token": token["access_token"]})
    found = list(
        Observation.where(
            struct={
                "patient": str(person.participant_id),
                "code": "http://loinc.org|44261-6",
                "_count": "1",  # one a page: fhirclient follows the "next" link
            }
        ).perform_resources_iter(server)
    )
    assert sorted(obs.valueQuantity.value for obs in found) == [8, 16]
    assert {obs.subject.reference for obs in found} == {f"Patient/{person.participant_id}"}
    assert {obs.code.coding[0].code for obs in found} == {"44261-6"}

    phq9 = Questionnaire.read("phq9-1", server)
    assert phq9.item[8].linkId == "9"
