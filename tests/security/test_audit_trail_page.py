"""Administrators read the audit trail of their services, by participant or by user."""

import pytest
from auditlog.context import set_actor
from django.urls import reverse

from accounts.audit import record_view
from tests.factories import EnrolmentFactory, ParticipantFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = reverse("accounts:audit_list")


@pytest.fixture
def history(service, other_service, clinician, other_clinician):
    with set_actor(clinician):
        mine = ParticipantFactory(service=service, reference="MINE01")
        enrolment = EnrolmentFactory(participant=mine, cohort__service=service)
        record_view(mine)
    with set_actor(other_clinician):
        theirs = ParticipantFactory(service=other_service, reference="THEIRS01")
    return mine, enrolment, theirs


def objects_shown(response):
    return {(e.content_type.model, e.object_pk) for e in response.context["page"]}


def test_filter_by_participant_shows_their_rows_and_linked_ones(
    persona_client, admin_user, history
):
    mine, enrolment, _ = history
    response = persona_client(admin_user).get(URL, {"participant": mine.pk})
    shown = objects_shown(response)
    assert ("participant", str(mine.pk)) in shown
    assert ("enrolment", str(enrolment.pk)) in shown
    actions = {e.get_action_display() for e in response.context["page"]}
    assert "access" in {a.lower() for a in actions}


def test_another_services_participant_cannot_be_filtered(persona_client, admin_user, history):
    _, _, theirs = history
    response = persona_client(admin_user).get(URL, {"participant": theirs.pk})
    assert response.status_code == 200
    assert "participant" in response.context["form"].errors
    assert list(response.context["page"]) == []


def test_filter_by_user_shows_their_actions(persona_client, admin_user, clinician, history):
    response = persona_client(admin_user).get(URL, {"user": clinician.pk})
    assert response.context["page"]
    assert all(e.actor_id == clinician.pk for e in response.context["page"])


def test_a_user_of_another_service_cannot_be_chosen(
    persona_client, admin_user, other_clinician, history
):
    response = persona_client(admin_user).get(URL, {"user": other_clinician.pk})
    assert "user" in response.context["form"].errors


def test_unfiltered_list_holds_only_actions_of_the_services_users(
    persona_client, admin_user, other_clinician, history
):
    response = persona_client(admin_user).get(URL)
    assert response.context["page"]
    assert all(e.actor_id != other_clinician.pk for e in response.context["page"])


@pytest.mark.parametrize("persona", ["clinician", "manager", "other_clinician"])
def test_clinical_roles_read_the_trail_of_their_own_services(persona_client, request, persona):
    user = request.getfixturevalue(persona)
    assert persona_client(user).get(URL).status_code == 200


def test_staff_of_no_service_are_refused(persona_client):
    assert persona_client(UserFactory()).get(URL).status_code == 403


def test_a_clinician_cannot_filter_another_services_participant(persona_client, clinician, history):
    _, _, theirs = history
    response = persona_client(clinician).get(URL, {"participant": theirs.pk})
    assert "participant" in response.context["form"].errors
    assert list(response.context["page"]) == []


def test_query_count_does_not_grow_with_entries(
    persona_client, admin_user, clinician, service, django_assert_max_num_queries
):
    client = persona_client(admin_user)
    with set_actor(clinician):
        ParticipantFactory(service=service)
    client.get(URL)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        client.get(URL)
    with set_actor(clinician):
        ParticipantFactory.create_batch(30, service=service)
    with CaptureQueriesContext(connection) as large:
        client.get(URL)
    assert len(large) == len(small)
