import datetime

import pytest

from measures.models import Administration, Timepoint
from reminders.channels.sms import LocmemSmsBackend
from tests.factories import EnrolmentFactory

UTC = datetime.UTC


def open_window(
    *,
    opens_on: datetime.date,
    closes_on: datetime.date,
    enrolment=None,
    timepoint_key: str = "week12",
    codes=("core10", "dass21"),
    status=Administration.Status.OPEN,
    **enrolment_kwargs,
):
    """One participant's questionnaires at one timepoint, open from opens_on to closes_on."""
    enrolment = enrolment or EnrolmentFactory(**enrolment_kwargs)
    timepoint = Timepoint.objects.get(programme=enrolment.cohort.programme, key=timepoint_key)
    for code in codes:
        Administration.objects.create(
            enrolment=enrolment,
            timepoint=timepoint,
            instrument_code=code,
            opens_on=opens_on,
            closes_on=closes_on,
            due_on=opens_on + datetime.timedelta(days=7),
            status=status,
        )
    return enrolment, timepoint


@pytest.fixture
def sms_outbox(settings):
    settings.SMS_BACKEND = "reminders.channels.sms.LocmemSmsBackend"
    LocmemSmsBackend.calls = []
    LocmemSmsBackend.delivered = {}
    return LocmemSmsBackend
