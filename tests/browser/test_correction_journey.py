"""A clinician corrects a paper questionnaire entered with the wrong answers: the participant's
trajectory then shows the corrected score, with the original kept and marked superseded."""

import datetime
import re

import pytest
from django.utils import timezone

from accounts.demo_mfa import ensure_totp
from accounts.models import Membership
from measures import services
from measures.models import Administration, Score
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


def test_clinician_corrects_a_paper_entry_and_the_trajectory_marks_the_original(
    live_server, new_page, journey
):
    service = ServiceFactory(name="Riverside Team")
    clinician = MembershipFactory(
        service=service,
        role=Membership.Role.CLINICIAN,
        user__username="a.clinician",
        user__first_name="Jo",
        user__last_name="Clinician",
    ).user
    secret = ensure_totp(clinician)
    today = timezone.localdate()
    start = today - datetime.timedelta(days=7)
    cohort = cohort_create(
        service=service,
        programme=default_programme(),
        name="Thursday group",
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
    completed = start + datetime.timedelta(days=1)
    # Entered from the wrong row of a stack of forms: every answer 1 but the risk item.
    services.administration_enter(
        administration=adm,
        answers=dict.fromkeys(range(1, 11), 1) | {6: 0},
        entered_by=clinician,
        completed_at=timezone.make_aware(datetime.datetime.combine(completed, datetime.time(12))),
    )
    url = live_server.url

    trip = journey("correction")
    page = new_page()
    sign_in_with_mfa(page, url, "a.clinician", secret, trip.screenshot)
    page.goto(f"{url}/participants/{person.pk}/")
    trip.step(page, "participant-before")
    page.get_by_role("link", name="Questionnaires, paper entry and links").click()
    page.wait_for_url(re.compile(rf"/measures/participants/{person.pk}/$"))
    trip.step(page, "questionnaires")
    page.get_by_role("link", name="Correct CORE-10 Baseline").click()
    page.wait_for_url(re.compile(rf"/administrations/{adm.pk}/correct/$"))
    trip.step(page, "correct-form")
    assert page.get_by_label("Date it was completed").input_value() == completed.isoformat()

    # The right form's answers: 3 for every item but the risk item, 0 on both forms.
    for number in range(1, 11):
        page.locator(f"#id_item_{number}").select_option("0" if number == 6 else "3")
    page.get_by_label("What was wrong").fill("Copied from the wrong row")
    trip.step(page, "correct-filled")
    page.get_by_role("button", name="Save the correction").click()
    page.wait_for_url(re.compile(rf"/measures/participants/{person.pk}/$"))
    trip.step(page, "corrected")
    assert page.get_by_text("the original is kept, marked superseded").is_visible()

    page.goto(f"{url}/participants/{person.pk}/")
    trip.step(page, "trajectory")
    new = adm.superseded_by
    corrected_total = Score.objects.get(administration=new, scale="total").value
    table = page.get_by_role("table", name=re.compile(r"CORE-10"))
    rows = table.locator("tbody tr")
    assert rows.count() == 2
    original_row, corrected_row = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    assert "superseded by a correction" in original_row and "13.0" in original_row
    assert "corrected" in corrected_row and str(corrected_total) in corrected_row
    assert page.locator("tr.superseded s").inner_text() == "13.0"
    trip.finish()
