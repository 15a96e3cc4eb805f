"""A service's administrator manages its staff: invitations, roles, memberships,
deactivation and second factors, within their own services only."""

import re

import pytest
from allauth.mfa.internal.flows.add import validate_can_add_authenticator
from allauth.mfa.models import Authenticator
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.demo_mfa import ensure_totp
from accounts.models import Membership, User
from tests.conftest import sign_in
from tests.factories import MembershipFactory, ServiceFactory, UserFactory
from tests.security.conftest import fresh_cache  # noqa: F401  (rate-limit counters per test)
from tests.security.helpers import PASSWORD, password_step

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

Role = Membership.Role
SET_PASSWORD_LINK = re.compile(r"https?://\S+/accounts/password/reset/key/\S+")
INVITE = {
    "first_name": "Robin",
    "last_name": "Newstaff",
    "email": "robin.newstaff@example.nhs.uk",
    "username": "r.newstaff",
    "role": Role.CLINICIAN,
}


def _invite(client, service, **changes):
    return client.post(
        reverse("accounts:staff_invite"), {**INVITE, "service": service.pk, **changes}
    )


def _entries_for(obj):
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_pk=str(obj.pk)
    )


def _errors(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# The staff list ---------------------------------------------------------------------------


def test_the_staff_list_shows_what_an_administrator_needs(persona_client, admin_user, service):
    invited = User.objects.create(username="invitee", email="invitee@example.nhs.uk")
    invited.set_unusable_password()
    invited.save()
    MembershipFactory(user=invited, service=service, role=Role.CLINICIAN)
    gone = MembershipFactory(service=service, role=Role.MANAGER, user__is_active=False).user
    active = MembershipFactory(service=service, role=Role.CLINICIAN).user
    ensure_totp(active)

    page = _errors(persona_client(admin_user).get(reverse("accounts:staff_list")))

    def row(user):
        start = page.index(user.username)
        return page[start : page.index("</tr>", start)]

    assert "Invited" in row(invited) and "Not set up" in row(invited) and "Never" in row(invited)
    assert "Deactivated" in row(gone) and "Service manager" in row(gone)
    assert "Active" in row(active) and "Set up" in row(active)
    assert active.email in row(active)
    assert "Invite a member of staff" in page


def _staff_of(service, size):
    for _ in range(size):
        user = MembershipFactory(service=service, role=Role.CLINICIAN).user
        ensure_totp(user)


def test_the_staff_list_costs_the_same_queries_for_5_or_15_people(
    persona_client, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (5, 15):
        service = ServiceFactory()
        admin = MembershipFactory(service=service, role=Role.ADMIN).user
        _staff_of(service, size)
        client = persona_client(admin)
        client.get(reverse("accounts:staff_list"))  # warm caches
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("accounts:staff_list"))
        assert response.status_code == 200
        assert len(response.context["staff"]) == size + 1
        counts.append(len(queries))
    assert counts[0] == counts[1]
    with django_assert_num_queries(STAFF_LIST_QUERIES):
        client.get(reverse("accounts:staff_list"))


# The session, the user, their roles, their services, the staff (second factor and "elsewhere"
# as subqueries), their memberships here; then the session saved (savepoint, update, release).
STAFF_LIST_QUERIES = 9


# Inviting -----------------------------------------------------------------------------------


def test_an_invitation_makes_an_invited_account_and_sends_allauths_reset_key(
    persona_client, admin_user, service
):
    response = _invite(persona_client(admin_user), service)

    user = User.objects.get(username="r.newstaff")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:staff_detail", args=[user.pk])
    assert user.is_active and not user.has_usable_password()
    assert user.staff_status == "invited"
    assert list(user.memberships.values_list("service", "role")) == [(service.pk, "clinician")]
    assert [m.to for m in mail.outbox] == [[INVITE["email"]]]
    body = mail.outbox[0].body
    assert "r.newstaff" in body and service.name in body
    assert SET_PASSWORD_LINK.search(body)
    # Audited, with the administrator as actor: the account, its membership, the link sent.
    assert _entries_for(user).filter(action=LogEntry.Action.CREATE, actor=admin_user).exists()
    membership = user.memberships.get()
    assert _entries_for(membership).filter(actor=admin_user).exists()
    assert _entries_for(user).filter(changes__has_key="invitation", actor=admin_user).exists()


def test_the_invited_person_sets_a_password_then_must_set_up_a_second_factor(
    persona_client, admin_user, service
):
    _invite(persona_client(admin_user), service)
    link = SET_PASSWORD_LINK.search(mail.outbox[0].body).group(0)
    person = Client()

    landing = person.get(link)
    assert landing.status_code == 302  # allauth moves the key out of the address
    form = person.get(landing["Location"])
    assert "Set your password" in form.content.decode()
    done = person.post(
        landing["Location"],
        {"password1": "a long new passphrase", "password2": "a long new passphrase"},
    )
    assert done.status_code == 302

    user = User.objects.get(username="r.newstaff")
    assert user.has_usable_password() and user.staff_status == "active"
    # The link works once.
    assert "This link no longer works" in person.get(link).content.decode()
    # The link reached the address, so allauth.mfa may add a factor (it refuses while an
    # address is unverified, and allauth's reset key records the address unverified).
    validate_can_add_authenticator(user)
    signed_in = password_step(person, "r.newstaff", "a long new passphrase")
    assert signed_in.status_code == 302
    home = person.get(reverse("home"))
    assert home.status_code == 302
    assert home["Location"].startswith(reverse("mfa_activate_totp"))


@pytest.mark.parametrize("address", [INVITE["email"], INVITE["email"].upper()])
def test_inviting_an_address_already_in_use_is_a_form_error(
    persona_client, admin_user, service, address
):
    UserFactory(email=INVITE["email"])

    response = _invite(persona_client(admin_user), service, email=address)

    assert response.status_code == 200
    assert "An account already uses this e-mail address" in _errors(response)
    assert not User.objects.filter(username="r.newstaff").exists()
    assert mail.outbox == []


def test_an_address_used_in_another_service_is_refused_too(
    persona_client, admin_user, service, other_clinician
):
    response = _invite(persona_client(admin_user), service, email=other_clinician.email)
    assert "An account already uses this e-mail address" in _errors(response)


def test_a_username_in_use_is_a_form_error(persona_client, admin_user, service, clinician):
    response = _invite(persona_client(admin_user), service, username=clinician.username.upper())
    assert response.status_code == 200
    assert "An account already uses this username" in _errors(response)


def test_a_role_that_does_not_exist_is_a_form_error(persona_client, admin_user, service):
    response = _invite(persona_client(admin_user), service, role="superuser")
    assert response.status_code == 200
    assert "Select a valid choice" in _errors(response)
    assert not User.objects.filter(username="r.newstaff").exists()


def test_an_administrator_cannot_invite_into_another_service(
    persona_client, admin_user, service, other_service
):
    response = _invite(persona_client(admin_user), other_service)
    assert response.status_code == 200
    assert "Select a valid choice" in _errors(response)
    assert not User.objects.filter(username="r.newstaff").exists()


@pytest.mark.parametrize("persona", ["clinician", "manager"])
def test_roles_without_manage_service_cannot_invite(persona_client, request, service, persona):
    response = _invite(persona_client(request.getfixturevalue(persona)), service)
    assert response.status_code == 403
    assert not User.objects.filter(username="r.newstaff").exists()


def test_the_link_can_be_sent_again_while_invited_only(persona_client, admin_user, service):
    client = persona_client(admin_user)
    _invite(client, service)
    user = User.objects.get(username="r.newstaff")
    url = reverse("accounts:staff_invitation_resend", args=[user.pk])

    assert client.post(url).status_code == 302
    assert len(mail.outbox) == 2

    user.set_password(PASSWORD)
    user.save()
    refused = client.post(url)
    assert refused.status_code == 200
    assert "already set a password" in _errors(refused)
    assert len(mail.outbox) == 2


# Roles and memberships -----------------------------------------------------------------------


def test_an_administrator_changes_a_role(persona_client, admin_user, clinician):
    membership = clinician.memberships.get()
    response = persona_client(admin_user).post(
        reverse("accounts:membership_role", args=[membership.pk]), {"role": Role.MANAGER}
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.MANAGER
    assert (
        _entries_for(membership)
        .filter(action=LogEntry.Action.UPDATE, actor=admin_user, changes__has_key="role")
        .exists()
    )


def test_a_role_not_offered_is_a_form_error(persona_client, admin_user, clinician):
    membership = clinician.memberships.get()
    response = persona_client(admin_user).post(
        reverse("accounts:membership_role", args=[membership.pk]), {"role": "owner"}
    )
    assert response.status_code == 200
    assert "Choose one of the roles offered" in _errors(response)
    membership.refresh_from_db()
    assert membership.role == Role.CLINICIAN


def test_the_last_administrator_of_a_service_cannot_step_down(persona_client, admin_user):
    membership = admin_user.memberships.get()
    response = persona_client(admin_user).post(
        reverse("accounts:membership_role", args=[membership.pk]), {"role": Role.CLINICIAN}
    )
    assert response.status_code == 200
    assert "would have no administrator left" in _errors(response)
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN


def test_with_a_second_administrator_one_may_step_down(persona_client, admin_user, service):
    MembershipFactory(service=service, role=Role.ADMIN)
    membership = admin_user.memberships.get()
    response = persona_client(admin_user).post(
        reverse("accounts:membership_role", args=[membership.pk]), {"role": Role.MANAGER}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_another_services_membership_is_404(persona_client, admin_user, other_clinician):
    membership = other_clinician.memberships.get()
    client = persona_client(admin_user)
    assert (
        client.post(reverse("accounts:membership_role", args=[membership.pk]), {"role": "admin"})
    ).status_code == 404
    assert (
        client.post(reverse("accounts:membership_remove", args=[membership.pk])).status_code == 404
    )
    assert Membership.objects.get(pk=membership.pk).role == Role.CLINICIAN


@pytest.mark.parametrize("persona", ["clinician", "manager"])
def test_roles_without_manage_service_cannot_change_roles(persona_client, request, persona):
    user = request.getfixturevalue(persona)
    colleague = request.getfixturevalue("clinician" if persona == "manager" else "manager")
    membership = colleague.memberships.get()
    client = persona_client(user)
    assert (
        client.post(reverse("accounts:membership_role", args=[membership.pk]), {"role": "admin"})
    ).status_code == 403
    assert (
        client.post(reverse("accounts:membership_remove", args=[membership.pk])).status_code == 403
    )


@pytest.fixture
def second_service(admin_user):
    """A second service run by the same administrator."""
    second = ServiceFactory(name="Northside Team")
    MembershipFactory(user=admin_user, service=second, role=Role.ADMIN)
    return second


def test_an_administrator_adds_and_removes_a_membership(
    persona_client, admin_user, clinician, second_service
):
    client = persona_client(admin_user)
    added = client.post(
        reverse("accounts:membership_add", args=[clinician.pk]),
        {"service": second_service.pk, "role": Role.MANAGER},
    )
    assert added.status_code == 302
    membership = clinician.memberships.get(service=second_service)
    assert membership.role == Role.MANAGER
    assert _entries_for(membership).filter(action=LogEntry.Action.CREATE, actor=admin_user).exists()

    removed = client.post(reverse("accounts:membership_remove", args=[membership.pk]))
    assert removed.status_code == 302
    assert not clinician.memberships.filter(service=second_service).exists()
    assert LogEntry.objects.filter(
        action=LogEntry.Action.DELETE, object_pk=str(membership.pk), actor=admin_user
    ).exists()


def test_a_membership_cannot_be_added_in_another_service(
    persona_client, admin_user, clinician, other_service
):
    response = persona_client(admin_user).post(
        reverse("accounts:membership_add", args=[clinician.pk]),
        {"service": other_service.pk, "role": Role.CLINICIAN},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in _errors(response)
    assert not clinician.memberships.filter(service=other_service).exists()


def test_adding_to_another_services_person_is_404(persona_client, admin_user, other_clinician):
    response = persona_client(admin_user).post(
        reverse("accounts:membership_add", args=[other_clinician.pk]),
        {"service": admin_user.memberships.get().service_id, "role": Role.CLINICIAN},
    )
    assert response.status_code == 404


def test_removing_someones_only_service_is_refused(persona_client, admin_user, clinician):
    membership = clinician.memberships.get()
    response = persona_client(admin_user).post(
        reverse("accounts:membership_remove", args=[membership.pk])
    )
    assert response.status_code == 200
    assert "only service" in _errors(response)
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_removing_the_last_administrator_of_a_service_is_refused(
    persona_client, admin_user, second_service
):
    membership = admin_user.memberships.get(service=second_service)
    response = persona_client(admin_user).post(
        reverse("accounts:membership_remove", args=[membership.pk])
    )
    assert response.status_code == 200
    assert "Northside Team would have no administrator left" in _errors(response)
    assert Membership.objects.filter(pk=membership.pk).exists()


# Deactivation ---------------------------------------------------------------------------------


def test_deactivating_ends_the_persons_sessions_at_once(persona_client, admin_user, clinician):
    theirs = sign_in(Client(), clinician)
    assert theirs.get(reverse("home")).status_code == 200

    response = persona_client(admin_user).post(
        reverse("accounts:staff_deactivate", args=[clinician.pk])
    )

    assert response.status_code == 302
    clinician.refresh_from_db()
    assert not clinician.is_active and clinician.staff_status == "deactivated"
    next_request = theirs.get(reverse("home"))
    assert next_request.status_code == 302
    assert next_request["Location"].startswith(reverse("account_login"))
    assert _entries_for(clinician).filter(changes__has_key="is_active", actor=admin_user).exists()


def test_a_deactivated_account_cannot_sign_in(persona_client, admin_user, clinician):
    persona_client(admin_user).post(reverse("accounts:staff_deactivate", args=[clinician.pk]))
    person = Client()
    password_step(person, clinician.username)
    assert person.get(reverse("home")).status_code == 302
    assert "_auth_user_id" not in person.session


def test_an_administrator_cannot_deactivate_themselves(persona_client, admin_user, service):
    MembershipFactory(service=service, role=Role.ADMIN)
    response = persona_client(admin_user).post(
        reverse("accounts:staff_deactivate", args=[admin_user.pk])
    )
    assert response.status_code == 200
    assert "You cannot deactivate your own account" in _errors(response)
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_someone_who_also_works_elsewhere_is_not_deactivated_from_here(
    persona_client, admin_user, clinician, other_service
):
    MembershipFactory(user=clinician, service=other_service, role=Role.CLINICIAN)
    response = persona_client(admin_user).post(
        reverse("accounts:staff_deactivate", args=[clinician.pk])
    )
    assert response.status_code == 200
    assert "a service you do not administer" in _errors(response)
    clinician.refresh_from_db()
    assert clinician.is_active


def test_deactivating_another_services_person_is_404(persona_client, admin_user, other_clinician):
    response = persona_client(admin_user).post(
        reverse("accounts:staff_deactivate", args=[other_clinician.pk])
    )
    assert response.status_code == 404
    other_clinician.refresh_from_db()
    assert other_clinician.is_active


@pytest.mark.parametrize("persona", ["clinician", "manager"])
def test_roles_without_manage_service_cannot_deactivate(
    persona_client, request, admin_user, persona
):
    response = persona_client(request.getfixturevalue(persona)).post(
        reverse("accounts:staff_deactivate", args=[admin_user.pk])
    )
    assert response.status_code == 403
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_reactivating_lets_them_sign_in_but_old_sessions_stay_ended(
    persona_client, admin_user, clinician
):
    theirs = sign_in(Client(), clinician)
    client = persona_client(admin_user)
    client.post(reverse("accounts:staff_deactivate", args=[clinician.pk]))

    response = client.post(reverse("accounts:staff_reactivate", args=[clinician.pk]))

    assert response.status_code == 302
    clinician.refresh_from_db()
    assert clinician.is_active
    assert theirs.get(reverse("home")).status_code == 302
    assert password_step(Client(), clinician.username).status_code == 302
    again = client.post(reverse("accounts:staff_reactivate", args=[clinician.pk]))
    assert "already active" in _errors(again)


# Second factor reset ----------------------------------------------------------------------------


def test_resetting_a_second_factor_first_asks_for_the_administrators_password(
    persona_client, admin_user, clinician
):
    ensure_totp(clinician)
    theirs = sign_in(Client(), clinician)
    client = persona_client(admin_user)
    url = reverse("accounts:staff_reset_second_factor", args=[clinician.pk])

    asked = client.post(url)

    assert asked.status_code == 302
    assert asked["Location"].startswith(reverse("account_reauthenticate"))
    assert Authenticator.objects.filter(user=clinician).exists()

    wrong = client.post(asked["Location"], {"password": "not my password"})
    assert wrong.status_code == 200
    assert Authenticator.objects.filter(user=clinician).exists()

    done = client.post(asked["Location"], {"password": PASSWORD})

    assert done.status_code == 302
    assert done["Location"] == reverse("accounts:staff_detail", args=[clinician.pk])
    assert not Authenticator.objects.filter(user=clinician).exists()
    assert theirs.get(reverse("home")).status_code == 302  # their sessions ended
    assert (
        _entries_for(clinician).filter(changes__has_key="second factor", actor=admin_user).exists()
    )
    # Next sign-in: set up a new one.
    person = Client()
    password_step(person, clinician.username)
    assert person.get(reverse("home"))["Location"].startswith(reverse("mfa_activate_totp"))


def test_a_reset_with_nothing_to_reset_says_so(persona_client, admin_user, clinician):
    client = persona_client(admin_user)
    url = reverse("accounts:staff_reset_second_factor", args=[clinician.pk])
    asked = client.post(url)
    response = client.post(asked["Location"], {"password": PASSWORD})
    assert response.status_code == 200
    assert "no second factor set up" in _errors(response)


def test_resetting_another_services_second_factor_is_404_without_a_password_prompt(
    persona_client, admin_user, other_clinician
):
    ensure_totp(other_clinician)
    url = reverse("accounts:staff_reset_second_factor", args=[other_clinician.pk])
    assert persona_client(admin_user).post(url).status_code == 404
    assert Authenticator.objects.filter(user=other_clinician).exists()


def test_a_clinician_cannot_reset_a_colleagues_second_factor(persona_client, clinician, manager):
    ensure_totp(manager)
    url = reverse("accounts:staff_reset_second_factor", args=[manager.pk])
    assert persona_client(clinician).post(url).status_code == 403
    assert Authenticator.objects.filter(user=manager).exists()


# The person's page ------------------------------------------------------------------------------


def test_the_persons_page_offers_the_actions(persona_client, admin_user, clinician):
    ensure_totp(clinician)
    page = _errors(
        persona_client(admin_user).get(reverse("accounts:staff_detail", args=[clinician.pk]))
    )
    for action in ("Change role", "Remove from", "Reset second factor", "Deactivate account"):
        assert action in page


def test_another_services_person_page_is_404(persona_client, admin_user, other_clinician):
    url = reverse("accounts:staff_detail", args=[other_clinician.pk])
    assert persona_client(admin_user).get(url).status_code == 404


def test_a_manager_cannot_open_a_persons_page(persona_client, manager, clinician):
    url = reverse("accounts:staff_detail", args=[clinician.pk])
    assert persona_client(manager).get(url).status_code == 403
