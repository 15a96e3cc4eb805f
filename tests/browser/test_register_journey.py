"""A clinician signs in with a second factor, opens today's session and takes the register."""

import datetime

import pytest
from django.utils import timezone

from accounts.demo_mfa import ensure_totp
from accounts.models import Membership
from programmes.models import Attendance, Cohort
from programmes.services import cohort_create, enrolment_create
from tests.browser.axe import assert_accessible
from tests.browser.helpers import sign_in_with_mfa
from tests.factories import MembershipFactory, ParticipantFactory, ServiceFactory, default_programme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clinician_takes_the_register_in_a_real_browser(live_server, new_page, screenshot):
    service = ServiceFactory(name="Riverside Team")
    clinician = MembershipFactory(
        service=service, role=Membership.Role.CLINICIAN, user__username="r.clinician"
    ).user
    secret = ensure_totp(clinician)
    today = timezone.localdate()
    cohort = cohort_create(
        service=service,
        programme=default_programme(),
        name="Tuesday group",
        start_date=today,
        weekday=today.weekday(),
        start_time=datetime.time(10, 0),
        venue="Room 2",
        capacity=10,
        facilitators=[clinician],
    )
    people = [
        ParticipantFactory(service=service, given_name=given, family_name="Tester")
        for given in ("Ada", "Bea", "Cal")
    ]
    for person in people:
        enrolment_create(cohort=cohort, participant=person, enrolled_on=today)

    page = new_page()
    sign_in_with_mfa(page, live_server.url, "r.clinician", secret, screenshot)
    page.get_by_role("link", name="Cohorts").first.click()
    page.get_by_role("link", name="Tuesday group").first.click()
    screenshot(page, "cohort")
    page.get_by_role("link", name="Take today's register").click()
    screenshot(page, "register")
    assert_accessible(page)

    page.get_by_label("Ada Tester: Present").check()
    page.get_by_label("Bea Tester: Late").check()
    page.get_by_label("Cal Tester: Did not attend").check()
    page.get_by_label("Group note").fill("Soothing rhythm breathing; the group was settled.")
    page.get_by_role("button", name="Save the register").click()
    page.wait_for_load_state()
    screenshot(page, "saved")

    session = Cohort.objects.get(pk=cohort.pk).sessions.get(number=1)
    recorded = dict(
        Attendance.objects.filter(session=session).values_list(
            "enrolment__participant__given_name", "status"
        )
    )
    assert recorded == {"Ada": "present", "Bea": "late", "Cal": "dna"}
    session.refresh_from_db()
    assert session.register_taken_by == clinician
    assert "Soothing rhythm breathing" in session.group_note
