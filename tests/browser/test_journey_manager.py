"""A service manager's journey: sign in with a second factor, open the service and cohort
dashboards, download research exports and check what is inside them."""

import csv
import io
import re

import openpyxl
import pytest

from accounts.demo_mfa import ensure_totp
from accounts.models import Membership
from dashboards.cache import cache
from participants.models import Participant
from tests.browser.helpers import sign_in_with_mfa
from tests.dashboards.builders import make_cohort, populate
from tests.factories import MembershipFactory, ServiceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PSEUDONYM = re.compile(r"^R[0-9a-f]{16}$")
# tests.dashboards.builders.populate gives each person, at three timepoints, CORE-10 (one
# scale), FSCRS (three), service use (six) and occupation (four): 3 x 14 score rows; and
# six register marks, of which present, late, left early and present count as attended.
SCORE_ROWS_PER_PERSON = 3 * (1 + 3 + 6 + 4)
MARKS_PER_PERSON, ATTENDED_PER_PERSON = 6, 4


def export_link(fmt: str, which: str) -> re.Pattern:
    # "CSV" then a visually hidden ", research scores": Chromium puts a space between them.
    return re.compile(rf"^{fmt}\s*,\s*{which}$")


def test_manager_opens_both_dashboards_and_downloads_pseudonymised_exports(
    live_server, new_page, journey, tmp_path
):
    cache.clear()  # the service figures are cached by service id
    service = ServiceFactory(name="Riverside Team")
    manager = MembershipFactory(
        service=service, role=Membership.Role.MANAGER, user__username="m.manager"
    ).user
    secret = ensure_totp(manager)
    spring = make_cohort(service, sessions=12, name="Spring group")
    populate(spring, 6)
    autumn = make_cohort(service, sessions=12, name="Autumn group")
    populate(autumn, 4, seed=3)
    url = live_server.url

    trip = journey("manager")
    page = new_page(accept_downloads=True)
    sign_in_with_mfa(page, url, "m.manager", secret, trip.screenshot)
    trip.step(page, "home")
    page.get_by_role("link", name="Dashboards").first.click()
    trip.step(page, "dashboards")
    page.get_by_role("link", name="Riverside Team: service dashboard").click()
    page.wait_for_load_state("networkidle")
    trip.step(page, "service-dashboard")
    assert page.get_by_role("heading", name="Service dashboard: Riverside Team").is_visible()

    page.get_by_role("link", name="Spring group").first.click()
    page.wait_for_load_state("networkidle")
    trip.step(page, "cohort-dashboard")
    assert "6 people started the programme" in page.locator("main").inner_text()
    assert page.locator("canvas").count() > 0
    # A manager sees pseudonymised figures only: no names, no identifiable export.
    main_text = page.locator("main").inner_text()
    spring_people = Participant.objects.filter(enrolments__cohort=spring)
    assert not any(p.family_name in main_text for p in spring_people)
    assert page.get_by_role("link", name=export_link("CSV", "identifiable scores")).count() == 0

    with page.expect_download() as cohort_download:
        page.get_by_role("link", name=export_link("CSV", "research scores")).click()
    scores_file = cohort_download.value
    assert scores_file.suggested_filename == f"cohort-{spring.pk}-scores-research.csv"
    scores_file.save_as(tmp_path / scores_file.suggested_filename)
    # With a byte-order mark, so that Excel reads it as UTF-8.
    scores_text = (tmp_path / scores_file.suggested_filename).read_text(encoding="utf-8-sig")

    page.go_back()
    page.wait_for_load_state("networkidle")
    with page.expect_download() as service_download:
        page.get_by_role("link", name=export_link("XLSX", "research attendance")).click()
    attendance_file = service_download.value
    assert attendance_file.suggested_filename == f"service-{service.pk}-attendance-research.xlsx"
    attendance_file.save_as(tmp_path / attendance_file.suggested_filename)
    workbook = openpyxl.load_workbook(tmp_path / attendance_file.suggested_filename)
    attendance_rows = [list(row) for row in workbook.active.iter_rows(values_only=True)]
    trip.step(page, "after-downloads")

    # The cohort's research scores: columns, one row per person, timepoint and scale.
    scores = list(csv.reader(io.StringIO(scores_text)))
    assert scores[0] == [
        "pseudonym",
        "birth_year",
        "cohort",
        "programme",
        "timepoint",
        "week",
        "completed_on",
        "instrument",
        "scale",
        "value",
        "band",
        "not_scored_reason",
    ]
    body = scores[1:]
    assert len(body) == 6 * SCORE_ROWS_PER_PERSON
    assert {row[2] for row in body} == {"Spring group"}
    assert {row[4] for row in body} == {"baseline", "week12", "week52", "week104"}
    spring_pseudonyms = {row[0] for row in body}
    assert len(spring_pseudonyms) == 6
    assert all(PSEUDONYM.match(p) for p in spring_pseudonyms)

    # The service's research attendance: both cohorts, the same pseudonyms as above.
    header, rows = attendance_rows[0], attendance_rows[1:]
    assert header == [
        "pseudonym",
        "birth_year",
        "cohort",
        "session",
        "week",
        "session_date",
        "phase",
        "session_status",
        "attendance",
        "attended",
    ]
    assert len(rows) == 10 * MARKS_PER_PERSON
    assert sum(1 for row in rows if row[9] == "yes") == 10 * ATTENDED_PER_PERSON
    service_pseudonyms = {row[0] for row in rows}
    assert len(service_pseudonyms) == 10
    assert spring_pseudonyms <= service_pseudonyms

    # Nothing that names anyone: no name, record number, email or phone in any cell.
    identifying = set()
    for person in Participant.objects.filter(service=service):
        identifying |= {person.given_name, person.family_name, person.reference}
        identifying |= {person.email, str(person.mobile), person.full_name}
    identifying.discard("")
    cells = {str(cell) for row in scores + attendance_rows for cell in row}
    assert cells.isdisjoint(identifying)
    assert not any(name in scores_text for name in identifying if len(name) > 3)
    trip.finish()
