"""A realistic data set: every instrument completed by several people, online and on paper,
with blanks and "not applicable" answers, plus records that must never leave (a voided
administration, an enrolment entered in error, a questionnaire still open)."""

import datetime
import random
from dataclasses import dataclass, field

import pytest
from django.utils import timezone

from accounts.models import Membership
from measures import services
from measures.definitions import NOT_APPLICABLE, all_instruments
from measures.models import Administration, Timepoint
from programmes.models import Enrolment
from tests.dashboards.builders import enrol, make_cohort
from tests.factories import MembershipFactory, ServiceFactory


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    from django.core.cache import caches

    caches["ratelimit"].clear()
    yield
    caches["ratelimit"].clear()


def random_answers(instrument, rng: random.Random) -> dict:
    answers = {}
    for item in instrument.items:
        roll = rng.random()
        if roll < 0.06:
            answers[item.number] = None
        elif item.allows_na and roll < 0.3:
            answers[item.number] = NOT_APPLICABLE
        elif item.count:
            answers[item.number] = rng.randint(0, 6)
        else:
            answers[item.number] = rng.choice(item.option_values)
    return answers


def _administration(enrolment, timepoint, code) -> Administration:
    today = timezone.localdate()
    return Administration.objects.create(
        enrolment=enrolment,
        timepoint=timepoint,
        instrument_code=code,
        due_on=today,
        opens_on=today - datetime.timedelta(days=20),
        closes_on=today + datetime.timedelta(days=10),
        status=Administration.Status.OPEN,
    )


@dataclass
class Dataset:
    service: object
    cohort: object
    clinician: object
    manager: object
    enrolments: list
    answers: dict = field(default_factory=dict)  # administration pk -> answers given
    hidden: list = field(default_factory=list)  # administrations that must not leave


def build_dataset(service, *, people: int = 3, seed: int = 1, timepoints=("baseline",)):
    rng = random.Random(seed)
    clinician = MembershipFactory(service=service, role=Membership.Role.CLINICIAN).user
    manager = MembershipFactory(service=service, role=Membership.Role.MANAGER).user
    cohort = make_cohort(service)
    enrolments = [enrol(cohort) for _ in range(people)]
    data = Dataset(service, cohort, clinician, manager, enrolments)
    tps = {tp.key: tp for tp in Timepoint.objects.filter(programme=cohort.programme)}
    for index, enrolment in enumerate(enrolments):
        for tp_key in timepoints:
            for instrument in all_instruments():
                adm = _administration(enrolment, tps[tp_key], instrument.code)
                answers = random_answers(instrument, rng)
                if (index + len(instrument.code)) % 2 and instrument.code != "service_use":
                    services.response_submit(administration_id=adm.pk, answers=answers)
                else:
                    services.administration_enter(
                        administration=adm,
                        answers=answers,
                        entered_by=clinician,
                        completed_at=timezone.now() - datetime.timedelta(days=1),
                        source=Administration.Source.STAFF
                        if instrument.code == "service_use"
                        else Administration.Source.PAPER,
                    )
                data.answers[adm.pk] = answers
    # Never exported: voided, still open, and an enrolment entered in error.
    first = Administration.objects.filter(enrolment=enrolments[0]).order_by("pk").first()
    services.administration_void(administration=first, reason="wrong person", by=clinician)
    data.hidden.append(first.pk)
    data.answers.pop(first.pk)
    still_open = _administration(enrolments[0], tps["week12"], "phq9")
    data.hidden.append(still_open.pk)
    in_error = enrol(
        cohort, status=Enrolment.Status.ENTERED_IN_ERROR, end_reason="enrolled the wrong person"
    )
    wrong = _administration(in_error, tps["baseline"], "gad7")
    services.administration_enter(
        administration=wrong,
        answers={n: 1 for n in range(1, 8)},
        entered_by=clinician,
        completed_at=timezone.now() - datetime.timedelta(days=1),
    )
    data.hidden.append(wrong.pk)
    return data


@pytest.fixture
def dataset(db):
    return build_dataset(ServiceFactory())


@pytest.fixture
def other_dataset(db):
    return build_dataset(ServiceFactory(), people=1, seed=2)
