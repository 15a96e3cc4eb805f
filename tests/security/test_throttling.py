"""No more than 10 failed password guesses in 5 minutes per account (100 per address), and no
response that tells an attacker whether an account exists."""

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from tests.security.helpers import password_step

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
WRONG = "not the right password at all"


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail(client, username, times, ip="192.0.2.10"):
    for _ in range(times):
        response = password_step(client, username, WRONG, REMOTE_ADDR=ip)
        assert response.status_code == 200
        assert not is_signed_in(client)


def comparable(response) -> str:
    """The page without the parts that differ on every request (CSRF token, CSP nonce)."""
    text = response.content.decode()
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)
    return re.sub(r'nonce="[^"]+"', "", text)


def test_ten_failures_then_the_right_password_is_refused(client, clinician):
    with time_machine.travel(START, tick=False):
        fail(client, clinician.username, 10)

        response = password_step(client, clinician.username, REMOTE_ADDR="192.0.2.10")

        assert response.status_code == 200
        assert not is_signed_in(client)
        assert "Too many failed" in response.content.decode()


def test_nine_failures_still_allow_the_right_password(client, clinician):
    with time_machine.travel(START, tick=False):
        fail(client, clinician.username, 9)
        password_step(client, clinician.username, REMOTE_ADDR="192.0.2.10")
        assert is_signed_in(client)


def test_the_account_limit_holds_across_addresses(client, clinician):
    with time_machine.travel(START, tick=False):
        for n in range(10):
            fail(client, clinician.username, 1, ip=f"198.51.100.{n + 1}")
        password_step(client, clinician.username, REMOTE_ADDR="198.51.100.200")
        assert not is_signed_in(client)


def test_the_address_limit_holds_across_accounts(client, clinician, manager):
    with time_machine.travel(START, tick=True):
        for n in range(100):
            fail(client, f"guess{n}", 1, ip="203.0.113.7")
        password_step(client, manager.username, REMOTE_ADDR="203.0.113.7")
        assert not is_signed_in(client)
        # Another address is not affected by this one's failures.
        password_step(client, manager.username, REMOTE_ADDR="203.0.113.8")
        assert is_signed_in(client)


def test_the_limit_lifts_after_five_minutes(client, clinician):
    with time_machine.travel(START, tick=False) as traveller:
        fail(client, clinician.username, 10)
        traveller.shift(dt.timedelta(minutes=5, seconds=1))
        password_step(client, clinician.username, REMOTE_ADDR="192.0.2.10")
        assert is_signed_in(client)


def test_unknown_user_and_wrong_password_get_identical_responses(client, clinician):
    unknown = password_step(client, "nobody-by-this-name", WRONG, REMOTE_ADDR="192.0.2.20")
    wrong = password_step(client, clinician.username, WRONG, REMOTE_ADDR="192.0.2.21")

    assert unknown.status_code == wrong.status_code == 200
    assert comparable(unknown).replace("nobody-by-this-name", "X") == comparable(wrong).replace(
        clinician.username, "X"
    )


def test_throttled_responses_are_identical_for_unknown_and_known_accounts(client, clinician):
    with time_machine.travel(START, tick=False):
        fail(client, clinician.username, 10, ip="192.0.2.30")
        fail(client, "nobody-by-this-name", 10, ip="192.0.2.31")
        known = password_step(client, clinician.username, WRONG, REMOTE_ADDR="192.0.2.30")
        unknown = password_step(client, "nobody-by-this-name", WRONG, REMOTE_ADDR="192.0.2.31")

    assert known.status_code == unknown.status_code
    assert comparable(known).replace(clinician.username, "X") == comparable(unknown).replace(
        "nobody-by-this-name", "X"
    )


def test_a_failed_guess_does_not_reveal_whether_the_account_is_inactive(client, clinician):
    clinician.is_active = False
    clinician.save(update_fields=["is_active"])
    inactive = password_step(client, clinician.username, WRONG, REMOTE_ADDR="192.0.2.40")
    unknown = password_step(client, "nobody-by-this-name", WRONG, REMOTE_ADDR="192.0.2.41")
    assert comparable(inactive).replace(clinician.username, "X") == comparable(unknown).replace(
        "nobody-by-this-name", "X"
    )


def test_the_configured_limits_are_ten_per_account_and_a_hundred_per_address(settings):
    assert settings.ACCOUNT_RATE_LIMITS["login_failed"] == "100/5m/ip,10/5m/key"
    assert reverse("account_login") == "/accounts/login/"


class TestPasswords:
    """At least 12 characters, not a common password, no composition rules."""

    def validate(self, password):
        from django.contrib.auth.password_validation import validate_password
        from django.core.exceptions import ValidationError

        try:
            validate_password(password)
        except ValidationError as error:
            return [e.code for e in error.error_list]
        return []

    def test_eleven_characters_are_too_short(self):
        assert "password_too_short" in self.validate("kxqzvbnmwtr")

    def test_twelve_lower_case_letters_are_enough(self):
        assert self.validate("kxqzvbnmwtrp") == []

    def test_a_common_password_is_refused_however_long(self):
        assert "password_too_common" in self.validate("password1234")

    def test_no_digits_symbols_or_capitals_are_demanded(self):
        assert self.validate("quiet meadow lantern") == []
