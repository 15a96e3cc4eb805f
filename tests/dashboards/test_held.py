"""The dashboards count a session as held only once it is past (or today, register taken)."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse

from dashboards import figures, pages, warm
from programmes.models import Cohort, GroupSession
from programmes.services import attendance_record
from tests.dashboards.builders import START, enrol, make_cohort, mark

pytestmark = pytest.mark.django_db


def _noon(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(12, 0), tzinfo=datetime.UTC)


def _held(cohort) -> dict[str, int]:
    phases = pages.cohort_dashboard(cohort, show_names=False)["attendance"]["phases"]
    return {p["name"]: p["sessions"] for p in phases}


def _page_held(client, cohort) -> list[int]:
    """The "Sessions held" column of the attendance-by-phase table, as the page shows it."""
    response = client.get(reverse("dashboards:cohort", args=[cohort.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    table = page[page.index("<caption>Attendance by phase</caption>") :]
    table = table[: table.index("</table>")]
    return [int(n) for n in re.findall(r'<th scope="row">[^<]+</th><td>(\d+)</td>', table)]


def test_a_cohort_at_session_20_has_held_8_trauma_group_sessions_not_40(service):
    cohort = make_cohort(service, sessions=52)
    # The day after session 20 (week 20).
    with time_machine.travel(_noon(cohort.week_date(20) + datetime.timedelta(days=1)), tick=False):
        held = _held(cohort)
    assert list(held.values()) == [12, 8]


def test_a_cohort_in_preparation_has_held_9_sessions_not_12(service, clinician):
    cohort = make_cohort(service, sessions=52)
    person = enrol(cohort)
    session_9 = GroupSession.objects.get(cohort=cohort, number=9)
    with time_machine.travel(_noon(session_9.date), tick=False):
        # Today's session counts once its register is taken, not before.
        assert list(_held(cohort).values()) == [8, 0]
        attendance_record(
            session=session_9, statuses={person.pk: "present"}, group_note="", by=clinician
        )
        assert list(_held(cohort).values()) == [9, 0]


def test_the_cached_dashboard_counts_one_more_week_held_a_week_later(
    service, clinician, persona_client
):
    cohort = make_cohort(service, sessions=52)
    person = enrol(cohort)
    mark(cohort, person, ["present"] * 10)
    day = cohort.week_date(15) + datetime.timedelta(days=2)  # the Wednesday after session 15
    with time_machine.travel(_noon(day), tick=False):
        client = persona_client(clinician)
        assert _page_held(client, cohort) == [12, 3]
        assert _page_held(client, cohort) == [12, 3]  # again, from the cache
    # Nothing written in between: only the days have passed (signed in again each time).
    with time_machine.travel(_noon(day + datetime.timedelta(days=7)), tick=False):
        assert _page_held(persona_client(clinician), cohort) == [12, 4]
    with time_machine.travel(_noon(day + datetime.timedelta(weeks=40)), tick=False):
        assert _page_held(persona_client(clinician), cohort) == [12, 40]


def test_marks_on_sessions_not_yet_held_do_not_count(service):
    """Registers can only be taken on the day or after it; a mark on a later session (from an
    import, say) waits until that session is held."""
    cohort = make_cohort(service, sessions=12, start=START)
    person = enrol(cohort)
    mark(cohort, person, ["present", "dna", "present", "present"])
    with time_machine.travel(_noon(cohort.week_date(2) + datetime.timedelta(days=1)), tick=False):
        data = pages.cohort_dashboard(cohort, show_names=False)
        peg = data["attendance"]["phases"][0]
        assert (peg["sessions"], peg["registers"], peg["recorded"], peg["attended"]) == (
            2,
            2,
            2,
            1,
        )
        assert (data["people"][0].attended, data["people"][0].recorded) == (1, 2)


def test_the_service_figures_count_a_newly_held_session_the_next_day(service):
    """Stored per-cohort figures worked out on an earlier day are worked out again, by the
    first reader or by the background refresh, without any write in between."""
    cohort = make_cohort(service, sessions=12)
    person = enrol(cohort)
    # Marks already on sessions 1-4 (as an import might leave them); 4 is a DNA.
    mark(cohort, person, ["present", "present", "present", "dna"])
    cohorts = Cohort.objects.filter(pk=cohort.pk)
    with time_machine.travel(_noon(cohort.week_date(3) + datetime.timedelta(days=1)), tick=False):
        assert figures.current_figures(cohorts)[cohort.pk]["attendance"] == [3, 3]
        assert not warm.stale_cohorts().exists()
    with time_machine.travel(_noon(cohort.week_date(4) + datetime.timedelta(days=1)), tick=False):
        assert list(warm.stale_cohorts()) == [cohort]
        assert warm.refresh_stale() == {"services": 1, "cohorts": 1}
        assert not warm.stale_cohorts().exists()
        assert figures.current_figures(cohorts)[cohort.pk]["attendance"] == [4, 3]
