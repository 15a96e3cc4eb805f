"""A subject access export: recorded by one clinician, reviewed by a second, then released."""

import datetime as dt
import json

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError
from django.urls import reverse

from accounts.models import Membership
from participants.models import Participant, SubjectAccessRequest
from participants.services import subject_access_request_create
from participants.subject_access import Section, export, sections
from tests.factories import EnrolmentFactory, MembershipFactory, ParticipantFactory

pytestmark = pytest.mark.django_db
SAR = SubjectAccessRequest


@pytest.fixture
def second_clinician(service):
    return MembershipFactory(
        service=service, role=Membership.Role.CLINICIAN, user__username="second_clinician"
    ).user


@pytest.fixture
def participant(service):
    person = ParticipantFactory(
        service=service, given_name="Rowan", family_name="Example", email="rowan@example.com"
    )
    EnrolmentFactory(participant=person, cohort__service=service)
    return person


def make_request(participant, by):
    return subject_access_request_create(
        participant=participant,
        received_on=dt.date(2026, 3, 1),
        note="Letter, identity checked against photo ID.",
        by=by,
    )


def access_entries(participant):
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Participant),
        object_pk=str(participant.pk),
        action=LogEntry.Action.ACCESS,
    )


def test_export_holds_the_participants_fields_and_linked_rows(participant):
    data = export(participant)
    text = json.dumps(data)
    assert "Rowan" in text and "rowan@example.com" in text
    kinds = {record.get("kind") for s in data["sections"] for record in s["records"]}
    assert "Enrolment" in kinds


def test_export_leaves_out_secret_fields(participant):
    for section in export(participant)["sections"]:
        for record in section["records"]:
            assert not any("hash" in label.lower() or "token" in label.lower() for label in record)


def test_an_app_can_register_its_own_section(participant):
    sections.register(
        Section(key="test.extra", title="Extra", collect=lambda p: [{"note": p.reference}])
    )
    try:
        titles = [s["title"] for s in export(participant)["sections"]]
        assert "Extra" in titles
    finally:
        sections._sections.pop("test.extra")


def test_clinician_records_a_request(persona_client, clinician, participant):
    response = persona_client(clinician).post(
        reverse("subject_access:create", args=[participant.pk]),
        {"received_on": "2026-03-01", "note": "By letter"},
    )
    sar = SAR.objects.get()
    assert response.status_code == 302
    assert sar.status == SAR.Status.REQUESTED
    assert sar.requested_by == clinician


def test_a_future_received_date_is_a_form_error(persona_client, clinician, participant):
    response = persona_client(clinician).post(
        reverse("subject_access:create", args=[participant.pk]),
        {"received_on": "2999-01-01", "note": ""},
    )
    assert response.status_code == 200
    assert not SAR.objects.exists()


def test_request_for_another_services_participant_is_404(
    persona_client, other_clinician, participant
):
    url = reverse("subject_access:create", args=[participant.pk])
    assert persona_client(other_clinician).get(url).status_code == 404


def test_manager_may_not_record_a_request(persona_client, manager, participant):
    url = reverse("subject_access:create", args=[participant.pk])
    assert persona_client(manager).get(url).status_code == 403


def test_the_requester_cannot_review_their_own_request(persona_client, clinician, participant):
    sar = make_request(participant, clinician)
    page = persona_client(clinician).get(reverse("subject_access:detail", args=[sar.pk]))
    assert "Rowan" not in page.content.decode()

    persona_client(clinician).post(reverse("subject_access:approve", args=[sar.pk]))

    sar.refresh_from_db()
    assert sar.status == SAR.Status.REQUESTED


def test_nothing_can_be_downloaded_before_review(persona_client, clinician, participant):
    sar = make_request(participant, clinician)
    client = persona_client(clinician)
    client.post(reverse("subject_access:release", args=[sar.pk]))
    sar.refresh_from_db()
    assert sar.status == SAR.Status.REQUESTED
    assert client.get(reverse("subject_access:download", args=[sar.pk, "json"])).status_code == 404


def test_second_clinician_reviews_approves_and_releases(
    client_factory, clinician, second_clinician, participant
):
    from tests.conftest import sign_in

    sar = make_request(participant, clinician)
    reviewer = sign_in(client_factory(), second_clinician)

    preview = reviewer.get(reverse("subject_access:detail", args=[sar.pk]))
    assert "Rowan" in preview.content.decode()
    assert access_entries(participant).filter(actor=second_clinician).exists()

    reviewer.post(reverse("subject_access:approve", args=[sar.pk]))
    sar.refresh_from_db()
    assert sar.status == SAR.Status.APPROVED
    assert sar.reviewed_by == second_clinician

    requester = sign_in(client_factory(), clinician)
    requester.post(reverse("subject_access:release", args=[sar.pk]))
    sar.refresh_from_db()
    assert sar.status == SAR.Status.RELEASED
    assert sar.released_at is not None

    as_json = requester.get(reverse("subject_access:download", args=[sar.pk, "json"]))
    as_html = requester.get(reverse("subject_access:download", args=[sar.pk, "html"]))
    assert as_json.status_code == as_html.status_code == 200
    assert json.loads(as_json.content)["participant_reference"] == participant.reference
    assert "Rowan" in as_html.content.decode()
    assert "attachment" in as_json["Content-Disposition"]
    assert "Rowan" not in as_json["Content-Disposition"]
    assert access_entries(participant).filter(actor=clinician).count() == 2


def test_unknown_download_format_is_404(persona_client, clinician, participant):
    sar = make_request(participant, clinician)
    url = reverse("subject_access:download", args=[sar.pk, "xml"])
    assert persona_client(clinician).get(url).status_code == 404


def test_other_service_cannot_see_the_request(
    persona_client, clinician, other_clinician, participant
):
    sar = make_request(participant, clinician)
    url = reverse("subject_access:detail", args=[sar.pk])
    assert persona_client(other_clinician).get(url).status_code == 404
    assert (
        persona_client(other_clinician)
        .post(reverse("subject_access:approve", args=[sar.pk]))
        .status_code
        == 404
    )


def test_list_shows_requests_of_the_users_services_only(
    persona_client, clinician, other_clinician, participant
):
    make_request(participant, clinician)
    theirs = persona_client(other_clinician).get(reverse("subject_access:list"))
    assert list(theirs.context["page"]) == []
    page = persona_client(clinician).get(reverse("subject_access:list"))
    assert page.status_code == 200
    assert len(page.context["page"]) == 1


def test_constraint_reviewer_must_differ_from_requester(clinician, participant):
    sar = make_request(participant, clinician)
    with pytest.raises(IntegrityError):
        SAR.objects.filter(pk=sar.pk).update(
            status=SAR.Status.APPROVED, reviewed_by=clinician, reviewed_at=sar.requested_at
        )


def test_constraint_no_approval_without_a_reviewer(clinician, participant):
    sar = make_request(participant, clinician)
    with pytest.raises(IntegrityError):
        SAR.objects.filter(pk=sar.pk).update(status=SAR.Status.APPROVED)


def test_constraint_released_needs_a_time(clinician, second_clinician, participant):
    sar = make_request(participant, clinician)
    with pytest.raises(IntegrityError):
        SAR.objects.filter(pk=sar.pk).update(
            status=SAR.Status.RELEASED, reviewed_by=second_clinician, reviewed_at=sar.requested_at
        )


def test_constraint_status_is_known(clinician, participant):
    sar = make_request(participant, clinician)
    with pytest.raises(IntegrityError):
        SAR.objects.filter(pk=sar.pk).update(status="lost")
