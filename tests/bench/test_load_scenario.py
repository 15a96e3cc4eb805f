"""The load scenario's requests, run once each against a live server, without Locust.

If a page moves or a form changes, the load test would measure errors or redirects instead of
the pages it means to; these tests fail first. Cookies are Secure here as in production, so
the loopback cookie handling the load test relies on is exercised too.
"""

import datetime
import http.cookiejar
import re
import urllib.request
from email.message import Message

import pytest
from django.core.cache import caches
from django.utils import timezone

from accounts.models import Membership
from bench.load import scenario, seed
from measures import links
from measures.models import Administration
from programmes.services import cohort_create, enrolment_create
from tests.factories import MembershipFactory, ParticipantFactory, ServiceFactory, default_programme

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
def _production_cookies(settings):
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    caches["ratelimit"].clear()  # rate-limit counters outlive a test's database


@pytest.fixture
def setting():
    service = ServiceFactory(name="Load Team")
    clinician = MembershipFactory(service=service, role=Membership.Role.CLINICIAN).user
    manager = MembershipFactory(service=service, role=Membership.Role.MANAGER).user
    # Baseline opens 21 days before the start, so a start next week has it open today.
    cohort = cohort_create(
        service=service,
        programme=default_programme(),
        name="Load cohort",
        start_date=timezone.localdate() + datetime.timedelta(days=7),
        start_time=datetime.time(10, 0),
        venue="Room 1",
        capacity=10,
        facilitators=[clinician],
    )
    participant = ParticipantFactory(service=service)
    enrolment_create(cohort=cohort, participant=participant)
    token = links.link_issue(
        participant=participant, expires_at=timezone.now() + datetime.timedelta(days=14)
    )
    return {
        "service": service,
        "cohort": cohort,
        "participant": participant,
        "token": token,
        "staff": [clinician, manager],
    }


def _http(live_server, source_ip=None):
    return scenario.prepare(scenario.BaseUrlSession(live_server.url), source_ip)


def test_each_participant_request_gives_the_status_the_scenario_expects(live_server, setting):
    http = _http(live_server, scenario.participant_source_ip(0))
    person = scenario.Participant(token=setting["token"])
    person.next_path = f"/q/{setting['token']}"

    assert person.open_link(http).status_code == 200
    assert person.start(http).status_code == 302
    # Start goes straight to the first questionnaire's page; saving it with every question
    # answered sends it and goes straight on to the next one.
    first = person.next_path
    assert re.fullmatch(r"/q/a/\d+/page/1/", first)
    assert person.open_page(http).status_code == 200
    assert person.save_page(http).status_code == 302
    assert person.next_path != first and "/page/" in person.next_path
    assert person.open_home(http).status_code == 200
    assert person.next_path.startswith("/q/a/")
    assert person.open_questionnaire(http).status_code == 302
    assert "/page/" in person.next_path

    completed = Administration.objects.filter(
        enrolment__participant=setting["participant"], status=Administration.Status.COMPLETED
    )
    assert completed.count() == 1


def test_participant_steps_answer_questionnaires_one_after_another(live_server, setting):
    http = _http(live_server)
    person = scenario.Participant(token=setting["token"])
    completed = Administration.objects.filter(
        enrolment__participant=setting["participant"], status=Administration.Status.COMPLETED
    )
    for _ in range(60):
        person.step(http)
        if completed.count() == 2:
            break
    assert completed.count() == 2


@pytest.mark.parametrize("who", [0, 1], ids=["clinician", "manager"])
def test_each_staff_page_opens_for_a_presigned_session(live_server, setting, who):
    from django.conf import settings

    http = _http(live_server)
    http.cookies.set(settings.SESSION_COOKIE_NAME, seed._signed_in_cookie(setting["staff"][who]))
    staff = scenario.Staff(service=setting["service"].pk, cohorts=[setting["cohort"].pk])

    for request in (
        staff.cohort_list,
        staff.cohort_page,
        staff.cohort_dashboard,
        staff.service_dashboard,
    ):
        assert request(http).status_code == 200


def test_trivial_page_is_served_to_anyone(live_server):
    assert scenario.trivial(_http(live_server)).status_code == 200


def test_a_page_the_scenario_did_not_expect_is_reported(live_server, setting):
    staff = scenario.Staff(service=setting["service"].pk, cohorts=[setting["cohort"].pk])

    # Not signed in: the sign-in redirect is not the page the load test means to time.
    with pytest.raises(scenario.UnexpectedResponse):
        staff.cohort_page(_http(live_server))


def _stored_secure_flags(url: str) -> list[bool]:
    jar = http.cookiejar.CookieJar(policy=scenario.LoopbackCookiePolicy())
    headers = Message()
    headers["Set-Cookie"] = "sessionid=abc; Path=/; Secure; HttpOnly"

    class _Response:
        def info(self):
            return headers

    jar.extract_cookies(_Response(), urllib.request.Request(url))
    return [cookie.secure for cookie in jar]


def test_secure_cookies_from_loopback_are_kept_for_plain_http():
    assert _stored_secure_flags("http://127.0.0.1:8000/q/") == [False]
    assert _stored_secure_flags("http://localhost:8000/q/") == [False]


def test_secure_cookies_from_anywhere_else_stay_secure():
    assert _stored_secure_flags("https://safeground.example.nhs.uk/q/") == [True]
