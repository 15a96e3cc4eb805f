"""Retention reaches only the people every registered layer counts as finished."""

import datetime as dt
import importlib

import pytest
from django.conf import settings

from config.celery import app
from participants.models import Participant
from participants.retention import FinishedRegistry
from tests.factories import ParticipantFactory

pytestmark = pytest.mark.django_db
CUTOFF = dt.date(2027, 1, 1)


def test_with_no_provider_nobody_counts_as_finished(service):
    ParticipantFactory(service=service)
    registry = FinishedRegistry()
    assert list(registry.finished_before(Participant.objects.all(), CUTOFF)) == []


def test_a_participant_must_be_finished_for_every_provider(service):
    both, only_one, _unfinished = (ParticipantFactory(service=service) for _ in range(3))
    registry = FinishedRegistry()
    registry.register("a", lambda cutoff: Participant.objects.filter(pk__in=[both.pk, only_one.pk]))
    registry.register("b", lambda cutoff: Participant.objects.filter(pk=both.pk))
    assert list(registry.finished_before(Participant.objects.all(), CUTOFF)) == [both]


def test_providers_are_asked_for_the_cutoff(service):
    person = ParticipantFactory(service=service)
    asked = []
    registry = FinishedRegistry()
    registry.register("a", lambda cutoff: asked.append(cutoff) or Participant.objects.all())
    assert list(registry.finished_before(Participant.objects.all(), CUTOFF)) == [person]
    assert asked == [CUTOFF]


def test_the_daily_task_is_scheduled_under_its_new_name():
    entry = settings.CELERY_BEAT_SCHEDULE["participants-retention-blank-contacts"]
    assert entry["task"] == "participants.tasks.retention_blank_contacts"
    # Imported as the worker's autodiscovery would. Not through the Celery loader's
    # import_default_modules: in the test process that left log records reaching a writer
    # without the redacting filter (the canary scan caught a token).
    importlib.import_module("participants.tasks")
    assert entry["task"] in app.tasks
