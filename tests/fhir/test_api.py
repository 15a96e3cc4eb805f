import datetime

import pytest
from auditlog.models import LogEntry
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken

from fhir import r4
from measures.models import Administration
from participants.models import Participant
from tests.conftest import sign_in
from tests.dashboards.builders import enrol, make_cohort, score
from tests.factories import ServiceFactory
from tests.fhir.clients import fetch_token, make_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(db):
    """A service with one person's PHQ-9s, and a FHIR client of it and of another service."""
    service, elsewhere = ServiceFactory(), ServiceFactory()
    cohort = make_cohort(service)
    person = enrol(cohort)
    stranger = enrol(make_cohort(elsewhere))
    score(person, "baseline", "phq9", {"total": 17})
    score(person, "week12", "phq9", {"total": 9})
    score(person, "baseline", "core10", {"total": 21})
    score(stranger, "baseline", "phq9", {"total": 3})
    http = Client()
    own, own_id, own_secret = make_client(service)
    _other, other_id, other_secret = make_client(elsewhere, name="Other trust")
    return {
        "http": http,
        "cohort": cohort,
        "person": person.participant,
        "stranger": stranger.participant,
        "own": own,
        "own_token": fetch_token(http, own_id, own_secret),
        "other_token": fetch_token(http, other_id, other_secret),
    }


def get(api, path, token="own_token", **params):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api[token]}"} if token else {}
    return api["http"].get(path, params, HTTP_ACCEPT="application/fhir+json", **headers)


def bundle(response) -> r4.Bundle:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/fhir+json"
    return r4.Bundle.model_validate_json(response.content)


def outcome(response, status: int) -> r4.OperationOutcome:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/fhir+json"
    return r4.OperationOutcome.model_validate_json(response.content)


def values(found: r4.Bundle) -> list[float]:
    return sorted(float(e.resource.valueQuantity.value) for e in found.entry or [])


def test_a_client_reads_its_own_participants_observations(api):
    found = bundle(get(api, "/fhir/Observation", patient=f"Patient/{api['person'].pk}"))
    assert found.type == "searchset" and found.total == 3
    assert values(found) == [9.0, 17.0, 21.0]
    subjects = {e.resource.subject.reference for e in found.entry}
    assert subjects == {f"Patient/{api['person'].pk}"}


def test_a_search_without_a_patient_returns_only_the_clients_service(api):
    assert values(bundle(get(api, "/fhir/Observation"))) == [9.0, 17.0, 21.0]
    assert values(bundle(get(api, "/fhir/Observation", token="other_token"))) == [3.0]


def test_a_patient_of_another_service_is_not_found(api):
    response = get(api, "/fhir/Observation", token="other_token", patient=api["person"].pk)
    assert outcome(response, 404).issue[0].code == "not-found"
    assert b"17" not in response.content
    response = get(
        api, "/fhir/QuestionnaireResponse", token="other_token", patient=api["person"].pk
    )
    outcome(response, 404)


def test_no_token_and_a_revoked_token_are_refused(api):
    assert outcome(get(api, "/fhir/Observation", token=None), 401).issue[0].code == "login"
    AccessToken.objects.get(
        token_checksum__isnull=False, application=api["own"].application
    ).revoke()
    response = get(api, "/fhir/Observation", patient=api["person"].pk)
    outcome(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_expired_token_is_refused(api):
    AccessToken.objects.filter(application=api["own"].application).update(
        expires=timezone.now() - datetime.timedelta(seconds=1)
    )
    outcome(get(api, "/fhir/Observation"), 401)


def test_a_signed_in_staff_session_is_not_a_token(api, client):
    from accounts.models import Membership
    from tests.factories import MembershipFactory

    clinician = MembershipFactory(service=api["cohort"].service, role=Membership.Role.CLINICIAN)
    sign_in(client, clinician.user)
    assert client.get("/participants/").status_code == 200
    outcome(client.get("/fhir/Observation"), 401)


def test_search_by_loinc_code_and_by_safeground_code(api):
    loinc = bundle(get(api, "/fhir/Observation", code="http://loinc.org|44261-6"))
    assert values(loinc) == [9.0, 17.0]
    own = bundle(get(api, "/fhir/Observation", code="core10.total"))
    assert values(own) == [21.0]
    assert bundle(get(api, "/fhir/Observation", code="http://loinc.org|0000-0")).total == 0


def test_search_by_date(api):
    adm = Administration.objects.get(scores__value=17)
    adm.completed_at = timezone.make_aware(datetime.datetime(2024, 1, 10, 12))
    adm.save(update_fields=["completed_at"])
    assert values(bundle(get(api, "/fhir/Observation", date="2024-01-10"))) == [17.0]
    assert values(bundle(get(api, "/fhir/Observation", date="2024"))) == [17.0]
    assert values(bundle(get(api, "/fhir/Observation", date="gt2024-01"))) == [9.0, 21.0]
    assert values(bundle(get(api, "/fhir/Observation", date=["ge2024-01-01", "lt2024-02"]))) == [
        17.0
    ]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"name": "Smith"}, 400),
        ({"identifier": "https://fhir.nhs.uk/Id/nhs-number|9434765919"}, 400),
        ({"date": "yesterday"}, 400),
        ({"date": "2024-13-01"}, 400),
        ({"date": "2024-02-30"}, 400),
        ({"date": "ne2024"}, 400),
        ({"patient": "not-a-number"}, 404),
        ({"patient": "999999999"}, 404),
        ({"_format": "xml"}, 400),
        ({"code": "http://loinc.org|"}, 400),
        ({"_count": "0"}, 400),
        ({"_count": "501"}, 400),
        ({"_count": "ten"}, 400),
        ({"_offset": "-1"}, 400),
    ],
)
def test_bad_input_is_an_operation_outcome_never_a_server_error(api, params, status):
    outcome(get(api, "/fhir/Observation", **params), status)
    response = get(api, "/fhir/QuestionnaireResponse", **params)
    expected = 400 if "code" in params else status  # code is not a QuestionnaireResponse search
    assert response.status_code == expected


def test_the_api_is_read_only(api):
    response = api["http"].post(
        "/fhir/Observation", {}, HTTP_AUTHORIZATION=f"Bearer {api['own_token']}"
    )
    assert outcome(response, 405).issue[0].code == "not-supported"
    assert response["Allow"] == "GET"


def test_unknown_addresses_under_fhir_are_operation_outcomes(api):
    outcome(get(api, "/fhir/Patient/1"), 404)
    outcome(get(api, "/fhir/Questionnaire/nope-9"), 404)


def test_questionnaire_read_and_the_capability_statement(api):
    response = get(api, "/fhir/Questionnaire/phq9-1")
    assert response.status_code == 200
    questionnaire = r4.Questionnaire.model_validate_json(response.content)
    assert questionnaire.id == "phq9-1" and len(questionnaire.item) == 10
    outcome(get(api, "/fhir/Questionnaire/phq9-1", token=None), 401)
    metadata = api["http"].get("/fhir/metadata")
    statement = r4.CapabilityStatement.model_validate_json(metadata.content)
    assert statement.fhirVersion == "4.0.1"
    assert {r.type for r in statement.rest[0].resource} == {
        "Observation",
        "QuestionnaireResponse",
        "Questionnaire",
    }


def test_questionnaire_responses_by_patient_and_questionnaire(api):
    found = bundle(
        get(
            api,
            "/fhir/QuestionnaireResponse",
            patient=api["person"].pk,
            questionnaire="Questionnaire/phq9-1",
        )
    )
    assert found.total == 2
    assert all(e.resource.questionnaire.endswith("/Questionnaire/phq9-1") for e in found.entry)
    assert bundle(get(api, "/fhir/QuestionnaireResponse", questionnaire="gad7-1")).total == 0


def test_every_read_is_audited_against_each_participant_returned(api):
    second = enrol(api["cohort"])
    score(second, "baseline", "phq9", {"total": 5})
    before = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).count()
    bundle(get(api, "/fhir/Observation"))
    entries = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).order_by("pk")[before:]
    assert sorted(int(e.object_pk) for e in entries) == sorted(
        [api["person"].pk, second.participant.pk]
    )
    assert {e.content_type.model for e in entries} == {"participant"}
    assert all(f"client {api['own'].pk}" in e.additional_data["where"] for e in entries)
    assert api["person"].family_name not in str([e.additional_data for e in entries])


def test_the_api_is_rate_limited_per_client(api, settings):
    settings.FHIR_API_RATE = "3/m"
    for _ in range(3):
        assert get(api, "/fhir/Observation").status_code == 200
    outcome(get(api, "/fhir/Observation"), 429)
    # Another client has its own allowance.
    assert get(api, "/fhir/Observation", token="other_token").status_code == 200


def test_patient_ids_in_the_api_are_not_nhs_numbers_or_names(api):
    person = Participant.objects.get(pk=api["person"].pk)
    response = get(api, "/fhir/Observation", patient=person.pk)
    text = response.content.decode()
    for value in (person.nhs_number, person.given_name, person.family_name, person.reference):
        assert value not in text


@pytest.mark.parametrize("people", [5, 50])
def test_observation_search_runs_the_same_queries_for_5_or_50(
    api, people, django_assert_num_queries
):
    for _ in range(people - 1):
        score(enrol(api["cohort"]), "baseline", "phq9", {"total": 4})
    get(api, "/fhir/Observation")  # content types and the like, cached once per process
    with django_assert_num_queries(6):
        found = bundle(get(api, "/fhir/Observation", code="44261-6"))
    assert found.total == people + 1


@pytest.mark.parametrize("people", [5, 50])
def test_response_search_runs_the_same_queries_for_5_or_50(api, people, django_assert_num_queries):
    for _ in range(people - 1):
        score(enrol(api["cohort"]), "baseline", "phq9", {"total": 4})
    get(api, "/fhir/QuestionnaireResponse")
    with django_assert_num_queries(7):
        found = bundle(get(api, "/fhir/QuestionnaireResponse", questionnaire="phq9-1"))
    assert found.total == people + 1


def test_refusals_and_reads_log_nothing_identifying(api, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    person = Participant.objects.get(pk=api["person"].pk)
    get(
        api,
        "/fhir/Observation",
        identifier=f"https://fhir.nhs.uk/Id/nhs-number|{person.nhs_number}",
    )
    get(api, "/fhir/Observation", patient=person.pk, date="not-a-date")
    get(api, "/fhir/Observation", token="other_token", patient=person.pk)
    get(api, "/fhir/Observation", patient=person.pk)
    get(api, "/fhir/Observation", token=None)
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    for value in (person.nhs_number, person.given_name, person.family_name, api["own_token"]):
        assert value not in logged


def test_searches_are_paged_with_next_links(api):
    first = bundle(get(api, "/fhir/Observation", _count="2"))
    assert first.total == 3 and len(first.entry) == 2
    following = next(link.url for link in first.link if link.relation == "next")
    second = bundle(api["http"].get(following, HTTP_AUTHORIZATION=f"Bearer {api['own_token']}"))
    assert len(second.entry) == 1
    assert not [link for link in second.link if link.relation == "next"]
    seen = {e.resource.id for e in first.entry} | {e.resource.id for e in second.entry}
    assert len(seen) == 3
