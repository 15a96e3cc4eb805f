"""Planning happens on events, at the moment a window opens or moves, not by the minute's run
scanning every window: each event below changes the messages before any dispatcher run."""

import datetime

import pytest
import time_machine

from measures import services as measures_services
from measures.models import Administration, Timepoint
from participants.services import participant_update
from programmes import services as programmes_services
from reminders import tasks
from reminders.models import Message
from tests.reminders import test_replan
from tests.reminders.test_replan import START, days, enrol, uk

world = test_replan.world  # the fixture: a cohort starting on START

pytestmark = pytest.mark.django_db

# The baseline window of a cohort starting on START runs 8 February to 15 March 2027.
IN_WINDOW = uk(datetime.date(2027, 2, 10), 11)


def pending(enrolment):
    return {
        m.kind: m
        for m in Message.objects.filter(
            enrolment=enrolment, timepoint__key="baseline", status="pending"
        )
    }


def test_enrolling_into_an_open_window_plans_its_messages_at_once(world):
    enrolment = enrol(world, IN_WINDOW)
    planned = pending(enrolment)
    assert set(planned) == {"invitation", "reminder_1", "reminder_2", "final", "escalation"}
    # Due today (from 09:00, so at once), not at the next minute's scan.
    assert planned["invitation"].due_at == uk(IN_WINDOW.date(), 9)


def test_a_window_opening_plans_its_messages(world):
    enrolment = enrol(world, uk(datetime.date(2027, 2, 1), 10))
    assert pending(enrolment) == {}
    with time_machine.travel(uk(datetime.date(2027, 2, 8), 9), tick=False):
        measures_services.administrations_open_due(today=datetime.date(2027, 2, 8))
    assert pending(enrolment)["invitation"].due_at == uk(datetime.date(2027, 2, 8), 9)


def test_a_start_move_re_dates_pending_messages(world):
    enrolment = enrol(world, IN_WINDOW)
    before = pending(enrolment)["final"].due_at
    with time_machine.travel(IN_WINDOW, tick=False):
        programmes_services.cohort_start_move(cohort=world, new_start_date=START + days(7))
    assert pending(enrolment)["final"].due_at == before + days(7)


def test_a_withdrawal_cancels_pending_messages(world):
    enrolment = enrol(world, IN_WINDOW)
    with time_machine.travel(IN_WINDOW, tick=False):
        programmes_services.enrolment_end(
            enrolment=enrolment,
            status="withdrawn",
            ended_on=IN_WINDOW.date(),
            reason="Moved away",
        )
    assert pending(enrolment) == {}
    assert set(
        Message.objects.filter(enrolment=enrolment).values_list("last_error", flat=True)
    ) == {"enrolment_ended"}


def test_an_opt_out_cancels_and_a_channel_change_moves_pending_messages(world):
    enrolment = enrol(world, IN_WINDOW)
    participant = enrolment.participant
    assert {m.channel for m in pending(enrolment).values() if m.kind != "escalation"} == {
        participant.preferred_channel
    }
    other = "email" if participant.preferred_channel == "sms" else "sms"
    with time_machine.travel(IN_WINDOW, tick=False):
        participant_update(participant=participant, preferred_channel=other)
    assert {m.channel for m in pending(enrolment).values() if m.kind != "escalation"} == {other}
    with time_machine.travel(IN_WINDOW, tick=False):
        participant_update(participant=participant, messages_opt_out=True)
    assert pending(enrolment) == {}


def test_the_minutes_run_does_not_scan_windows_for_messages(
    world, sms_outbox, django_capture_on_commit_callbacks
):
    """A window written straight to the table, with no event, gets nothing from the run:
    the run only opens, expires, sweeps and sends what is due."""
    enrolment = enrol(world, uk(datetime.date(2027, 1, 4), 10))
    Message.objects.filter(enrolment=enrolment).delete()
    Administration.objects.filter(enrolment=enrolment).delete()
    Administration.objects.create(
        enrolment=enrolment,
        timepoint=Timepoint.objects.get(programme=world.programme, key="baseline"),
        instrument_code="core10",
        opens_on=datetime.date(2027, 2, 8),
        closes_on=datetime.date(2027, 3, 15),
        due_on=START,
        status=Administration.Status.OPEN,
    )
    with (
        time_machine.travel(IN_WINDOW, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        report = tasks.dispatch(now=IN_WINDOW, enqueue=lambda claim: None, seconds=0)
    assert report["claimed"] == 0
    assert not Message.objects.filter(enrolment=enrolment).exists()
