"""Sign-in limits are per account, so one person's failures never lock out a colleague behind
the same address (a trust's NAT, the load balancer); a generous per-address limit remains, the
locked account's holder is told by e-mail, and the client's address comes from
X-Forwarded-For only when the deployment says how many proxies to trust."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.test import RequestFactory
from django.urls import reverse

from accounts.adapter import client_ip
from accounts.demo_mfa import ensure_totp
from tests.factories import UserFactory
from tests.security.helpers import PASSWORD, current_code, password_step

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
WRONG = "not the right password at all"
NAT = "192.0.2.50"
ADDRESS_LIMIT = 100
REPO = Path(__file__).resolve().parents[2]


def configured_proxy_count(value: str | None) -> int:
    """ALLAUTH_TRUSTED_PROXY_COUNT as config/settings.py reads it from a fresh environment."""
    env = {k: v for k, v in os.environ.items() if k != "TRUSTED_PROXY_COUNT"}
    if value is not None:
        env["TRUSTED_PROXY_COUNT"] = value
    code = "from config import settings as s; print(s.ALLAUTH_TRUSTED_PROXY_COUNT)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return int(result.stdout)


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def wrong_codes(client, user, secret, times, **extra):
    password_step(client, user.username, **extra)
    for n in range(times):
        response = client.post(
            reverse("mfa_authenticate"), {"code": current_code(secret, offset=40 + n)}, **extra
        )
        assert response.status_code == 200


def test_ten_wrong_passwords_for_one_account_do_not_lock_a_colleague_out(
    client_factory, clinician, other_clinician
):
    with time_machine.travel(START, tick=True):
        guesser = client_factory()
        for _ in range(10):
            password_step(guesser, clinician.username, WRONG, REMOTE_ADDR=NAT)

        colleague = client_factory()
        password_step(colleague, other_clinician.username, REMOTE_ADDR=NAT)

        assert is_signed_in(colleague)


def test_ten_wrong_totp_codes_for_one_account_do_not_lock_a_colleague_out(
    client_factory, clinician, other_clinician
):
    with time_machine.travel(START, tick=True):
        wrong_codes(client_factory(), clinician, ensure_totp(clinician), 10, REMOTE_ADDR=NAT)

        colleague = client_factory()
        secret = ensure_totp(other_clinician)
        password_step(colleague, other_clinician.username, REMOTE_ADDR=NAT)
        response = colleague.post(
            reverse("mfa_authenticate"), {"code": current_code(secret)}, REMOTE_ADDR=NAT
        )

        assert response.status_code == 302
        assert is_signed_in(colleague)


def test_ten_wrong_totp_codes_refuse_the_right_code_for_that_account(client, clinician):
    with time_machine.travel(START, tick=True):
        secret = ensure_totp(clinician)
        wrong_codes(client, clinician, secret, 10, REMOTE_ADDR=NAT)

        response = client.post(
            reverse("mfa_authenticate"), {"code": current_code(secret)}, REMOTE_ADDR=NAT
        )

        assert response.status_code == 200
        assert not is_signed_in(client)


def test_ten_wrong_recovery_codes_lock_that_account_for_five_minutes(client, clinician):
    with time_machine.travel(START, tick=True) as traveller:
        secret = ensure_totp(clinician)
        password_step(client, clinician.username, REMOTE_ADDR=NAT)
        for n in range(10):
            client.post(reverse("mfa_authenticate"), {"code": f"0000{n:04d}"}, REMOTE_ADDR=NAT)
        refused = client.post(
            reverse("mfa_authenticate"), {"code": current_code(secret)}, REMOTE_ADDR=NAT
        )
        assert refused.status_code == 200

        traveller.shift(dt.timedelta(minutes=5, seconds=1))
        client.post(reverse("mfa_authenticate"), {"code": current_code(secret)}, REMOTE_ADDR=NAT)
        assert is_signed_in(client)


def test_the_address_limit_is_generous_but_holds(client_factory, manager):
    with time_machine.travel(START, tick=True):
        guesser = client_factory()
        for n in range(ADDRESS_LIMIT - 1):
            password_step(guesser, f"guess{n}", WRONG, REMOTE_ADDR=NAT)

        colleague = client_factory()
        password_step(colleague, manager.username, REMOTE_ADDR=NAT)
        assert is_signed_in(colleague)

        password_step(guesser, "guess-last", WRONG, REMOTE_ADDR=NAT)
        late = client_factory()
        password_step(late, manager.username, REMOTE_ADDR=NAT)
        assert not is_signed_in(late)


class TestLockNotice:
    def test_the_account_locked_by_wrong_passwords_is_told_once(self, client, clinician):
        with time_machine.travel(START, tick=True):
            for _ in range(15):
                password_step(client, clinician.username, WRONG, REMOTE_ADDR=NAT)

        assert len(mail.outbox) == 1
        notice = mail.outbox[0]
        assert notice.to == [clinician.email]
        assert "password" in notice.body
        assert "5 minutes" in notice.body

    def test_the_account_locked_by_wrong_codes_is_told_its_password_was_right(
        self, client, clinician
    ):
        with time_machine.travel(START, tick=True):
            wrong_codes(client, clinician, ensure_totp(clinician), 12, REMOTE_ADDR=NAT)

        assert [m.to for m in mail.outbox] == [[clinician.email]]
        assert "change your password" in mail.outbox[0].body

    def test_the_notice_names_no_address_and_carries_no_link(self, client, clinician):
        with time_machine.travel(START, tick=True):
            for _ in range(10):
                password_step(client, clinician.username, WRONG, REMOTE_ADDR=NAT)

        (notice,) = mail.outbox
        text = notice.subject + notice.body
        assert NAT not in text
        assert "http" not in text
        assert clinician.first_name not in text

    def test_nine_failures_send_nothing(self, client, clinician):
        with time_machine.travel(START, tick=True):
            for _ in range(9):
                password_step(client, clinician.username, WRONG, REMOTE_ADDR=NAT)
        assert mail.outbox == []

    def test_guesses_at_an_unknown_name_send_nothing(self, client, clinician):
        with time_machine.travel(START, tick=True):
            for _ in range(12):
                password_step(client, "nobody-by-this-name", WRONG, REMOTE_ADDR=NAT)
        assert mail.outbox == []

    def test_an_account_without_an_address_is_locked_without_a_notice(self, client):
        user = UserFactory(email="")
        with time_machine.travel(START, tick=True):
            for _ in range(10):
                password_step(client, user.username, WRONG, REMOTE_ADDR=NAT)
            password_step(client, user.username, PASSWORD, REMOTE_ADDR=NAT)
        assert not is_signed_in(client)
        assert mail.outbox == []


class TestClientAddress:
    def request(self, forwarded: str):
        return RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=forwarded)

    def test_x_forwarded_for_is_ignored_by_default(self):
        assert client_ip(self.request("198.51.100.7")) == "10.0.0.9"

    def test_one_trusted_proxy_takes_the_address_it_appended(self, settings):
        settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
        forged_then_real = "203.0.113.66, 198.51.100.7"
        assert client_ip(self.request(forged_then_real)) == "198.51.100.7"

    def test_two_trusted_proxies_take_the_address_the_outer_one_appended(self, settings):
        settings.ALLAUTH_TRUSTED_PROXY_COUNT = 2
        assert client_ip(self.request("203.0.113.66, 198.51.100.7, 10.0.0.3")) == "198.51.100.7"

    def test_the_setting_comes_from_the_environment_and_is_off_by_default(self):
        assert configured_proxy_count(None) == 0
        assert configured_proxy_count("2") == 2

    def test_forged_forwarded_addresses_do_not_escape_the_address_limit(self, client_factory):
        with time_machine.travel(START, tick=True):
            guesser = client_factory()
            for n in range(ADDRESS_LIMIT):
                password_step(
                    guesser, f"guess{n}", WRONG, REMOTE_ADDR=NAT, HTTP_X_FORWARDED_FOR=f"10.1.0.{n}"
                )
            response = password_step(
                guesser, "guess-more", WRONG, REMOTE_ADDR=NAT, HTTP_X_FORWARDED_FOR="10.2.0.1"
            )
            assert "Too many failed" in response.content.decode()

    def test_behind_a_trusted_proxy_each_client_has_its_own_address_limit(
        self, settings, client_factory, manager
    ):
        settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
        with time_machine.travel(START, tick=True):
            guesser = client_factory()
            for n in range(ADDRESS_LIMIT):
                password_step(
                    guesser, f"guess{n}", WRONG, REMOTE_ADDR=NAT, HTTP_X_FORWARDED_FOR="10.1.0.1"
                )
            colleague = client_factory()
            password_step(
                colleague, manager.username, REMOTE_ADDR=NAT, HTTP_X_FORWARDED_FOR="10.1.0.2"
            )
            assert is_signed_in(colleague)

    def test_participant_link_limits_count_the_same_address(self, settings, client):
        from measures.participant_views import LINK_PAGE_RATE

        allowed = int(LINK_PAGE_RATE.split("/")[0])
        url = reverse("questionnaire:landing", args=["no-such-token"])
        for n in range(allowed):
            client.get(url, REMOTE_ADDR=NAT, HTTP_X_FORWARDED_FOR=f"10.1.0.{n}")
        assert client.get(url, REMOTE_ADDR=NAT, HTTP_X_FORWARDED_FOR="10.2.0.1").status_code == 429

        settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
        assert client.get(url, REMOTE_ADDR=NAT, HTTP_X_FORWARDED_FOR="10.2.0.1").status_code != 429
