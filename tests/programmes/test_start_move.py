"""Moving a cohort's start date: a date is a decision (DESIGN.md, "Time, ends and corrections").

A Monday cohort starting on 4 January 2027 meets on Easter Monday (29 March, session 13),
May Day (3 May, session 18), the Spring Bank Holiday (31 May, session 22), the Late Summer
Bank Holiday (30 August, session 35) and Christmas Day (observed) (27 December, session 52).
Moving its start a week later lands sessions 12, 17, 21, 34 and 51 on those days instead.
"""

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError

from programmes import services
from programmes.models import GroupSession
from tests.programmes.conftest import LONDON, make_cohort

pytestmark = pytest.mark.django_db

D = datetime.date
START = D(2027, 1, 4)
WEEK_LATER = D(2027, 1, 11)


@pytest.fixture
def before_it_starts():
    with time_machine.travel(datetime.datetime(2026, 12, 1, 9, 0, tzinfo=LONDON), tick=False):
        yield D(2026, 12, 1)


@pytest.fixture
def cohort_2027(service, programme, before_it_starts):
    return make_cohort(service, programme, name="Monday group 2027", start=START)


def _session(cohort, number):
    return cohort.sessions.get(number=number)


def _decided_around_bank_holidays(cohort):
    """Session 18 cancelled for May Day; session 13 moved off Easter Monday to the Tuesday."""
    services.session_cancel(session=_session(cohort, 18), reason="May Day")
    services.session_move(
        session=_session(cohort, 13),
        new_date=D(2027, 3, 30),
        reason="Easter Monday: moved to Tuesday",
    )


# Failure 2 of issue 11 ------------------------------------------------------------------


def test_moving_the_start_does_not_drag_bank_holiday_decisions_onto_ordinary_days(cohort_2027):
    _decided_around_bank_holidays(cohort_2027)

    with pytest.raises(ValidationError) as refused:
        services.cohort_start_move(cohort=cohort_2027, new_start_date=WEEK_LATER)

    message = " ".join(refused.value.messages)
    assert "13" in message and "18" in message
    cohort_2027.refresh_from_db()
    assert cohort_2027.start_date == START
    may_day = _session(cohort_2027, 18)
    assert (may_day.date, may_day.status) == (D(2027, 5, 3), GroupSession.Status.CANCELLED)
    assert _session(cohort_2027, 17).date == D(2027, 4, 26)
