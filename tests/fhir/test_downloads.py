import pytest
from auditlog.models import LogEntry

from accounts.models import Membership
from fhir import r4
from tests.conftest import sign_in
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _accesses():
    return list(LogEntry.objects.filter(action=LogEntry.Action.ACCESS).order_by("pk"))


def test_a_clinician_downloads_a_participants_bundle_from_their_page(dataset, client):
    person = dataset.enrolments[1].participant
    sign_in(client, dataset.clinician)
    page = client.get(f"/participants/{person.pk}/")
    url = f"/fhir-bundles/participants/{person.pk}/"
    assert url.encode() in page.content
    before = len(_accesses())
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    assert response["Content-Disposition"] == (
        f'attachment; filename="participant-{person.pk}-fhir.json"'
    )
    bundle = r4.Bundle.model_validate_json(response.content)
    kinds = {entry.resource.get_resource_type() for entry in bundle.entry}
    assert kinds == {"Patient", "Questionnaire", "QuestionnaireResponse", "Observation"}
    subjects = {
        entry.resource.subject.reference
        for entry in bundle.entry
        if entry.resource.get_resource_type() == "Observation"
    }
    assert subjects == {f"Patient/{person.pk}"}
    entry = _accesses()[before:]
    assert [(e.content_type.model, e.object_pk) for e in entry] == [("participant", str(person.pk))]
    assert entry[0].additional_data["where"] == "Exported in the participant's FHIR bundle"
    assert entry[0].actor == dataset.clinician


def test_the_participant_bundle_is_for_clinicians_of_that_service_only(
    dataset, other_dataset, client
):
    person = dataset.enrolments[0].participant
    url = f"/fhir-bundles/participants/{person.pk}/"
    assert client.get(url).status_code == 302  # signed out: to sign in
    sign_in(client, other_dataset.clinician)
    assert client.get(url).status_code == 404
    sign_in(client, dataset.manager)
    assert client.get(url).status_code == 403
    assert url.encode() not in client.get(f"/participants/{person.pk}/").content


def test_a_manager_downloads_the_cohorts_research_bundle(dataset, client):
    sign_in(client, dataset.manager)
    url = f"/fhir-bundles/cohorts/{dataset.cohort.pk}/research/"
    assert url.encode() in client.get(f"/programmes/cohorts/{dataset.cohort.pk}/").content
    before = len(_accesses())
    response = client.get(url)
    assert response.status_code == 200
    text = response.content.decode()
    for enrolment in dataset.enrolments:
        person = enrolment.participant
        for value in (person.nhs_number, person.family_name, person.given_name, person.reference):
            assert value not in text
    bundle = r4.Bundle.model_validate_json(response.content)
    patients = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "Patient"]
    from dashboards.exports import pseudonym

    assert {p.id for p in patients} == {pseudonym(e.participant_id) for e in dataset.enrolments}
    entries = _accesses()[before:]
    assert [(e.content_type.model, e.object_pk) for e in entries] == [
        ("cohort", str(dataset.cohort.pk))
    ]


def test_the_research_bundle_is_refused_outside_the_service_and_to_administrators(
    dataset, other_dataset, client
):
    url = f"/fhir-bundles/cohorts/{dataset.cohort.pk}/research/"
    sign_in(client, other_dataset.manager)
    assert client.get(url).status_code == 404
    admin = MembershipFactory(service=dataset.service, role=Membership.Role.ADMIN).user
    sign_in(client, admin)
    assert client.get(url).status_code == 403
