"""One rule for "held", walked through a cohort's 52 weeks: past, or today with the register."""

import datetime

import pytest
from django.urls import reverse

from dashboards import pages as dashboard_pages
from programmes import services
from programmes.models import GroupSession, held_q
from programmes.selectors import cohort_overview
from tests.conftest import sign_in
from tests.programmes.conftest import START, at, enrol_many

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_dashboard_cache")]

DAY = datetime.timedelta(days=1)


def _held(overview) -> list[int]:
    return [block.held for block in overview.phases if block.sessions]


def test_the_queryset_the_filter_and_the_row_agree_on_what_is_held(cohort, clinician):
    (person,) = enrol_many(cohort, 1)
    today = START + datetime.timedelta(weeks=3)  # session 4's day
    with at(today):
        services.session_cancel(session=cohort.sessions.get(number=2), reason="Snow")
        services.attendance_record(
            session=cohort.sessions.get(number=3),
            statuses={person.pk: "present"},
            group_note="",
            by=clinician,
        )
    sessions = list(cohort.sessions.all())
    by_rule = {s.number for s in sessions if s.is_held(today)}
    assert by_rule == {1, 3}  # 2 cancelled; 4 today with no register; 5 onwards to come
    assert set(GroupSession.objects.held(today).values_list("number", flat=True)) == by_rule
    assert set(cohort.sessions.filter(held_q(today)).values_list("number", flat=True)) == by_rule
    with at(today):
        services.attendance_record(
            session=cohort.sessions.get(number=4),
            statuses={person.pk: "dna"},
            group_note="",
            by=clinician,
        )
    assert set(GroupSession.objects.held(today).values_list("number", flat=True)) == {1, 3, 4}


def test_walking_the_52_weeks_held_counts_grow_one_session_at_a_time(cohort, clinician):
    """Each session is not held on its morning, held once its register is taken, and still
    held the next day; the daily completion run changes nothing until the day after the
    last session, then completes everyone."""
    people = enrol_many(cohort, 2)
    for session in cohort.sessions.order_by("number"):
        n = session.number
        expected_before = [min(n - 1, 12), max(n - 13, 0)]
        expected_after = [min(n, 12), max(n - 12, 0)]
        with at(session.date, hour=9):
            assert _held(cohort_overview(cohort)) == expected_before, n
            services.attendance_record(
                session=session,
                statuses={e.pk: "present" for e in people},
                group_note="",
                by=clinician,
            )
            assert _held(cohort_overview(cohort)) == expected_after, n
            assert services.enrolments_complete_finished(today=session.date) == 0
        with at(session.date + DAY, hour=2):
            assert _held(cohort_overview(cohort)) == expected_after, n
            completed = services.enrolments_complete_finished(today=session.date + DAY)
            assert completed == (2 if n == 52 else 0), n
    assert set(cohort.enrolments.values_list("status", "ended_on")) == {
        ("completed", cohort.sessions.get(number=52).date)
    }
    # Everyone who completed stayed to the end.
    with at(cohort.sessions.get(number=52).date + 7 * DAY):
        dashboard = dashboard_pages.cohort_dashboard(cohort, show_names=False)
    weeks = {w["week"]: w["enrolled"] for w in dashboard["retention"]["weeks"]}
    assert (weeks[1], weeks[52]) == (2, 2)
    assert [p["sessions"] for p in dashboard["attendance"]["phases"]] == [12, 40]
    assert dashboard["attendance"]["recorded"] == dashboard["attendance"]["attended"] == 104


def test_the_cohort_page_says_how_many_sessions_each_phase_has_held(cohort, clinician, client):
    session_20 = cohort.sessions.get(number=20)
    with at(session_20.date + DAY):
        page = sign_in(client, clinician).get(reverse("programmes:cohort_detail", args=[cohort.pk]))
    text = page.content.decode()
    assert "12 of 12 sessions held so far." in text
    assert "8 of 40 sessions held so far." in text
