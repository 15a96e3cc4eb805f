"""In a real browser, the participant's first POST (from a no-referrer page) succeeds."""

import datetime

import pytest
from django.utils import timezone

from measures.links import link_issue
from programmes.services import cohort_create, enrolment_create
from tests.factories import ParticipantFactory, ServiceFactory, default_programme

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_start_button_works_although_the_page_sends_no_referrer(live_server, new_page):
    service = ServiceFactory()
    today = timezone.localdate()
    cohort = cohort_create(
        service=service,
        programme=default_programme(),
        name="Thursday group",
        start_date=today,
        weekday=today.weekday(),
        start_time=datetime.time(10, 0),
        venue="Room 1",
        capacity=10,
    )
    participant = ParticipantFactory(service=service)
    enrolment_create(cohort=cohort, participant=participant, enrolled_on=today)
    token = link_issue(
        participant=participant, expires_at=timezone.now() + datetime.timedelta(days=5)
    )

    page = new_page()
    origins = []
    page.on(
        "request", lambda r: origins.append(r.headers.get("origin")) if r.method == "POST" else None
    )
    page.goto(f"{live_server.url}/q/{token}")
    response_statuses = []
    page.on(
        "response",
        lambda r: response_statuses.append(r.status) if r.request.method == "POST" else None,
    )
    page.locator("#start-button").click()
    page.wait_for_load_state()

    assert origins == ["null"]  # what Chromium sends under Referrer-Policy: no-referrer
    assert 403 not in response_statuses
    assert token not in page.url
    assert "questionnaire" in page.content().lower()
