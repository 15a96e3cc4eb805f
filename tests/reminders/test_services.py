"""Claiming, sending, retries, sweeping, escalation, channels, wording and constraints."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, connection, transaction

from measures.models import Administration
from reminders import services, tasks
from reminders.channels import TransientSendError
from reminders.channels.sms import LocmemSmsBackend
from reminders.models import Escalation, Message, MessageTemplate, ReminderPolicy
from reminders.services import (
    message_send,
    messages_claim,
    messages_plan,
    messages_release,
    messages_sweep_stuck,
)
from tests.factories import UserFactory
from tests.reminders.conftest import open_window

UTC = datetime.UTC
NOW = datetime.datetime(2026, 5, 12, 10, tzinfo=UTC)  # 11:00 BST
pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def invitation(**kwargs):
    enrolment, _ = open_window(
        opens_on=datetime.date(2026, 5, 12), closes_on=datetime.date(2026, 6, 9), **kwargs
    )
    messages_plan(today=datetime.date(2026, 5, 12))
    return Message.objects.get(enrolment=enrolment, kind="invitation")


def test_two_claims_never_share_a_row(sms_outbox, frozen):
    for _ in range(6):
        invitation()
    first = messages_claim(now=NOW, limit=4, worker="a")
    second = messages_claim(now=NOW, limit=10, worker="b")
    assert len(first.ids) == 4
    assert len(second.ids) == 2
    assert not set(first.ids) & set(second.ids)
    assert messages_claim(now=NOW, limit=10, worker="c").ids == []
    assert set(Message.objects.filter(kind="invitation").values_list("status", flat=True)) == {
        "sending"
    }


def test_claim_takes_only_due_rows(sms_outbox, frozen):
    message = invitation()
    Message.objects.filter(pk=message.pk).update(due_at=NOW + datetime.timedelta(seconds=1))
    assert messages_claim(now=NOW, limit=10, worker="a").ids == []


def test_send_twice_calls_the_provider_once(sms_outbox, frozen):
    message = invitation()
    claim = messages_claim(now=NOW, limit=10, worker="a")
    assert message_send(message_id=message.pk, claim=claim.token) == "sent"
    assert message_send(message_id=message.pk, claim=claim.token) == "skipped"
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.sent_at == NOW
    assert message.provider_reference == f"locmem:{message.reference}"
    assert [c["reference"] for c in sms_outbox.calls] == [str(message.reference)]


def test_a_stale_claim_does_nothing(sms_outbox, frozen):
    message = invitation()
    messages_claim(now=NOW, limit=10, worker="a")
    assert message_send(message_id=message.pk, claim="someone-else:1") == "skipped"
    assert sms_outbox.calls == []


def test_transient_failures_retry_then_fail_and_free_the_day(settings, frozen, monkeypatch):
    settings.REMINDERS_MAX_ATTEMPTS = 3
    settings.SMS_BACKEND = "reminders.channels.sms.LocmemSmsBackend"

    def unavailable(self, **kwargs):
        raise TransientSendError("fake_unavailable")

    monkeypatch.setattr(LocmemSmsBackend, "send", unavailable)
    message = invitation()
    claim = messages_claim(now=NOW, limit=10, worker="a")
    for _ in range(2):
        with pytest.raises(TransientSendError):
            message_send(message_id=message.pk, claim=claim.token)
    assert message_send(message_id=message.pk, claim=claim.token) == "failed"
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (
        "failed",
        3,
        "fake_unavailable",
    )
    assert message.day_slot is None


def test_sweep_returns_stuck_rows_and_fails_exhausted_ones(sms_outbox, settings, frozen):
    settings.REMINDERS_MAX_ATTEMPTS = 2
    fresh, stuck, exhausted = invitation(), invitation(), invitation()
    messages_claim(now=NOW - datetime.timedelta(minutes=30), limit=10, worker="dead")
    Message.objects.filter(pk=fresh.pk).update(claimed_at=NOW)
    Message.objects.filter(pk=exhausted.pk).update(attempts=2)
    assert messages_sweep_stuck(now=NOW, older_than=datetime.timedelta(minutes=15)) == 2
    statuses = dict(Message.objects.filter(kind="invitation").values_list("pk", "status"))
    assert statuses == {fresh.pk: "sending", stuck.pk: "pending", exhausted.pk: "failed"}


def test_a_late_result_from_a_swept_worker_still_counts_as_sent(sms_outbox, frozen):
    message = invitation()
    claim = messages_claim(now=NOW, limit=10, worker="slow")
    outgoing = services._prepare(message_id=message.pk, claim=claim.token, now=NOW)
    messages_sweep_stuck(now=NOW + datetime.timedelta(hours=1), older_than=datetime.timedelta(0))
    services._record_sent(outgoing, provider_reference="x", now=NOW)
    message.refresh_from_db()
    assert message.status == "sent"
    assert messages_claim(now=NOW, limit=10, worker="next").ids == []


def test_release_gives_claimed_rows_back(sms_outbox, frozen):
    message = invitation()
    claim = messages_claim(now=NOW, limit=10, worker="a")
    assert messages_release(ids=claim.ids, claim=claim.token) == 1
    message.refresh_from_db()
    assert (message.status, message.claimed_by) == ("pending", "")


def test_preferred_channel_missing_falls_back_to_the_other(sms_outbox, frozen):
    message = invitation(participant__mobile="", participant__preferred_channel="sms")
    claim = messages_claim(now=NOW, limit=10, worker="a")
    assert message_send(message_id=message.pk, claim=claim.token) == "sent"
    message.refresh_from_db()
    assert message.channel == "email"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [message.participant.email]
    assert sms_outbox.calls == []


def test_no_address_at_all_cancels(sms_outbox, frozen):
    message = invitation(participant__mobile="", participant__email="")
    claim = messages_claim(now=NOW, limit=10, worker="a")
    assert message_send(message_id=message.pk, claim=claim.token) == "cancelled"
    message.refresh_from_db()
    assert message.last_error == "no_contact"


def test_the_link_expires_when_the_window_closes(sms_outbox, frozen):
    message = invitation()
    claim = messages_claim(now=NOW, limit=10, worker="a")
    message_send(message_id=message.pk, claim=claim.token)
    link = message.participant.links.get()
    # 9 June is a BST day: the window is open to midnight, 23:00 UTC.
    assert link.expires_at == datetime.datetime(2026, 6, 9, 23, tzinfo=UTC)
    assert "/q/" in sms_outbox.calls[0]["body"]


def test_escalation_tells_the_facilitators_without_identifying_anyone(sms_outbox, frozen):
    facilitator = UserFactory(email="facilitator@example.nhs.uk")
    enrolment, timepoint = open_window(
        opens_on=datetime.date(2026, 5, 1), closes_on=datetime.date(2026, 6, 9)
    )
    enrolment.cohort.facilitators.add(facilitator)
    messages_plan(today=datetime.date(2026, 5, 1))
    Message.objects.filter(enrolment=enrolment, kind="reminder_2").update(
        status="sent", sent_at=NOW, day_slot=datetime.date(2026, 5, 8)
    )
    Message.objects.filter(enrolment=enrolment).exclude(kind="escalation").exclude(
        kind="reminder_2"
    ).delete()
    claim = messages_claim(now=NOW, limit=10, worker="a")
    escalation = Message.objects.get(enrolment=enrolment, kind="escalation")
    assert claim.ids == [escalation.pk]
    assert message_send(message_id=escalation.pk, claim=claim.token) == "sent"
    task = Escalation.objects.get()
    assert (task.enrolment, task.timepoint, task.message) == (enrolment, timepoint, escalation)
    assert mail.outbox[0].to == [facilitator.email]
    participant = enrolment.participant
    for secret in (participant.given_name, participant.family_name, participant.reference):
        assert secret not in mail.outbox[0].body
        assert secret not in mail.outbox[0].subject


def test_escalation_waits_while_the_second_reminder_is_pending(sms_outbox, frozen):
    enrolment, _ = open_window(
        opens_on=datetime.date(2026, 5, 1), closes_on=datetime.date(2026, 6, 9)
    )
    messages_plan(today=datetime.date(2026, 5, 1))
    Message.objects.filter(enrolment=enrolment).exclude(kind="escalation").update(
        due_at=NOW + datetime.timedelta(days=1)
    )
    claim = messages_claim(now=NOW, limit=10, worker="a")
    assert message_send(message_id=claim.ids[0], claim=claim.token) == "deferred"
    assert not Escalation.objects.exists()


def test_services_own_wording_is_used(sms_outbox, frozen):
    message = invitation()
    MessageTemplate.objects.create(
        service=message.service,
        kind="invitation",
        channel="sms",
        body="Questions from {public_name}: {link} (ring {phone})",
    )
    claim = messages_claim(now=NOW, limit=10, worker="a")
    message_send(message_id=message.pk, claim=claim.token)
    body = sms_outbox.calls[0]["body"]
    assert body.startswith(f"Questions from {message.service.public_name}: http")
    assert body.endswith(f"(ring {message.service.phone})")


# Tasks


def test_dispatch_enqueues_the_claim_only_after_commit(
    sms_outbox, frozen, django_capture_on_commit_callbacks, monkeypatch
):
    from measures import services as measures_services

    monkeypatch.setattr(measures_services, "administrations_open_due", lambda today: 0)
    monkeypatch.setattr(measures_services, "administrations_expire", lambda today: 0)
    message = invitation()
    seen = []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = tasks.dispatch(now=NOW, enqueue=seen.append)
    assert report["claimed"] == 1
    assert seen == []
    for callback in callbacks:
        callback()
    assert seen[0].ids == [message.pk]


def test_broker_down_releases_the_claimed_rows(sms_outbox, frozen, monkeypatch):
    from kombu.exceptions import OperationalError

    message = invitation()
    claim = messages_claim(now=NOW, limit=10, worker="a")

    def broker_down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.send_batch, "delay", broker_down)
    tasks._enqueue(claim)
    message.refresh_from_db()
    assert message.status == "pending"


def test_send_message_task_retries_transient_errors_with_backoff():
    task = tasks.send_message
    assert task.acks_late and task.reject_on_worker_lost
    assert task.autoretry_for == (TransientSendError,)
    assert task.retry_backoff and task.max_retries >= 5


# Constraints


def violates(name: str) -> str:
    # PostgreSQL names the constraint; SQLite names the columns of a unique one instead.
    if connection.vendor == "sqlite" and ("unique" in name or "_once_" in name or "_one_" in name):
        return "UNIQUE constraint failed"
    return name


def _message(message=None, **overrides):
    message = message or invitation()
    fields = {
        f.name: getattr(message, f.name)
        for f in Message._meta.concrete_fields
        if f.name not in ("id", "reference")
    }
    return Message(**{**fields, **overrides})


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("message_once_per_timepoint_kind", {}),
        ("message_kind_known", {"kind": "postcard"}),
        ("message_status_known", {"kind": "manual", "status": "lost"}),
        ("message_channel_fits_kind", {"kind": "manual", "channel": "staff"}),
        ("message_sending_is_claimed", {"kind": "manual", "status": "sending"}),
        ("message_sent_has_time", {"kind": "manual", "status": "sent"}),
    ],
)
def test_message_constraints(sms_outbox, frozen, name, overrides):
    candidate = _message(**overrides)
    with pytest.raises(IntegrityError, match=violates(name)), transaction.atomic():
        candidate.save()


def test_one_message_per_person_per_day_is_enforced_by_the_database(sms_outbox, frozen):
    message = invitation()
    Message.objects.filter(pk=message.pk).update(day_slot=datetime.date(2026, 5, 12))
    other = _message(message, kind="manual", day_slot=datetime.date(2026, 5, 12))
    with (
        pytest.raises(IntegrityError, match=violates("message_one_per_person_per_day")),
        transaction.atomic(),
    ):
        other.save()


def test_escalation_constraints(sms_outbox, frozen):
    message = invitation()
    fields = {
        "service": message.service,
        "enrolment": message.enrolment,
        "timepoint": message.timepoint,
    }
    Escalation.objects.create(message=message, **fields)
    second = Message.objects.get(enrolment=message.enrolment, kind="final")
    with (
        pytest.raises(IntegrityError, match=violates("escalation_once_per_timepoint")),
        transaction.atomic(),
    ):
        Escalation.objects.create(message=second, **fields)
    Escalation.objects.all().delete()
    with (
        pytest.raises(IntegrityError, match=violates("escalation_resolver_has_time")),
        transaction.atomic(),
    ):
        Escalation.objects.create(message=message, resolved_by=UserFactory(), **fields)


def test_template_and_policy_constraints(sms_outbox, frozen):
    message = invitation()
    MessageTemplate.objects.create(
        service=message.service, kind="final", channel="sms", body="{link}"
    )
    with (
        pytest.raises(IntegrityError, match=violates("message_template_one_per_kind")),
        transaction.atomic(),
    ):
        MessageTemplate.objects.create(
            service=message.service, kind="final", channel="sms", body="{link}"
        )
    programme = message.enrolment.cohort.programme
    for name, fields in [
        (
            "reminder_policy_reminders_in_order",
            {"first_reminder_days": 7, "second_reminder_days": 3},
        ),
        ("reminder_policy_days_positive", {"final_reminder_days_before_close": 0}),
        (
            "reminder_policy_quiet_hours_overnight",
            {"quiet_from": datetime.time(8), "quiet_until": datetime.time(9)},
        ),
    ]:
        with pytest.raises(IntegrityError, match=violates(name)), transaction.atomic():
            ReminderPolicy.objects.create(programme=programme, **fields)


def test_completed_timepoint_with_staff_only_left_is_not_a_reason_to_message(sms_outbox, frozen):
    message = invitation(codes=("core10", "service_use"))
    Administration.objects.filter(enrolment=message.enrolment, instrument_code="core10").update(
        status="completed", completed_at=NOW
    )
    claim = messages_claim(now=NOW, limit=10, worker="a")
    assert message_send(message_id=message.pk, claim=claim.token) == "cancelled"


def test_dispatch_command_in_process_sends_what_is_due(
    sms_outbox, frozen, django_capture_on_commit_callbacks
):
    from io import StringIO

    from django.core.management import call_command

    # Scheduled: the run opens it, and the opening (an event) plans its messages.
    open_window(
        opens_on=datetime.date(2026, 5, 12),
        closes_on=datetime.date(2026, 6, 9),
        status=Administration.Status.SCHEDULED,
    )
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("dispatch_reminders", "--in-process", "--drain", stdout=out)
    assert "Claimed in all: 1" in out.getvalue()
    assert Message.objects.get(kind="invitation").status == "sent"
    assert len(sms_outbox.calls) == 1


def test_sweep_command(sms_outbox, frozen):
    from io import StringIO

    from django.core.management import call_command

    invitation()
    messages_claim(now=NOW - datetime.timedelta(hours=1), limit=10, worker="dead")
    out = StringIO()
    call_command("sweep_reminders", "--older-than", "60", stdout=out)
    assert out.getvalue().strip() == "Swept 1 stuck messages."


def test_demo_seed_brings_some_invitations_forward(sms_outbox, frozen):
    from io import StringIO

    from reminders import demo

    for _ in range(2):
        open_window(opens_on=datetime.date(2026, 5, 13), closes_on=datetime.date(2026, 6, 9))
    Administration.objects.update(status="scheduled")
    with time_machine.travel(datetime.datetime(2026, 5, 13, 7, tzinfo=UTC), tick=False):
        demo.seed(StringIO())
        due = Message.objects.filter(due_at__lte=datetime.datetime(2026, 5, 13, 7, tzinfo=UTC))
        assert due.count() == 2


def test_the_invitation_gives_the_time_the_questionnaire_pages_show(sms_outbox, frozen):
    from measures.definitions import get_instrument

    message = invitation()  # CORE-10 and DASS-21 (open_window's default)
    claim = messages_claim(now=NOW, limit=10, worker="a")
    message_send(message_id=message.pk, claim=claim.token)
    minutes = get_instrument("core10").minutes + get_instrument("dass21").minutes
    assert minutes == 6
    assert f"It takes about {minutes} minutes: http" in sms_outbox.calls[0]["body"]
