"""The schedule in UK time: planned due times, quiet hours across the clock changes, one a
day, and nothing after completion, withdrawal, opt-out or the window closing."""

import datetime

import pytest
import time_machine

from measures.models import Administration
from programmes.models import Enrolment
from reminders import schedule
from reminders.models import Message, ReminderPolicy
from reminders.services import message_send, messages_claim, messages_plan
from tests.reminders.conftest import open_window

UTC = datetime.UTC
pytestmark = pytest.mark.django_db


def utc(*args):
    return datetime.datetime(*args, tzinfo=UTC)


def send_due(now):
    claim = messages_claim(now=now, limit=1000, worker="test")
    return {mid: message_send(message_id=mid, claim=claim.token, now=now) for mid in claim.ids}


def planned(enrolment):
    return {m.kind: m for m in Message.objects.filter(enrolment=enrolment)}


# Planning


def test_plan_lays_out_each_kind_at_nine_uk_time_on_its_day(sms_outbox):
    enrolment, _ = open_window(
        opens_on=datetime.date(2026, 5, 4), closes_on=datetime.date(2026, 6, 1)
    )
    messages_plan(today=datetime.date(2026, 5, 4))
    due = {kind: m.due_at for kind, m in planned(enrolment).items()}
    # British Summer Time: 09:00 in London is 08:00 UTC.
    assert due == {
        "invitation": utc(2026, 5, 4, 8),
        "reminder_1": utc(2026, 5, 7, 8),
        "reminder_2": utc(2026, 5, 11, 8),
        "escalation": utc(2026, 5, 13, 8),
        "final": utc(2026, 5, 30, 8),
    }
    assert planned(enrolment)["escalation"].channel == Message.Channel.STAFF
    assert planned(enrolment)["invitation"].channel == Message.Channel.SMS


def test_plan_is_one_message_per_timepoint_not_per_questionnaire(sms_outbox):
    enrolment, _ = open_window(
        opens_on=datetime.date(2026, 5, 4),
        closes_on=datetime.date(2026, 6, 1),
        codes=("core10", "dass21", "fscrs", "fcs"),
    )
    messages_plan(today=datetime.date(2026, 5, 4))
    assert Message.objects.filter(enrolment=enrolment, kind="invitation").count() == 1
    assert Message.objects.filter(enrolment=enrolment).count() == 5


def test_plan_run_twice_creates_nothing_new(sms_outbox):
    open_window(opens_on=datetime.date(2026, 5, 4), closes_on=datetime.date(2026, 6, 1))
    messages_plan(today=datetime.date(2026, 5, 4))
    first = set(Message.objects.values_list("id", "kind", "due_at"))
    assert messages_plan(today=datetime.date(2026, 5, 5)) == 0
    assert set(Message.objects.values_list("id", "kind", "due_at")) == first


def test_plan_follows_the_programmes_own_policy(sms_outbox):
    enrolment, _ = open_window(
        opens_on=datetime.date(2026, 5, 4), closes_on=datetime.date(2026, 6, 1)
    )
    ReminderPolicy.objects.create(
        programme=enrolment.cohort.programme,
        first_reminder_days=2,
        second_reminder_days=5,
        final_reminder_days_before_close=4,
        escalate_days_after_second_reminder=1,
    )
    messages_plan(today=datetime.date(2026, 5, 4))
    days = {kind: m.due_at.date() for kind, m in planned(enrolment).items()}
    assert days == {
        "invitation": datetime.date(2026, 5, 4),
        "reminder_1": datetime.date(2026, 5, 6),
        "reminder_2": datetime.date(2026, 5, 9),
        "escalation": datetime.date(2026, 5, 10),
        "final": datetime.date(2026, 5, 28),
    }


def test_late_enrolment_gets_reminders_counted_from_its_own_invitation(sms_outbox):
    enrolment, _ = open_window(
        opens_on=datetime.date(2026, 5, 4), closes_on=datetime.date(2026, 6, 1)
    )
    messages_plan(today=datetime.date(2026, 5, 12))
    due = {kind: m.due_at for kind, m in planned(enrolment).items()}
    # No burst of overdue reminders, and no reminder lost: each is spaced from the day the
    # person was invited.
    assert due == {
        "invitation": utc(2026, 5, 12, 8),
        "reminder_1": utc(2026, 5, 15, 8),
        "reminder_2": utc(2026, 5, 19, 8),
        "escalation": utc(2026, 5, 21, 8),
        "final": utc(2026, 5, 30, 8),
    }


def test_reminders_that_would_reach_the_final_reminder_are_left_out():
    plan = schedule.planned_messages(
        opens_on=datetime.date(2026, 5, 4),
        closes_on=datetime.date(2026, 6, 1),
        today=datetime.date(2026, 5, 25),
        policy=schedule.DEFAULT_POLICY,
    )
    assert [kind for kind, _ in plan] == ["invitation", "reminder_1", "final"]


def test_reminders_never_count_from_before_the_window_opened():
    # The invitation went for a window that has since moved later.
    plan = dict(
        schedule.planned_messages(
            opens_on=datetime.date(2026, 6, 15),
            closes_on=datetime.date(2026, 7, 13),
            today=datetime.date(2026, 5, 20),
            policy=schedule.DEFAULT_POLICY,
            invited_on=datetime.date(2026, 5, 4),
        )
    )
    assert plan["reminder_1"] == utc(2026, 6, 18, 8)
    assert plan["final"] == utc(2026, 7, 11, 8)


def test_plan_leaves_out_opted_out_ended_and_staff_only(sms_outbox):
    window = {"opens_on": datetime.date(2026, 5, 4), "closes_on": datetime.date(2026, 6, 1)}
    opted_out, _ = open_window(**window, participant__messages_opt_out=True)
    withdrawn, _ = open_window(
        **window, status=Administration.Status.OPEN, enrolled_on=datetime.date(2026, 1, 6)
    )
    Enrolment.objects.filter(pk=withdrawn.pk).update(
        status=Enrolment.Status.WITHDRAWN, ended_on=datetime.date(2026, 5, 1)
    )
    staff_only, _ = open_window(**window, codes=("service_use",))
    messages_plan(today=datetime.date(2026, 5, 4))
    assert not Message.objects.filter(enrolment__in=[opted_out, withdrawn, staff_only]).exists()


@pytest.mark.parametrize(
    ("opens_on", "nine_am_utc"),
    [
        (datetime.date(2026, 3, 29), utc(2026, 3, 29, 8)),  # the clocks went forward at 01:00
        (datetime.date(2026, 10, 25), utc(2026, 10, 25, 9)),  # the clocks went back at 02:00
    ],
)
def test_planned_time_is_nine_local_on_clock_change_days(opens_on, nine_am_utc):
    plan = schedule.planned_messages(
        opens_on=opens_on,
        closes_on=opens_on + datetime.timedelta(days=28),
        today=opens_on,
        policy=schedule.DEFAULT_POLICY,
    )
    assert plan[0] == ("invitation", nine_am_utc)


# Quiet hours across the clock changes


@pytest.mark.parametrize(
    ("now", "outcome", "due_after"),
    [
        # 29 March 2026: 09:10 BST is 08:10 UTC; a fixed-GMT clock would still call it quiet.
        (utc(2026, 3, 29, 8, 10), "sent", None),
        # 08:30 BST is 07:30 UTC: quiet, so it waits for 09:00 BST, which is 08:00 UTC.
        (utc(2026, 3, 29, 7, 30), "deferred", utc(2026, 3, 29, 8)),
        # 20:05 BST is 19:05 UTC: quiet, so the next morning at 09:00 BST.
        (utc(2026, 3, 29, 19, 5), "deferred", utc(2026, 3, 30, 8)),
        # 25 October 2026: 08:30 UTC is 08:30 GMT, still quiet; a fixed-BST clock would send.
        (utc(2026, 10, 25, 8, 30), "deferred", utc(2026, 10, 25, 9)),
        # 19:30 UTC is 19:30 GMT that evening: allowed.
        (utc(2026, 10, 25, 19, 30), "sent", None),
        # The evening before: 19:30 UTC is 20:30 BST, quiet until 09:00 GMT on the 25th.
        (utc(2026, 10, 24, 19, 30), "deferred", utc(2026, 10, 25, 9)),
    ],
)
def test_quiet_hours_on_the_days_the_clocks_change(sms_outbox, now, outcome, due_after):
    day = now.date()
    enrolment, _ = open_window(
        opens_on=day - datetime.timedelta(days=1), closes_on=day + datetime.timedelta(days=20)
    )
    with time_machine.travel(now, tick=False):
        messages_plan(today=day - datetime.timedelta(days=1))
        Message.objects.filter(enrolment=enrolment, kind="invitation").update(
            due_at=now - datetime.timedelta(hours=1)
        )
        results = send_due(now)
    invitation = Message.objects.get(enrolment=enrolment, kind="invitation")
    assert results == {invitation.pk: outcome}
    if outcome == "sent":
        assert invitation.status == Message.Status.SENT
        assert len(sms_outbox.calls) == 1
    else:
        assert invitation.status == Message.Status.PENDING
        assert invitation.due_at == due_after
        assert sms_outbox.calls == []


# One a day, and nothing after the reasons to stop


def test_second_message_the_same_day_waits_for_the_next_morning(sms_outbox):
    now = utc(2026, 5, 4, 10)
    enrolment, _ = open_window(
        opens_on=datetime.date(2026, 5, 4), closes_on=datetime.date(2026, 6, 1)
    )
    open_window(
        enrolment=enrolment,
        timepoint_key="week32",
        opens_on=datetime.date(2026, 5, 4),
        closes_on=datetime.date(2026, 6, 1),
    )
    with time_machine.travel(now, tick=False):
        messages_plan(today=datetime.date(2026, 5, 4))
        results = send_due(now)
    assert sorted(results.values()) == ["deferred", "sent"]
    waiting = Message.objects.get(pk=next(k for k, v in results.items() if v == "deferred"))
    assert waiting.due_at == utc(2026, 5, 5, 8)
    assert len(sms_outbox.calls) == 1
    with time_machine.travel(utc(2026, 5, 5, 8, 1), tick=False):
        assert send_due(utc(2026, 5, 5, 8, 1)) == {waiting.pk: "sent"}
    assert len(sms_outbox.calls) == 2


def _due_reminder(enrolment, now):
    messages_plan(today=schedule.local_day(now))
    reminder = Message.objects.get(enrolment=enrolment, kind="invitation")
    reminder.due_at = now - datetime.timedelta(minutes=5)
    reminder.save()
    return reminder


@pytest.mark.parametrize("reason", ["completed", "enrolment_ended", "opted_out", "window_closed"])
def test_nothing_is_sent_after_a_reason_to_stop(sms_outbox, reason):
    now = utc(2026, 5, 10, 10)
    enrolment, _ = open_window(
        opens_on=datetime.date(2026, 5, 4), closes_on=datetime.date(2026, 6, 1)
    )
    with time_machine.travel(now, tick=False):
        reminder = _due_reminder(enrolment, now)
        if reason == "completed":
            Administration.objects.filter(enrolment=enrolment).update(
                status=Administration.Status.COMPLETED, completed_at=now
            )
        elif reason == "enrolment_ended":
            Enrolment.objects.filter(pk=enrolment.pk).update(
                status=Enrolment.Status.WITHDRAWN, ended_on=datetime.date(2026, 5, 9)
            )
        elif reason == "opted_out":
            enrolment.participant.messages_opt_out = True
            enrolment.participant.save()
    if reason == "window_closed":
        now = utc(2026, 6, 2, 10)
    with time_machine.travel(now, tick=False):
        results = send_due(now)
    reminder.refresh_from_db()
    assert results[reminder.pk] == "cancelled"
    assert set(results.values()) == {"cancelled"}
    assert reminder.status == Message.Status.CANCELLED
    assert reminder.last_error == reason
    assert sms_outbox.calls == []


def test_window_still_open_on_its_closing_day(sms_outbox):
    now = utc(2026, 6, 1, 18)
    enrolment, _ = open_window(
        opens_on=datetime.date(2026, 5, 4), closes_on=datetime.date(2026, 6, 1)
    )
    with time_machine.travel(now, tick=False):
        reminder = _due_reminder(enrolment, utc(2026, 5, 4, 10))
        Message.objects.exclude(pk=reminder.pk).delete()
        assert send_due(now) == {reminder.pk: "sent"}
