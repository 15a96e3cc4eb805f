"""Before the group, a clinician sees on the home page that someone needs a word, opens the
session's huddle, rings them and records the contact."""

import datetime
import re

import pytest
from django.utils import timezone

from accounts.demo_mfa import ensure_totp
from accounts.models import Membership
from measures import services
from measures.models import Administration, HuddleContact
from programmes.services import cohort_create
from tests.browser.helpers import sign_in_with_mfa
from tests.factories import (
    EnrolmentFactory,
    MembershipFactory,
    ParticipantFactory,
    ServiceFactory,
    default_programme,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clinician_opens_the_huddle_from_home_and_records_a_contact(live_server, new_page, journey):
    service = ServiceFactory(name="Riverside Team")
    clinician = MembershipFactory(
        service=service, role=Membership.Role.CLINICIAN, user__username="a.clinician"
    ).user
    secret = ensure_totp(clinician)
    start = timezone.localdate() - datetime.timedelta(days=7)
    cohort = cohort_create(
        service=service,
        programme=default_programme(),
        name="Weekly group",
        start_date=start,
        start_time=datetime.time(10, 0),
        venue="Room 2",
        capacity=10,
        facilitators=[clinician],
    )
    person = ParticipantFactory(service=service, given_name="Dee", family_name="Dawson")
    enrolment = EnrolmentFactory(cohort=cohort, participant=person, enrolled_on=start)
    services.administrations_lay_out(enrolment=enrolment)
    adm = Administration.objects.get(
        enrolment=enrolment, timepoint__key="baseline", instrument_code="core10"
    )
    services.administration_enter(
        administration=adm,
        answers=dict.fromkeys(range(1, 11), 1) | {6: 3},
        entered_by=clinician,
        completed_at=timezone.now(),
    )
    url = live_server.url

    trip = journey("huddle")
    page = new_page()
    sign_in_with_mfa(page, url, "a.clinician", secret, trip.screenshot)
    assert "With an open risk alert: 1" in page.locator("main").inner_text()
    trip.step(page, "home-with-huddle-counts")
    page.get_by_role("link", name=re.compile(r"^Huddle")).first.click()
    page.wait_for_url(re.compile(r"/huddle/$"))
    trip.step(page, "huddle")
    assert "Open risk alert: Urgent" in page.locator("#huddle-table").inner_text()

    page.get_by_role("button", name=re.compile("Record contact")).click()
    trip.step(page, "blank-note-error")
    assert "Write a note saying who was contacted" in page.locator("main").inner_text()
    page.get_by_label(re.compile("Contacted: note")).fill("Rang Dee at 09:10; coming today.")
    page.get_by_role("button", name=re.compile("Record contact")).click()
    page.wait_for_url(re.compile(r"/huddle/$"))
    trip.step(page, "contact-recorded")
    assert "Rang Dee at 09:10; coming today." in page.locator("#huddle-table").inner_text()
    assert HuddleContact.objects.get().recorded_by == clinician
    trip.finish()
