"""seed_demo gives every demo account a TOTP secret and prints it, so a tester can sign in."""

from io import StringIO

import pytest
from allauth.mfa.models import Authenticator
from django.urls import reverse

from accounts import demo
from accounts.demo_mfa import ensure_totp
from tests.factories import UserFactory
from tests.security.helpers import current_code, password_step

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def test_seed_prints_a_secret_for_every_member_and_only_members(clinician, manager):
    outsider = UserFactory(username="not_a_member")
    out = StringIO()

    demo.seed(out)

    text = out.getvalue()
    for user in (clinician, manager):
        secret = ensure_totp(user)
        assert f"{user.username}" in text and secret in text
    assert outsider.username not in text
    assert not Authenticator.objects.filter(user=outsider).exists()


def test_seed_is_idempotent(clinician):
    demo.seed(StringIO())
    first = ensure_totp(clinician)
    demo.seed(StringIO())
    assert ensure_totp(clinician) == first
    assert Authenticator.objects.filter(user=clinician, type="totp").count() == 1
    assert Authenticator.objects.filter(user=clinician, type="recovery_codes").count() == 1


def test_the_printed_secret_signs_the_account_in(client, clinician):
    out = StringIO()
    demo.seed(out)
    line = next(line for line in out.getvalue().splitlines() if clinician.username in line)
    secret = line.split("TOTP secret ")[1].split()[0]

    password_step(client, clinician.username)
    client.post(reverse("mfa_authenticate"), {"code": current_code(secret)})

    assert client.get(reverse("participants:participant_list")).status_code == 200


def test_an_existing_authenticator_is_kept(clinician):
    from allauth.mfa.totp.internal.auth import TOTP

    TOTP.activate(clinician, "JBSWY3DPEHPK3PXP")
    assert ensure_totp(clinician) == "JBSWY3DPEHPK3PXP"
