"""A second factor stands between a password and any page beyond sign-in."""

import pytest
from allauth.mfa.models import Authenticator
from django.urls import reverse

from accounts.demo_mfa import ensure_totp
from tests.conftest import sign_in
from tests.security.helpers import PASSWORD, current_code, password_step

pytestmark = pytest.mark.usefixtures("fresh_cache")


def protected_url() -> str:
    """A page that needs Can.VIEW_CLINICAL once the participant list exists, else home."""
    try:
        return reverse("participants:participant_list")
    except Exception:
        return reverse("home")


@pytest.mark.django_db
def test_password_only_session_without_totp_is_sent_to_set_one_up(client, clinician):
    response = password_step(client, clinician.username)
    assert response.status_code == 302

    page = client.get(protected_url())

    assert page.status_code == 302
    assert page["Location"].startswith(reverse("mfa_activate_totp"))


@pytest.mark.django_db
def test_password_only_session_reaches_no_page_beyond_sign_in(client, clinician):
    password_step(client, clinician.username)
    for url in [protected_url(), reverse("home"), "/admin/", reverse("account_change_password")]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/"), url


@pytest.mark.django_db
def test_user_with_totp_is_not_signed_in_by_password_alone(client, clinician):
    ensure_totp(clinician)

    response = password_step(client, clinician.username)

    assert response["Location"] == reverse("mfa_authenticate")
    page = client.get(protected_url())
    assert page.status_code == 302
    assert page["Location"].startswith(reverse("account_login"))


@pytest.mark.django_db
def test_password_and_totp_code_reach_the_protected_page(client, clinician):
    secret = ensure_totp(clinician)
    password_step(client, clinician.username)

    response = client.post(reverse("mfa_authenticate"), {"code": current_code(secret)})

    assert response.status_code == 302
    assert client.get(protected_url()).status_code == 200


@pytest.mark.django_db
def test_a_wrong_totp_code_does_not_sign_in(client, clinician):
    secret = ensure_totp(clinician)
    password_step(client, clinician.username)
    wrong = current_code(secret, offset=20)

    response = client.post(reverse("mfa_authenticate"), {"code": wrong})

    assert response.status_code == 200
    assert client.get(protected_url()).status_code == 302


@pytest.mark.django_db
def test_a_recovery_code_completes_sign_in(client, clinician):
    ensure_totp(clinician)
    codes = (
        Authenticator.objects.get(user=clinician, type=Authenticator.Type.RECOVERY_CODES)
        .wrap()
        .get_unused_codes()
    )
    password_step(client, clinician.username)

    client.post(reverse("mfa_authenticate"), {"code": codes[0]})

    assert client.get(protected_url()).status_code == 200


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_enrolling_totp_completes_the_second_factor_for_this_session(client, clinician):
    """Real commits, so allauth's on-commit signal fires inside the view as in production."""
    password_step(client, clinician.username)
    activate = reverse("mfa_activate_totp")
    # allauth asks for the password again before an authenticator can be added.
    assert client.get(activate)["Location"].startswith(reverse("account_reauthenticate"))
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert client.get(activate).status_code == 200
    secret = client.session["mfa.totp.secret"]

    response = client.post(activate, {"code": current_code(secret)})

    assert response.status_code == 302
    assert Authenticator.objects.filter(user=clinician, type="totp").exists()
    assert Authenticator.objects.filter(user=clinician, type="recovery_codes").exists()
    assert client.get(protected_url()).status_code == 200


@pytest.mark.django_db
def test_session_with_totp_but_no_second_factor_must_prove_it(client, clinician):
    """A session opened some other way than allauth's stages (e.g. force_login)."""
    ensure_totp(clinician)
    client.force_login(clinician)

    response = client.get(protected_url())

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))


@pytest.mark.django_db
def test_records_made_for_another_user_do_not_count(client, clinician, other_clinician):
    sign_in(client, other_clinician)
    session = client.session
    records = session["account_authentication_methods"]
    client.force_login(clinician)
    session = client.session
    session["account_authentication_methods"] = records
    session["account_authentication_methods_user"] = str(other_clinician.pk)
    session.save()

    assert client.get(protected_url()).status_code == 302


@pytest.mark.django_db
def test_sign_in_helper_counts_as_both_factors(clinician_client):
    assert clinician_client.get(reverse("home")).status_code == 200


@pytest.mark.django_db
def test_static_files_and_sign_in_pages_are_reachable_before_the_second_factor(client, clinician):
    password_step(client, clinician.username)
    assert client.get(reverse("account_login")).status_code in (200, 302)
    assert client.get(reverse("account_reauthenticate")).status_code == 200
    assert client.get("/static/vendor/bootstrap/bootstrap.min.css").status_code == 200
    assert client.post(reverse("account_logout")).status_code == 302


@pytest.mark.django_db
def test_django_admin_login_goes_through_allauth(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.django_db
def test_django_admin_needs_the_second_factor_even_for_a_superuser(client, clinician):
    clinician.is_staff = clinician.is_superuser = True
    clinician.save()
    password_step(client, clinician.username)
    assert client.get("/admin/").status_code == 302
    sign_in(client, clinician)
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_django_admin_refuses_staff_without_the_staff_flag(clinician_client):
    response = clinician_client.get("/admin/")
    assert response.status_code in (302, 403)
    assert clinician_client.get("/admin/login/").status_code == 403
