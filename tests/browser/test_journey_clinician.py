"""A clinician's journey through the real pages: sign in with a second factor, create a
cohort, add and enrol three people, take two registers and enter a paper questionnaire."""

import datetime
import re

import pytest
from django.utils import timezone

from accounts.demo_mfa import ensure_totp
from accounts.models import Membership
from measures.models import Administration, Score
from participants.models import Participant
from programmes.models import Attendance, Cohort, GroupSession
from tests.browser.helpers import sign_in_with_mfa
from tests.factories import MembershipFactory, ParticipantFactory, ServiceFactory, default_programme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# CORE-10 items answered on the paper copy; item 6 is the risk item, answered 0.
PAPER_CORE10 = {1: 2, 2: 0, 3: 1, 4: 0, 5: 2, 6: 0, 7: 1, 8: 2, 9: 1, 10: 3}
# By hand: items 2 and 3 are reversed (4 - answer), so 2+4+3+0+2+0+1+2+1+3.
PAPER_CORE10_TOTAL = 18


def test_clinician_creates_a_cohort_enrols_takes_two_registers_and_enters_a_paper_form(
    live_server, new_page, journey
):
    service = ServiceFactory(name="Riverside Team")
    clinician = MembershipFactory(
        service=service,
        role=Membership.Role.CLINICIAN,
        user__username="j.clinician",
        user__first_name="Jo",
        user__last_name="Clinician",
    ).user
    secret = ensure_totp(clinician)
    # Two already on the service's books; the third is added through the form below.
    for given, family, reference in (("Ada", "Ashby", "RT-0001"), ("Bea", "Brook", "RT-0002")):
        ParticipantFactory(
            service=service, given_name=given, family_name=family, reference=reference
        )
    today = timezone.localdate()
    start = today - datetime.timedelta(days=7)  # session 1 a week ago, session 2 today
    programme = default_programme()
    url = live_server.url

    trip = journey("clinician")
    page = new_page()
    sign_in_with_mfa(page, url, "j.clinician", secret, trip.screenshot)
    trip.step(page, "home")

    # A new participant, through the participant form.
    page.goto(f"{url}/participants/new/")
    trip.step(page, "participant-form")
    page.get_by_label("Local reference").fill("RT-0003")
    page.get_by_label("Given name").fill("Cal")
    page.get_by_label("Family name").fill("Carter")
    page.get_by_label("Mobile number").fill("07700 900123")
    page.get_by_label("Preferred way to receive invitations").select_option("sms")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/participants/\d+/$"))
    trip.step(page, "participant-added")
    assert page.get_by_role("heading", name="Cal Carter").is_visible()

    # The cohort, from the default programme, first session a week ago.
    page.get_by_role("link", name="Cohorts").first.click()
    trip.step(page, "cohort-list")
    page.goto(f"{url}/programmes/cohorts/new/")
    page.get_by_label("Programme").select_option(str(programme.pk))
    page.get_by_label("Name").fill("Thursday group")
    page.get_by_label("Day of the week").select_option(str(start.weekday()))
    page.get_by_label("Date of the first session").fill(start.isoformat())
    page.get_by_label("Start time").fill("10:00")
    page.get_by_label("Venue").fill("Room 2")
    page.get_by_label("Capacity").fill("10")
    page.get_by_label("Jo Clinician").check()
    trip.step(page, "cohort-form")
    page.get_by_role("button", name="Create cohort").click()
    page.wait_for_url(re.compile(r"/programmes/cohorts/\d+/$"))
    trip.step(page, "cohort-created")
    cohort = Cohort.objects.get(service=service, name="Thursday group")
    assert cohort.programme == programme and cohort.start_date == start
    assert list(cohort.facilitators.all()) == [clinician]

    # Three enrolments, from the first session's date so both registers list them.
    for index, label in enumerate(
        ("Ashby, Ada (RT-0001)", "Brook, Bea (RT-0002)", "Carter, Cal (RT-0003)")
    ):
        page.get_by_role("link", name="Enrol a participant").click()
        page.get_by_label("Participant").select_option(label=label)
        page.get_by_label("Enrolment date").fill(start.isoformat())
        if index == 0:
            trip.step(page, "enrol-form")
        page.get_by_role("button", name="Enrol").click()
        page.wait_for_url(re.compile(r"/programmes/cohorts/\d+/$"))
    trip.step(page, "three-enrolled")
    assert cohort.enrolments.count() == 3

    # Register for session 1 (a week ago), then session 2 (today).
    registers = {
        1: {"Ada Ashby": "Present", "Bea Brook": "Late", "Cal Carter": "Did not attend"},
        2: {"Ada Ashby": "Present", "Bea Brook": "Present", "Cal Carter": "Apologies"},
    }
    for number, marks in registers.items():
        page.get_by_role("link", name=re.compile(f"Take register for session {number}$")).click()
        for name, status in marks.items():
            page.get_by_label(f"{name}: {status}").check()
        page.get_by_label("Group note").fill(f"Session {number}: soothing rhythm breathing.")
        trip.step(page, f"register-{number}")
        page.get_by_role("button", name="Save the register").click()
        page.wait_for_url(re.compile(r"/programmes/cohorts/\d+/$"))
        trip.step(page, f"register-{number}-saved")
        assert page.get_by_text(f"Register for session {number} saved.").is_visible()

    # A paper CORE-10 for Cal at baseline, from the participant's questionnaires page.
    page.get_by_role("link", name="Cal Carter", exact=True).click()
    page.get_by_role("link", name="Questionnaires, paper entry and links").click()
    trip.step(page, "questionnaires")
    page.get_by_role("link", name=re.compile(r"Enter paper copy CORE-10 Baseline")).click()
    page.get_by_label("Date it was completed").fill(today.isoformat())
    for item, value in PAPER_CORE10.items():
        page.get_by_label(re.compile(rf"Item {item}:")).select_option(str(value))
    trip.step(page, "paper-entry")
    page.get_by_role("button", name="Save and score").click()
    page.wait_for_url(re.compile(r"/measures/participants/\d+/$"))
    trip.step(page, "paper-saved")

    # What the database holds afterwards.
    sessions = {s.number: s for s in GroupSession.objects.filter(cohort=cohort, number__lte=2)}
    assert sessions[1].date == start and sessions[2].date == today
    status_code = {"Present": "present", "Late": "late", "Did not attend": "dna"}
    status_code["Apologies"] = "apologies"
    for number, marks in registers.items():
        recorded = dict(
            Attendance.objects.filter(session=sessions[number]).values_list(
                "enrolment__participant__given_name", "status"
            )
        )
        assert recorded == {name.split()[0]: status_code[s] for name, s in marks.items()}
        assert sessions[number].register_taken_by == clinician
    cal = Participant.objects.get(service=service, reference="RT-0003")
    paper = Administration.objects.get(
        enrolment__participant=cal, timepoint__key="baseline", instrument_code="core10"
    )
    assert paper.status == Administration.Status.COMPLETED
    assert paper.source == Administration.Source.PAPER
    assert paper.entered_by == clinician
    total = Score.objects.get(administration=paper, scale="total")
    assert total.value == PAPER_CORE10_TOTAL
    trip.finish()
