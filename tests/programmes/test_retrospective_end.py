"""A withdrawal recorded weeks late is dated the day the person left, and figures use it."""

import datetime

import pytest
from django.urls import reverse
from django.utils.html import escape

from dashboards import figures
from dashboards import pages as dashboard_pages
from programmes import services
from programmes.models import Attendance, Cohort
from programmes.selectors import cohort_overview, participant_history, register_rows
from tests.conftest import sign_in
from tests.programmes.conftest import START, at, enrol_many

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_dashboard_cache")]

# Ruth stops coming after session 5 (Monday 2 February) and tells the team on Wednesday 4
# February that she has left; nobody records it until 20 days later.
LEFT_ON = datetime.date(2026, 2, 4)
RECORDED_ON = LEFT_ON + datetime.timedelta(days=20)  # Tuesday 24 February, after session 8


def _take_registers(cohort, clinician, people, leaver, until: datetime.date):
    """Every register up to `until`, each on its own day: the leaver present until she left,
    then "did not attend" while she is still on the list."""
    for session in cohort.sessions.filter(date__lte=until).order_by("date"):
        with at(session.date):
            listed = {e.pk for e, _ in register_rows(session)}
            statuses = {e.pk: "present" for e in people if e.pk in listed}
            if leaver.pk in listed:
                statuses[leaver.pk] = "present" if session.date <= LEFT_ON else "dna"
            services.attendance_record(
                session=session, statuses=statuses, group_note="", by=clinician
            )


def _row(overview, enrolment):
    return next(r for r in overview.rows if r.enrolment.pk == enrolment.pk)


def test_a_withdrawal_recorded_20_days_late_counts_from_the_day_she_left(cohort, clinician, client):
    *people, ruth = enrol_many(cohort, 3)
    _take_registers(cohort, clinician, people, ruth, until=RECORDED_ON)

    with at(RECORDED_ON):
        before = cohort_overview(cohort)
        # Three DNAs after she left: flagged, 5 of 8 attended.
        assert (_row(before, ruth).overall.attended, _row(before, ruth).overall.recorded) == (5, 8)
        assert _row(before, ruth).flagged
        response = sign_in(client, clinician).post(
            reverse("programmes:enrolment_end", args=[ruth.pk]),
            {"status": "withdrawn", "ended_on": LEFT_ON.isoformat(), "reason": "Moved away"},
        )
        assert response.status_code == 302
        after = cohort_overview(cohort)
        row = _row(after, ruth)
        assert (row.enrolment.status, row.enrolment.ended_on) == ("withdrawn", LEFT_ON)
        assert (row.overall.attended, row.overall.recorded, row.dna_run) == (5, 5, 0)
        assert not row.flagged
        # The whole group: two people at 8 sessions, Ruth at 5, all present.
        assert (after.overall.attended, after.overall.recorded) == (21, 21)
        assert participant_history(ruth.participant)[0]["rate"].recorded == 5
        # Nothing is lost: the three marks after she left are still there.
        assert Attendance.objects.filter(enrolment=ruth).count() == 8

        dashboard = dashboard_pages.cohort_dashboard(cohort, show_names=True)
        person = next(p for p in dashboard["people"] if p.enrolment_id == ruth.pk)
        assert (person.attended, person.recorded) == (5, 5)
        weeks = {w["week"]: w["enrolled"] for w in dashboard["retention"]["weeks"]}
        # Still enrolled at week 5 (2 February), gone by week 6 (9 February).
        assert (weeks[5], weeks[6], weeks[8]) == (3, 2, 2)
        stored = figures.current_figures(Cohort.objects.filter(pk=cohort.pk))[cohort.pk]
        assert stored["attendance"] == [21, 21]

    # The next register no longer lists her.
    session_9 = cohort.sessions.get(number=9)
    with at(session_9.date):
        assert {e.pk for e, _ in register_rows(session_9)} == {e.pk for e in people}


@pytest.mark.parametrize(
    ("ended_on", "message"),
    [
        (
            RECORDED_ON + datetime.timedelta(days=1),
            "The end date cannot be in the future. Give the date the person actually left",
        ),
        (
            START - datetime.timedelta(days=1),
            "The end date cannot be before the enrolment date (5 January 2026).",
        ),
    ],
)
def test_an_end_date_in_the_future_or_before_enrolment_is_a_clear_form_error(
    cohort, clinician, client, ended_on, message
):
    (enrolment,) = enrol_many(cohort, 1)
    with at(RECORDED_ON):
        response = sign_in(client, clinician).post(
            reverse("programmes:enrolment_end", args=[enrolment.pk]),
            {"status": "withdrawn", "ended_on": ended_on.isoformat(), "reason": "Moved away"},
        )
    assert response.status_code == 200
    assert escape(message) in response.content.decode()
    enrolment.refresh_from_db()
    assert enrolment.status == "active"


def test_an_end_date_of_today_or_long_ago_is_accepted(cohort):
    today_leaver, early_leaver = enrol_many(cohort, 2)
    with at(RECORDED_ON):
        services.enrolment_end(
            enrolment=today_leaver, status="discharged", ended_on=RECORDED_ON, reason="Admitted"
        )
        services.enrolment_end(
            enrolment=early_leaver, status="withdrawn", ended_on=START, reason="Never came"
        )
    assert [e.ended_on for e in cohort.enrolments.order_by("pk")] == [RECORDED_ON, START]
