"""Staff sessions end after 30 idle minutes, 12 hours in all, on sign-out, deactivation and
an administrator's "end sessions"."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from tests.conftest import sign_in

START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def signed_in(client, user) -> bool:
    return client.get(reverse("home")).status_code == 200


@pytest.mark.django_db
def test_session_survives_activity_every_29_minutes(client, clinician):
    with time_machine.travel(START, tick=False) as traveller:
        sign_in(client, clinician)
        for _ in range(6):
            assert signed_in(client, clinician)
            traveller.shift(dt.timedelta(minutes=29))
        assert signed_in(client, clinician)


@pytest.mark.django_db
def test_session_ends_after_30_idle_minutes(client, clinician):
    with time_machine.travel(START, tick=False) as traveller:
        sign_in(client, clinician)
        assert signed_in(client, clinician)
        traveller.shift(dt.timedelta(minutes=30, seconds=1))

        response = client.get(reverse("home"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.django_db
def test_session_ends_12_hours_after_sign_in_however_active(client, clinician):
    with time_machine.travel(START, tick=False) as traveller:
        sign_in(client, clinician)
        for _ in range(12 * 60 // 20):
            assert signed_in(client, clinician)
            traveller.shift(dt.timedelta(minutes=20))
        # Exactly 12 hours after sign-in: the limit is "more than 12 hours".
        assert signed_in(client, clinician)
        traveller.shift(dt.timedelta(seconds=1))

        response = client.get(reverse("home"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_sign_out_ends_the_session_for_whoever_holds_the_cookie(client, clinician):
    sign_in(client, clinician)
    assert signed_in(client, clinician)
    stolen_cookie = client.cookies["sessionid"].value

    client.post(reverse("account_logout"))
    client.cookies["sessionid"] = stolen_cookie

    assert not signed_in(client, clinician)


@pytest.mark.django_db
def test_deactivating_a_user_ends_their_session_at_once(client, clinician):
    sign_in(client, clinician)
    assert signed_in(client, clinician)

    clinician.is_active = False
    clinician.save(update_fields=["is_active"])

    assert not signed_in(client, clinician)


@pytest.mark.django_db
def test_revoking_sessions_ends_those_begun_before_it(client, clinician):
    with time_machine.travel(START, tick=False) as traveller:
        sign_in(client, clinician)
        assert signed_in(client, clinician)
        traveller.shift(dt.timedelta(minutes=5))

        clinician.sessions_revoked_at = timezone.now()
        clinician.save(update_fields=["sessions_revoked_at"])

        assert not signed_in(client, clinician)
        traveller.shift(dt.timedelta(minutes=1))
        sign_in(client, clinician)
        assert signed_in(client, clinician)


@pytest.mark.django_db
def test_session_cookie_is_http_only_and_dies_with_the_browser(client, clinician):
    sign_in(client, clinician)
    response = client.get(reverse("home"))
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"]
    assert not cookie["max-age"]
    assert not cookie["expires"]
