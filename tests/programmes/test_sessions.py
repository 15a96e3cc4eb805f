import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError

from programmes import events, services
from programmes.models import GroupSession
from tests.programmes.conftest import LONDON, START

pytestmark = pytest.mark.django_db


@pytest.fixture
def first_session_day():
    with time_machine.travel(datetime.datetime(2026, 1, 5, 18, 0, tzinfo=LONDON), tick=False):
        yield START


def _dates(cohort):
    return dict(cohort.sessions.values_list("number", "date"))


def test_moving_a_session_keeps_every_other_date(cohort):
    before = _dates(cohort)
    easter = cohort.sessions.get(date=datetime.date(2026, 4, 6))
    services.session_move(
        session=easter, new_date=datetime.date(2026, 4, 7), reason="Easter Monday"
    )
    after = _dates(cohort)
    assert after.pop(easter.number) == datetime.date(2026, 4, 7)
    before.pop(easter.number)
    assert after == before
    easter.refresh_from_db()
    assert easter.status == GroupSession.Status.MOVED
    assert easter.change_reason == "Easter Monday"
    assert easter.planned_date == datetime.date(2026, 4, 6)
    assert easter.bank_holiday == ""


def test_a_session_cannot_move_onto_another_sessions_date(cohort):
    first, second = cohort.sessions.order_by("number")[:2]
    with pytest.raises(ValidationError) as exc:
        services.session_move(session=first, new_date=second.date, reason="Room booked")
    assert "Session 2 of this cohort is already on" in exc.value.message_dict["new_date"][0]
    first.refresh_from_db()
    assert first.status == GroupSession.Status.SCHEDULED


def test_a_cancelled_sessions_date_is_free_for_another(cohort):
    first, second = cohort.sessions.order_by("number")[:2]
    services.session_cancel(session=second, reason="Facilitators on leave")
    services.session_move(session=first, new_date=second.date, reason="Room booked")
    first.refresh_from_db()
    assert first.date == second.date


def test_moving_or_cancelling_needs_a_reason(cohort):
    session = cohort.sessions.get(number=3)
    with pytest.raises(ValidationError):
        services.session_move(session=session, new_date=datetime.date(2026, 1, 20), reason=" ")
    with pytest.raises(ValidationError):
        services.session_cancel(session=session, reason="")


def test_moving_the_start_date_moves_sessions_not_yet_held_and_announces_it(
    cohort, clinician, first_session_day
):
    held = cohort.sessions.get(number=1)
    services.attendance_record(session=held, statuses={}, group_note="", by=clinician)
    received = []

    def receiver(sender, cohort, previous_start_date, **kwargs):
        received.append((cohort.pk, previous_start_date, cohort.start_date))

    events.cohort_rescheduled.connect(receiver)
    try:
        before = _dates(cohort)
        services.cohort_start_move(cohort=cohort, new_start_date=datetime.date(2026, 1, 13))
    finally:
        events.cohort_rescheduled.disconnect(receiver)
    after = _dates(cohort)
    assert after[1] == before[1]
    assert all(after[n] == before[n] + datetime.timedelta(days=8) for n in range(2, 53))
    cohort.refresh_from_db()
    assert cohort.start_date == datetime.date(2026, 1, 13)
    assert cohort.weekday == 1
    assert received == [(cohort.pk, datetime.date(2026, 1, 5), datetime.date(2026, 1, 13))]
    assert cohort.sessions.get(date=datetime.date(2026, 4, 7)).bank_holiday == ""


def test_moving_the_start_date_back_onto_a_held_session_is_refused(
    cohort, clinician, first_session_day
):
    services.attendance_record(
        session=cohort.sessions.get(number=1), statuses={}, group_note="", by=clinician
    )
    with pytest.raises(ValidationError) as exc:
        services.cohort_start_move(cohort=cohort, new_start_date=datetime.date(2025, 12, 29))
    assert "session 2" in exc.value.message_dict["new_start_date"][0]


def test_a_session_whose_register_is_taken_cannot_be_moved(cohort, clinician, frozen_today):
    session = cohort.sessions.get(number=1)
    services.attendance_record(session=session, statuses={}, group_note="", by=clinician)
    with pytest.raises(ValidationError):
        services.session_move(session=session, new_date=datetime.date(2026, 1, 6), reason="x")
