import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.urls import reverse

from participants.models import Participant
from participants.services import participant_create, participant_update
from participants.validators import parse_uk_mobile
from tests.factories import ParticipantFactory

pytestmark = pytest.mark.django_db

VALID = {
    "reference": "RS-0101",
    "given_name": "Alex",
    "family_name": "Morgan",
    "date_of_birth": "1990-04-01",
    "nhs_number": "943 476 5919",
    "email": "alex@example.com",
    "mobile": "07700 900123",
    "preferred_channel": "sms",
}


@pytest.mark.parametrize(
    ("number", "ok"),
    [
        ("07700 900123", True),  # Ofcom's drama range
        ("+44 7700 900999", True),
        ("07911 123456", True),
        ("07400 123456", True),
        ("0113 496 0000", False),  # landline
        ("020 7946 0000", False),
        ("+1 415 555 0100", False),
        ("12345", False),
        ("not a number", False),
    ],
)
def test_only_uk_mobile_numbers_are_accepted(number, ok):
    if ok:
        assert parse_uk_mobile(number).country_code == 44
    else:
        with pytest.raises(ValidationError):
            parse_uk_mobile(number)


def test_a_landline_gets_a_message_that_says_so():
    with pytest.raises(ValidationError) as exc:
        parse_uk_mobile("0113 496 0000")
    assert "not a UK mobile number (it may be a landline)" in exc.value.messages[0]


def test_participant_create_stores_clean_values(service):
    participant = participant_create(
        service=service,
        reference=" RS-1 ",
        given_name="Sam",
        family_name="Jones",
        nhs_number="943 476 5919",
        mobile="07700900123",
    )
    participant.refresh_from_db()
    assert participant.reference == "RS-1"
    assert participant.nhs_number == "9434765919"
    assert participant.mobile.as_e164 == "+447700900123"


def test_duplicates_in_a_service_get_clear_messages(service, other_service):
    participant_create(
        service=service,
        reference="R1",
        given_name="A",
        family_name="B",
        email="a@example.com",
        preferred_channel="email",
        nhs_number="9434765919",
    )
    with pytest.raises(ValidationError) as exc:
        participant_create(
            service=service,
            reference="R1",
            given_name="C",
            family_name="D",
            email="c@example.com",
            preferred_channel="email",
            nhs_number="9434765919",
        )
    assert "already has this local reference" in exc.value.message_dict["reference"][0]
    assert "already has this NHS number" in exc.value.message_dict["nhs_number"][0]
    # Another service keeps its own records.
    participant_create(
        service=other_service,
        reference="R1",
        given_name="A",
        family_name="B",
        email="a@example.com",
        preferred_channel="email",
        nhs_number="9434765919",
    )


def test_the_preferred_channel_needs_its_contact_detail(service):
    with pytest.raises(ValidationError) as exc:
        participant_create(service=service, reference="R2", given_name="A", family_name="B")
    assert "mobile number is needed" in exc.value.message_dict["mobile"][0]


def test_participant_update_checks_the_same_rules(service):
    participant = ParticipantFactory(service=service, mobile="+447700900111")
    with pytest.raises(ValidationError):
        participant_update(participant=participant, mobile="01134960000")
    participant.refresh_from_db()
    assert participant.mobile.as_e164 == "+447700900111"
    participant_update(participant=participant, given_name="Robin")
    participant.refresh_from_db()
    assert participant.given_name == "Robin"


# Views --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "allowed", "refused"),
    [("participant_list", "manager", "admin_user"), ("participant_create", "clinician", "manager")],
)
def test_list_and_create_need_the_right_role(request, persona_client, name, allowed, refused):
    url = reverse(f"participants:{name}")
    response = persona_client(None).get(url)
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))
    assert persona_client(request.getfixturevalue(allowed)).get(url).status_code == 200
    assert persona_client(request.getfixturevalue(refused)).get(url).status_code == 403


@pytest.mark.parametrize(
    ("name", "allowed", "refused"),
    [("participant_detail", "manager", "admin_user"), ("participant_edit", "clinician", "manager")],
)
def test_object_views_scope_and_roles(
    request, persona_client, name, allowed, refused, service, other_service
):
    mine = ParticipantFactory(service=service)
    theirs = ParticipantFactory(service=other_service)
    url = reverse(f"participants:{name}", args=[mine.pk])
    assert persona_client(None).get(url).status_code == 302
    assert persona_client(request.getfixturevalue(allowed)).get(url).status_code == 200
    assert persona_client(request.getfixturevalue(refused)).get(url).status_code == 403
    other = reverse(f"participants:{name}", args=[theirs.pk])
    assert persona_client(request.getfixturevalue(allowed)).get(other).status_code == 404


def test_list_shows_own_service_only_and_logs_access(
    persona_client, clinician, service, other_service
):
    mine = ParticipantFactory(service=service, family_name="Ours")
    ParticipantFactory(service=other_service, family_name="Theirs")
    response = persona_client(clinician).get(reverse("participants:participant_list"))
    assert b"Ours" in response.content and b"Theirs" not in response.content
    assert LogEntry.objects.filter(
        object_pk=str(mine.pk), action=LogEntry.Action.ACCESS, actor=clinician
    ).exists()


def test_detail_page_logs_the_view_and_shows_enrolments_panel(persona_client, clinician, service):
    participant = ParticipantFactory(service=service)
    response = persona_client(clinician).get(
        reverse("participants:participant_detail", args=[participant.pk])
    )
    assert response.status_code == 200
    assert b"Enrolments and attendance" in response.content
    assert (
        LogEntry.objects.filter(
            object_pk=str(participant.pk), action=LogEntry.Action.ACCESS, actor=clinician
        ).count()
        == 1
    )


def test_clinician_adds_a_participant(persona_client, clinician, service):
    response = persona_client(clinician).post(
        reverse("participants:participant_create"), VALID | {"service": service.pk}
    )
    participant = Participant.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("participants:participant_detail", args=[participant.pk])
    assert participant.nhs_number == "9434765919"
    assert participant.service == service


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("nhs_number", "943 476 5918", "not a valid NHS number"),
        ("nhs_number", "12345", "not a valid NHS number"),
        ("email", "alex@", "Enter an email address"),
        ("mobile", "0113 496 0000", "it may be a landline"),
        ("mobile", "abc", "Enter a UK mobile number"),
        ("date_of_birth", "2999-01-01", "in the future"),
    ],
)
def test_bad_participant_details_are_form_errors(
    persona_client, clinician, service, field, value, message
):
    response = persona_client(clinician).post(
        reverse("participants:participant_create"), VALID | {"service": service.pk, field: value}
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Participant.objects.exists()


def test_duplicate_reference_is_a_form_error(persona_client, clinician, service):
    ParticipantFactory(service=service, reference=VALID["reference"])
    response = persona_client(clinician).post(
        reverse("participants:participant_create"), VALID | {"service": service.pk}
    )
    assert response.status_code == 200
    assert "already has this local reference" in response.content.decode()


def test_clinician_edits_a_participant(persona_client, clinician, service):
    participant = ParticipantFactory(service=service, mobile="+447700900111")
    url = reverse("participants:participant_edit", args=[participant.pk])
    client = persona_client(clinician)
    form = client.get(url).context["form"]
    assert form.initial["mobile"] == "07700 900111"
    data = VALID | {"reference": participant.reference, "messages_opt_out": "on"}
    assert client.post(url, data).status_code == 302
    participant.refresh_from_db()
    assert participant.messages_opt_out
    assert participant.given_name == "Alex"


def test_a_clinician_cannot_add_a_participant_to_another_service(
    persona_client, clinician, other_service
):
    response = persona_client(clinician).post(
        reverse("participants:participant_create"), VALID | {"service": other_service.pk}
    )
    assert response.status_code == 200
    assert not Participant.objects.exists()
