import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from measures import links, services
from measures.models import Administration
from tests.factories import CohortFactory, EnrolmentFactory

# The demo cohort starts on Tuesday 6 January 2026; on the 8th its baseline window is open.
START = datetime.date(2026, 1, 6)
TODAY = datetime.datetime(2026, 1, 8, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # Rate-limit counters live in the cache, which outlives a test's database.
    from django.core.cache import cache, caches

    cache.clear()
    caches["ratelimit"].clear()


@pytest.fixture
def frozen():
    with time_machine.travel(TODAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def cohort(service, clinician):
    cohort = CohortFactory(service=service, start_date=START)
    cohort.facilitators.add(clinician)
    return cohort


@pytest.fixture
def enrolment(cohort, frozen):
    enrolment = EnrolmentFactory(cohort=cohort, enrolled_on=START)
    services.administrations_lay_out(enrolment=enrolment)
    return enrolment


@pytest.fixture
def participant(enrolment):
    return enrolment.participant


def administration(enrolment, code, timepoint="baseline") -> Administration:
    return Administration.objects.get(
        enrolment=enrolment, instrument_code=code, timepoint__key=timepoint
    )


def issue(participant, days=14) -> str:
    return links.link_issue(
        participant=participant, expires_at=timezone.now() + datetime.timedelta(days=days)
    )


def exchange(client, token):
    """Open the link and press Start, as a participant would."""
    client.get(reverse("questionnaire:landing", args=[token]))
    return client.post(reverse("questionnaire:start"), {"token": token})


def answer_page(client, adm, number, value=1, instrument=None):
    from measures.definitions import get_instrument

    instrument = instrument or get_instrument(adm.instrument_code)
    items = instrument.pages()[number - 1]
    data = {f"item_{item.number}": str(value) for item in items}
    return client.post(reverse("questionnaire:page", args=[adm.pk, number]), data)


def answer_all(client, adm, value=1):
    from measures.definitions import get_instrument

    for number in range(1, len(get_instrument(adm.instrument_code).pages()) + 1):
        answer_page(client, adm, number, value)


def phq9_and_gad7(enrolment) -> list[Administration]:
    """Make PHQ-9 then GAD-7 the only baseline questionnaires due online (the others are
    cancelled), as a service asking for that pair would."""
    core10 = administration(enrolment, "core10")
    Administration.objects.filter(enrolment=enrolment).exclude(pk=core10.pk).update(
        status=Administration.Status.CANCELLED
    )
    made = [
        Administration.objects.create(
            enrolment=enrolment,
            timepoint=core10.timepoint,
            instrument_code=code,
            due_on=core10.due_on,
            opens_on=core10.opens_on,
            closes_on=core10.closes_on,
            status=Administration.Status.OPEN,
        )
        for code in ("phq9", "gad7")
    ]
    core10.status = Administration.Status.CANCELLED
    core10.save(update_fields=["status"])
    return made
