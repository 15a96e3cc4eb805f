"""An administrator ends a colleague's sessions, from the staff page or the Django admin."""

import pytest
from django.urls import reverse

from accounts.models import Membership
from tests.conftest import sign_in
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_admin_sees_the_staff_of_their_service(persona_client, admin_user, clinician):
    response = persona_client(admin_user).get(reverse("accounts:staff_list"))
    assert response.status_code == 200
    assert clinician.username in response.content.decode()


def test_admin_does_not_see_staff_of_other_services(persona_client, admin_user, other_clinician):
    response = persona_client(admin_user).get(reverse("accounts:staff_list"))
    assert other_clinician.username not in response.content.decode()


@pytest.mark.parametrize("persona", ["clinician", "manager"])
def test_roles_without_manage_service_are_refused(persona_client, request, persona):
    user = request.getfixturevalue(persona)
    assert persona_client(user).get(reverse("accounts:staff_list")).status_code == 403


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(reverse("accounts:staff_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_end_sessions_signs_the_colleague_out_everywhere(client_factory, admin_user, clinician):
    colleague = sign_in(client_factory(), clinician)
    assert colleague.get(reverse("home")).status_code == 200
    admin = sign_in(client_factory(), admin_user)

    response = admin.post(reverse("accounts:staff_end_sessions", args=[clinician.pk]))

    assert response.status_code == 302
    clinician.refresh_from_db()
    assert clinician.sessions_revoked_at is not None
    assert colleague.get(reverse("home")).status_code == 302
    assert admin.get(reverse("home")).status_code == 200


def test_end_sessions_is_post_only(persona_client, admin_user, clinician):
    url = reverse("accounts:staff_end_sessions", args=[clinician.pk])
    assert persona_client(admin_user).get(url).status_code == 405
    clinician.refresh_from_db()
    assert clinician.sessions_revoked_at is None


def test_end_sessions_of_another_services_user_is_404(persona_client, admin_user, other_clinician):
    url = reverse("accounts:staff_end_sessions", args=[other_clinician.pk])
    assert persona_client(admin_user).post(url).status_code == 404
    other_clinician.refresh_from_db()
    assert other_clinician.sessions_revoked_at is None


def test_a_clinician_cannot_end_a_colleagues_sessions(persona_client, clinician, manager):
    url = reverse("accounts:staff_end_sessions", args=[manager.pk])
    assert persona_client(clinician).post(url).status_code == 403


def test_django_admin_action_ends_sessions(client_factory, clinician, service):
    superuser = MembershipFactory(
        service=service, role=Membership.Role.ADMIN, user__username="root_admin"
    ).user
    superuser.is_staff = superuser.is_superuser = True
    superuser.save()
    colleague = sign_in(client_factory(), clinician)
    admin = sign_in(client_factory(), superuser)

    response = admin.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "end_sessions", "_selected_action": [clinician.pk]},
    )

    assert response.status_code == 302
    assert colleague.get(reverse("home")).status_code == 302


def test_django_admin_cannot_delete_users(client_factory, clinician):
    clinician.is_staff = clinician.is_superuser = True
    clinician.save()
    admin = sign_in(client_factory(), clinician)
    url = reverse("admin:accounts_user_delete", args=[clinician.pk])
    assert admin.get(url).status_code == 403
