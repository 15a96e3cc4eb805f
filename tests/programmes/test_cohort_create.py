import datetime

import pytest
from django.core.exceptions import ValidationError

from programmes.models import GroupSession
from tests.factories import MembershipFactory
from tests.programmes.conftest import START, make_cohort

pytestmark = pytest.mark.django_db


def test_default_programme_lays_out_52_weekly_sessions_with_phases_and_themes(cohort, programme):
    sessions = list(cohort.sessions.select_related("phase").order_by("number"))
    assert len(sessions) == 52
    assert [s.number for s in sessions] == list(range(1, 53))
    assert [s.week for s in sessions] == list(range(1, 53))
    for s in sessions:
        assert s.date == s.planned_date == START + datetime.timedelta(weeks=s.week - 1)
        assert s.date.weekday() == 0
        assert s.status == GroupSession.Status.SCHEDULED
        assert s.start_time == datetime.time(10, 0)
    assert {s.phase.name for s in sessions[:12]} == {"Preparation and Engagement Group"}
    assert {s.phase.name for s in sessions[12:]} == {"Compassion Focused Trauma Group"}
    assert sessions[0].theme.startswith("Welcome: making the group a safe place")
    assert sessions[11].theme.startswith("Looking back, looking ahead")
    assert sessions[12].theme.startswith("Forming the trauma group")
    assert sessions[51].theme.startswith("Endings")
    assert all(s.phase.programme_id == programme.pk for s in sessions)


def test_sessions_on_bank_holidays_in_england_and_wales_are_flagged(cohort):
    flagged = dict(cohort.sessions.exclude(bank_holiday="").values_list("date", "bank_holiday"))
    assert flagged == {
        datetime.date(2026, 4, 6): "Easter Monday",
        datetime.date(2026, 5, 4): "May Day",
        datetime.date(2026, 5, 25): "Spring Bank Holiday",
        datetime.date(2026, 8, 31): "Late Summer Bank Holiday",
        datetime.date(2026, 12, 28): "Boxing Day (observed)",
    }


def test_preparation_then_usual_care_lays_out_only_the_12_preparation_sessions(
    service, usual_care_programme
):
    cohort = make_cohort(service, usual_care_programme, name="Comparison")
    sessions = list(cohort.sessions.select_related("phase").order_by("number"))
    assert len(sessions) == 12
    assert sessions[-1].date == START + datetime.timedelta(weeks=11)
    assert {s.phase.kind for s in sessions} == {"preparation"}


def test_start_date_must_fall_on_the_chosen_weekday(service, programme):
    with pytest.raises(ValidationError) as exc:
        make_cohort(service, programme, weekday=2)
    assert "not a Wednesday" in exc.value.message_dict["start_date"][0]


def test_facilitators_must_be_clinicians_of_the_cohorts_service(
    service, programme, clinician, other_clinician, manager
):
    cohort = make_cohort(service, programme, facilitators=[clinician])
    assert list(cohort.facilitators.all()) == [clinician]
    for outsider in (other_clinician, manager):
        with pytest.raises(ValidationError) as exc:
            make_cohort(service, programme, name=f"x{outsider.pk}", facilitators=[outsider])
        assert "facilitators" in exc.value.message_dict


def test_a_superseded_programme_version_cannot_start_a_cohort(service, programme, admin_user):
    from programmes.services import shared_programme_revise

    shared_programme_revise(key=programme.key, by=admin_user, name="Renamed")
    programme.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        make_cohort(service, programme)
    assert "newer version" in exc.value.message_dict["programme"][0]


def test_a_clinician_in_two_services_may_facilitate_in_either(service, other_service, programme):
    member = MembershipFactory(service=service).user
    MembershipFactory(service=other_service, user=member)
    cohort = make_cohort(other_service, programme, facilitators=[member])
    assert cohort.facilitators.get() == member
