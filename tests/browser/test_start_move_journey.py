"""A clinician moves a cohort's start across May Day, decides on the calendar it shows, and
the cohort page then shows the sessions as decided."""

import datetime

import pytest
from django.utils import timezone

from accounts.demo_mfa import ensure_totp
from accounts.models import Membership
from programmes.models import GroupSession
from programmes.services import cohort_create, session_cancel
from tests.browser.axe import assert_accessible
from tests.browser.helpers import sign_in_with_mfa
from tests.factories import MembershipFactory, ServiceFactory, default_programme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _next_years_may_day(today: datetime.date) -> datetime.date:
    first = datetime.date(today.year + 1, 5, 1)
    return first + datetime.timedelta(days=(0 - first.weekday()) % 7)


def test_clinician_moves_the_start_across_may_day_and_keeps_the_decisions(
    live_server, new_page, screenshot
):
    service = ServiceFactory(name="Riverside Team")
    clinician = MembershipFactory(
        service=service, role=Membership.Role.CLINICIAN, user__username="r.clinician"
    ).user
    secret = ensure_totp(clinician)
    # The server runs on the real clock, so the cohort starts early next year: session 18 on
    # that year's May Day, every session still to come.
    may_day = _next_years_may_day(timezone.localdate())
    start = may_day - datetime.timedelta(weeks=17)
    cohort = cohort_create(
        service=service,
        programme=default_programme(),
        name="Monday group",
        start_date=start,
        weekday=0,
        start_time=datetime.time(10, 0),
        venue="Room 2",
        capacity=10,
        facilitators=[clinician],
    )
    eighteen = cohort.sessions.get(number=18)
    seventeen = cohort.sessions.get(number=17)
    session_cancel(session=eighteen, reason="May Day")
    new_start = start + datetime.timedelta(weeks=1)

    page = new_page()
    sign_in_with_mfa(page, live_server.url, "r.clinician", secret)
    page.goto(f"{live_server.url}{cohort.get_absolute_url()}")
    page.get_by_role("link", name="Move the start date").click()
    page.get_by_label("New date of the first session").fill(new_start.isoformat())
    screenshot(page, "new-date")
    page.get_by_role("button", name="Show the new calendar").click()
    page.wait_for_load_state()

    assert page.get_by_role("heading", name="Check the new calendar of Monday group").is_visible()
    row_17 = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="17 (week 17)"))
    assert "Lands on May Day" in row_17.inner_text()
    row_18 = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="18 (week 18)"))
    assert "Needs a new decision" in row_18.inner_text()
    # Session 17 now falls on May Day, which the team had decided against: cancelling it is
    # proposed. Session 18's cancellation no longer fits, so nothing is chosen for it.
    assert page.locator(f"#id_decision_{seventeen.pk}_1").is_checked()
    assert not page.locator(f"#id_decision_{eighteen.pk}_0").is_checked()
    assert not page.locator(f"#id_decision_{eighteen.pk}_1").is_checked()
    screenshot(page, "preview")
    assert_accessible(page)

    # Confirming without deciding is refused with a message, and changes nothing.
    page.get_by_role("button", name="Move the start date").click()
    page.wait_for_load_state()
    assert page.get_by_role("alert").filter(has_text="Choose what happens to session 18.").count()
    screenshot(page, "decision-missing")
    assert_accessible(page)

    page.locator(f"#id_decision_{eighteen.pk}_1").check()  # hold it on its new planned day
    page.get_by_role("button", name="Move the start date").click()
    page.wait_for_url(f"{live_server.url}{cohort.get_absolute_url()}")
    assert page.get_by_text("The first session is now on").is_visible()
    row_17 = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="17 (week 17)"))
    assert "Cancelled: Bank holiday: May Day" in row_17.inner_text()
    row_18 = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="18 (week 18)"))
    assert "Scheduled" in row_18.inner_text()
    screenshot(page, "decided")
    assert_accessible(page)

    seventeen.refresh_from_db()
    eighteen.refresh_from_db()
    assert (seventeen.date, seventeen.status) == (may_day, GroupSession.Status.CANCELLED)
    assert (eighteen.date, eighteen.status) == (
        may_day + datetime.timedelta(weeks=1),
        GroupSession.Status.SCHEDULED,
    )
