import pytest
from django.db import IntegrityError, transaction

from participants.models import Participant
from tests.factories import ParticipantFactory

pytestmark = pytest.mark.django_db


def _raises(name, make):
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        make()
    message = str(exc.value)
    if "CHECK" in message or "violates" in message:
        assert name in message


def test_participant_reference_unique_in_service(service, other_service):
    ParticipantFactory(service=service, reference="R1")
    ParticipantFactory(service=other_service, reference="R1")
    _raises(
        "participant_reference_unique_in_service",
        lambda: ParticipantFactory(service=service, reference="R1"),
    )


def test_participant_nhs_number_unique_in_service(service):
    ParticipantFactory(service=service, nhs_number="9434765919")
    ParticipantFactory(service=service, nhs_number="")
    ParticipantFactory(service=service, nhs_number="")
    _raises(
        "participant_nhs_number_unique_in_service",
        lambda: ParticipantFactory(service=service, nhs_number="9434765919"),
    )


def test_participant_channel_known(service):
    _raises(
        "participant_channel_known",
        lambda: ParticipantFactory(service=service, preferred_channel="pigeon"),
    )


def test_every_participant_constraint_is_tested():
    declared = {c.name for c in Participant._meta.constraints}
    assert declared == {
        "participant_reference_unique_in_service",
        "participant_nhs_number_unique_in_service",
        "participant_channel_known",
    }
