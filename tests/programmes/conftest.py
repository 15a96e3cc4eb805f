import datetime
import zoneinfo

import pytest
import time_machine

from programmes import services
from programmes.models import Programme
from tests.factories import ParticipantFactory

LONDON = zoneinfo.ZoneInfo("Europe/London")
# A Monday: the default programme's sessions then cross Easter Monday (6 April 2026) and
# the early and late May bank holidays.
START = datetime.date(2026, 1, 5)
TODAY = datetime.date(2026, 3, 2)  # session 9, in the preparation phase


def at(day: datetime.date, hour: int = 12):
    """Time frozen at `hour` o'clock in London on `day`."""
    return time_machine.travel(
        datetime.datetime.combine(day, datetime.time(hour, 0), tzinfo=LONDON), tick=False
    )


@pytest.fixture
def empty_dashboard_cache():
    """The dashboards' cache, empty before and after (its keys name cohort ids, which repeat
    between tests)."""
    from dashboards.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def frozen_today():
    with time_machine.travel(datetime.datetime(2026, 3, 2, 12, 0, tzinfo=LONDON), tick=False):
        yield TODAY


@pytest.fixture
def programme(db):
    return Programme.objects.get(key="cfgp-52", is_current=True)


@pytest.fixture
def usual_care_programme(db):
    return Programme.objects.get(key="peg-usual-care", is_current=True)


def make_cohort(service, programme, *, name="Monday group", start=START, capacity=10, **kw):
    return services.cohort_create(
        service=service,
        programme=programme,
        name=name,
        start_date=start,
        start_time=datetime.time(10, 0),
        venue="Room 2",
        capacity=capacity,
        **kw,
    )


@pytest.fixture
def cohort(service, programme):
    return make_cohort(service, programme)


def enrol_many(cohort, count, *, enrolled_on=START):
    return [
        services.enrolment_create(
            cohort=cohort,
            participant=ParticipantFactory(service=cohort.service),
            enrolled_on=enrolled_on,
        )
        for _ in range(count)
    ]
