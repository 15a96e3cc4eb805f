import datetime

import pytest
from django.core.exceptions import ValidationError

from programmes import events, services
from programmes.models import Enrolment
from tests.factories import ParticipantFactory
from tests.programmes.conftest import START, enrol_many, make_cohort

pytestmark = pytest.mark.django_db


def test_enrolment_announces_the_start_inside_the_transaction(cohort):
    seen = []

    def receiver(sender, enrolment, **kwargs):
        seen.append((sender, enrolment.pk, Enrolment.objects.filter(pk=enrolment.pk).exists()))

    events.enrolment_started.connect(receiver)
    try:
        enrolment = services.enrolment_create(
            cohort=cohort, participant=ParticipantFactory(service=cohort.service), enrolled_on=START
        )
    finally:
        events.enrolment_started.disconnect(receiver)
    assert seen == [(Enrolment, enrolment.pk, True)]
    assert enrolment.status == Enrolment.Status.ACTIVE


def test_capacity_counts_open_enrolments_only(service, programme):
    cohort = make_cohort(service, programme, capacity=2)
    first, _ = enrol_many(cohort, 2)
    with pytest.raises(ValidationError) as exc:
        enrol_many(cohort, 1)
    assert "This cohort is full: 2 of 2 places are taken" in exc.value.messages[0]
    services.enrolment_end(enrolment=first, status="withdrawn", ended_on=START, reason="Moved away")
    enrol_many(cohort, 1)
    assert cohort.enrolments.filter(status="active").count() == 2


def test_a_participant_is_enrolled_once_at_a_time(cohort):
    (enrolment,) = enrol_many(cohort, 1)
    with pytest.raises(ValidationError) as exc:
        services.enrolment_create(cohort=cohort, participant=enrolment.participant)
    assert "already enrolled" in exc.value.message_dict["participant"][0]


def test_a_participant_from_another_service_cannot_be_enrolled(cohort, other_service):
    with pytest.raises(ValidationError):
        services.enrolment_create(
            cohort=cohort, participant=ParticipantFactory(service=other_service)
        )


def test_ending_an_enrolment_records_date_reason_and_announces_it(cohort):
    (enrolment,) = enrol_many(cohort, 1)
    seen = []

    def receiver(sender, enrolment, **kwargs):
        seen.append(enrolment.status)

    events.enrolment_ended.connect(receiver)
    try:
        services.enrolment_end(
            enrolment=enrolment,
            status="discharged",
            ended_on=datetime.date(2026, 2, 2),
            reason="Admitted to hospital",
        )
    finally:
        events.enrolment_ended.disconnect(receiver)
    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.ended_on, enrolment.end_reason) == (
        "discharged",
        datetime.date(2026, 2, 2),
        "Admitted to hospital",
    )
    assert seen == ["discharged"]


@pytest.mark.parametrize(
    ("status", "ended_on", "reason", "field"),
    [
        ("withdrawn", datetime.date(2026, 2, 2), "", "reason"),
        ("withdrawn", datetime.date(2025, 12, 1), "Moved away", "ended_on"),
        ("active", datetime.date(2026, 2, 2), "x", "status"),
    ],
)
def test_ending_an_enrolment_refuses_bad_input(cohort, status, ended_on, reason, field):
    (enrolment,) = enrol_many(cohort, 1)
    with pytest.raises(ValidationError) as exc:
        services.enrolment_end(enrolment=enrolment, status=status, ended_on=ended_on, reason=reason)
    assert field in exc.value.message_dict
