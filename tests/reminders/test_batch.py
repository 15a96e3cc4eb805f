"""The batched send path: one task per batch, a fixed number of queries, pacing, links minted
once, permanent failures, the look-up by reference, and wording that cannot break sending."""

import datetime
import threading

import pytest
import time_machine
from django.urls import reverse

from measures.models import ParticipantLink
from reminders import pacing, services, tasks
from reminders.channels import PermanentSendError, TransientSendError
from reminders.channels.sms import LocmemSmsBackend
from reminders.models import Message, MessageTemplate
from reminders.outcomes import Outcome, Reason
from reminders.services import messages_claim, messages_plan, messages_send
from tests.reminders.conftest import open_window

UTC = datetime.UTC
NOW = datetime.datetime(2026, 5, 12, 10, tzinfo=UTC)  # 11:00 BST
pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture(autouse=True)
def fresh_buckets(settings):
    """Each test starts with full buckets (they live in Redis when it is configured)."""
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter("safeground:reminders:bucket:*"):
            client.delete(key)
    pacing._local.clear()


def invitations(count: int, **kwargs) -> list[Message]:
    enrolments = [
        open_window(
            opens_on=datetime.date(2026, 5, 12), closes_on=datetime.date(2026, 6, 9), **kwargs
        )[0]
        for _ in range(count)
    ]
    messages_plan(today=datetime.date(2026, 5, 12))
    return list(Message.objects.filter(enrolment__in=enrolments, kind="invitation").order_by("pk"))


def test_a_batch_is_sent_by_one_task(sms_outbox, frozen, monkeypatch):
    messages = invitations(3)
    queued = []
    monkeypatch.setattr(tasks.send_batch, "delay", lambda ids, claim: queued.append((ids, claim)))
    claim = messages_claim(now=NOW, limit=10, worker="a")
    assert tasks._enqueue(claim) is True
    assert queued == [([m.pk for m in messages], claim.token)]


@pytest.mark.parametrize("people", [3, 12])
def test_a_batch_costs_the_same_queries_whatever_its_size(
    sms_outbox, frozen, people, django_assert_num_queries
):
    from django.contrib.contenttypes.models import ContentType

    invitations(people)
    ContentType.objects.get_for_model(ParticipantLink)  # cached for the process
    claim = messages_claim(now=NOW, limit=100, worker="a")
    # Prepare: savepoint, the locked rows, policies, windows, day slots (holders, the
    # update in its savepoint), wording, the questionnaires' minutes, links (savepoint,
    # existing, insert, audit, release), attempts, release. Record: savepoint, the locked
    # rows, the sent mark, the re-plan after invitations (savepoint, enrolments, windows,
    # locked messages, policies, release; nothing to change here), release.
    with django_assert_num_queries(27):
        outcomes = messages_send(ids=claim.ids, claim=claim.token)
    assert set(outcomes.values()) == {Outcome.SENT}
    assert len(sms_outbox.calls) == people


def test_a_permanent_failure_is_not_retried_and_staff_read_why(
    sms_outbox, frozen, monkeypatch, persona_client, clinician, service
):
    [message] = invitations(1, cohort__service=service)

    def refused(self, **kwargs):
        raise PermanentSendError("notify_http_400")

    monkeypatch.setattr(LocmemSmsBackend, "send", refused)
    claim = messages_claim(now=NOW, limit=10, worker="a")
    assert messages_send(ids=claim.ids, claim=claim.token) == {message.pk: Outcome.FAILED}
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (
        "failed",
        1,
        "notify_http_400",
    )
    # Nothing is left to claim: no second try.
    later = NOW + datetime.timedelta(hours=2)
    assert messages_claim(now=later, limit=10, worker="b").ids == []
    html = (
        persona_client(clinician)
        .get(reverse("reminders:service_messages", args=[message.service_id]))
        .content.decode()
    )
    assert "refused this number or message" in html


def test_a_retried_message_reuses_its_link(sms_outbox, frozen, monkeypatch):
    [message] = invitations(1)
    bodies = []
    real_send = LocmemSmsBackend.send

    def flaky(self, *, to, body, reference):
        bodies.append(body)
        if len(bodies) == 1:
            raise TransientSendError("notify_http_503")
        return real_send(self, to=to, body=body, reference=reference)

    monkeypatch.setattr(LocmemSmsBackend, "send", flaky)
    claim = messages_claim(now=NOW, limit=10, worker="a")
    assert messages_send(ids=claim.ids, claim=claim.token) == {message.pk: Outcome.RETRY}
    message.refresh_from_db()
    # Back in the queue after a backoff, not held by the claim.
    assert message.status == "pending" and message.due_at > NOW
    assert message.last_error == "notify_http_503"

    later = NOW + datetime.timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        again = messages_claim(now=later, limit=10, worker="b")
        assert messages_send(ids=again.ids, claim=again.token) == {message.pk: Outcome.SENT}
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert ParticipantLink.objects.filter(participant=message.participant).count() == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 2)


def test_a_message_the_provider_already_has_is_not_sent_again(sms_outbox, frozen):
    """A worker died after the provider took the text and before the sent mark."""
    [message] = invitations(1)
    claim = messages_claim(now=NOW, limit=10, worker="dead")
    batch = services._prepare_batch(ids=claim.ids, claim=claim.token, now=NOW)
    services._deliver_batch(batch.outgoing)  # accepted; then the worker is killed
    assert len(sms_outbox.calls) == 1
    services.messages_sweep_stuck(
        now=NOW + datetime.timedelta(seconds=1), older_than=datetime.timedelta(0)
    )

    again = messages_claim(now=NOW, limit=10, worker="next")
    assert messages_send(ids=again.ids, claim=again.token) == {message.pk: Outcome.SENT}
    assert len(sms_outbox.calls) == 1, "found by its reference, so not sent twice"
    message.refresh_from_db()
    assert message.status == "sent"


def test_wording_that_cannot_render_fails_at_once_without_a_link(sms_outbox, frozen):
    [message] = invitations(1, participant__preferred_channel="email")
    # Saved before the form refused line breaks in a subject.
    MessageTemplate.objects.create(
        service=message.service,
        kind="invitation",
        channel="email",
        subject="Questionnaire\nBcc: someone@example.com",
        body="{link}",
    )
    claim = messages_claim(now=NOW, limit=10, worker="a")
    assert messages_send(ids=claim.ids, claim=claim.token) == {message.pk: Outcome.FAILED}
    message.refresh_from_db()
    assert (message.status, message.last_error) == ("failed", Reason.SUBJECT_LINE_BREAK)
    assert "line break" in message.reason_display()
    assert not ParticipantLink.objects.filter(participant=message.participant).exists()


def test_the_dispatcher_claims_at_the_provider_rate(
    sms_outbox, frozen, settings, django_capture_on_commit_callbacks
):
    settings.REMINDERS_SEND_RATE_PER_MINUTE = 60  # one a second: five seconds' worth saved
    settings.REMINDERS_BATCH = 2
    invitations(8)
    seen = []
    with django_capture_on_commit_callbacks(execute=True):
        report = tasks.dispatch(now=NOW, enqueue=seen.append, seconds=0)
    # Whole batches only, while the bucket holds one: two of two, the fifth token left.
    assert report["claimed"] == 4
    assert [len(claim.ids) for claim in seen] == [2, 2]
    assert Message.objects.filter(kind="invitation", status="pending").count() == 4


def test_a_dispatcher_waiting_for_the_provider_rate_does_not_count_again(
    sms_outbox, frozen, settings, monkeypatch, django_capture_on_commit_callbacks
):
    # A burst: the bucket refuses twice before each batch and the run waits for tokens.
    # Waking up must not cost a count of what is due (most of a burst's queries did).
    settings.REMINDERS_BATCH = 2
    invitations(6)
    counts, takes = [], []
    real_count, real_take = services.messages_due_count, pacing.Bucket.take_up_to
    monkeypatch.setattr(
        services, "messages_due_count", lambda **kw: counts.append(1) or real_count(**kw)
    )

    def take_up_to(self, *args, **kwargs):
        takes.append(1)
        return real_take(self, *args, **kwargs) if len(takes) % 3 == 0 else (0, 0.2)

    monkeypatch.setattr(pacing.Bucket, "take_up_to", take_up_to)
    monkeypatch.setattr(tasks.time, "sleep", lambda seconds: None)
    seen = []
    with django_capture_on_commit_callbacks(execute=True):
        tasks.dispatch(now=NOW, enqueue=seen.append, seconds=3600)
    assert [len(claim.ids) for claim in seen] == [2, 2, 2]
    assert len(takes) == 9
    # One count before each batch and one that finds nothing left, not one a wake-up.
    assert len(counts) == 4


def test_a_batchs_texts_are_in_flight_together_never_more_than_the_setting(
    sms_outbox, frozen, settings, monkeypatch
):
    # One call waits for the provider's answer: one at a time, a batch of 250 could not
    # pass 20 a second at Notify's ~50 ms. The first four calls meet at a barrier, which
    # only four calls in flight at once can pass (one at a time, it breaks after 5 s).
    settings.REMINDERS_SEND_CONCURRENCY = 4
    messages = invitations(10)
    barrier = threading.Barrier(4, timeout=5)
    lock = threading.Lock()
    in_flight, most = [0], [0]
    real_send = LocmemSmsBackend.send

    def slow(self, **kwargs):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            if len(LocmemSmsBackend.calls) < 4:
                barrier.wait()
            return real_send(self, **kwargs)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(LocmemSmsBackend, "send", slow)
    claim = messages_claim(now=NOW, limit=100, worker="a")
    outcomes = messages_send(ids=claim.ids, claim=claim.token)
    assert outcomes == {m.pk: Outcome.SENT for m in messages}
    assert most[0] == 4
    assert sorted(call["reference"] for call in sms_outbox.calls) == sorted(
        str(m.reference) for m in messages
    )
    assert Message.objects.filter(pk__in=claim.ids, status="sent").count() == 10


def test_a_batchs_emails_share_a_few_connections_not_one_each(
    sms_outbox, frozen, settings, monkeypatch, mailoutbox
):
    # Sent one after another over the batch's one connection, e-mails capped a batch at
    # 20 a second; several threads share the work, each with one connection of its own.
    settings.REMINDERS_SEND_CONCURRENCY = 4
    messages = invitations(12, participant__preferred_channel="email")
    opened = []
    real_session = services.channels.email_session

    def counting_session():
        opened.append(threading.current_thread().name)
        return real_session()

    monkeypatch.setattr(services.channels, "email_session", counting_session)
    claim = messages_claim(now=NOW, limit=100, worker="a")
    outcomes = messages_send(ids=claim.ids, claim=claim.token)
    assert outcomes == {m.pk: Outcome.SENT for m in messages}
    assert len(mailoutbox) == 12
    # At most one connection a thread, and never the batch's main thread.
    assert 1 <= len(opened) <= 4 and len(set(opened)) == len(opened)
    assert all(name.startswith("send") for name in opened)


def test_with_one_text_at_a_time_a_batch_is_sent_in_order(sms_outbox, frozen, settings):
    settings.REMINDERS_SEND_CONCURRENCY = 1
    invitations(5)
    claim = messages_claim(now=NOW, limit=100, worker="a")
    messages_send(ids=claim.ids, claim=claim.token)
    references = dict(Message.objects.filter(pk__in=claim.ids).values_list("pk", "reference"))
    assert [call["reference"] for call in sms_outbox.calls] == [
        str(references[pk]) for pk in claim.ids
    ]


def test_a_bucket_never_gives_more_than_it_holds(settings):
    bucket = pacing.Bucket("test", rate_per_minute=60, capacity=3)
    assert bucket.take_up_to(10)[0] == 3
    taken, wait = bucket.take_up_to(1)
    assert taken == 0 and 0 < wait <= 1
    bucket.give_back(2)
    assert bucket.take_up_to(10)[0] == 2
    assert pacing.Bucket("free", rate_per_minute=0).take_up_to(10_000) == (10_000, 0.0)


# Wording


@pytest.mark.parametrize(
    ("subject", "problem"),
    [
        ("Questionnaire\nBcc: someone@example.com", "The subject must be on one line."),
        ("Questionnaire\r\nfrom {public_name}", "The subject must be on one line."),
    ],
)
def test_a_subject_with_a_line_break_is_refused_on_the_form(
    persona_client, admin_user, service, subject, problem
):
    url = reverse("reminders:message_templates", args=[service.pk])
    response = persona_client(admin_user).post(
        url,
        {
            "which": "invitation-email",
            "invitation-email-subject": subject,
            "invitation-email-body": "Hello, {link}",
        },
    )
    assert response.status_code == 200
    assert problem in response.content.decode()
    assert not MessageTemplate.objects.exists()


def test_a_text_too_long_once_filled_in_is_refused_on_the_form(persona_client, admin_user, service):
    url = reverse("reminders:message_templates", args=[service.pk])
    body = "From {public_name}. " + "Please answer. " * 60 + "{link}"
    response = persona_client(admin_user).post(
        url, {"which": "invitation-sms", "invitation-sms-body": body}
    )
    assert response.status_code == 200
    assert "longer than a text message can be" in response.content.decode()
    assert not MessageTemplate.objects.exists()


def test_the_model_refuses_a_subject_line_break_too(service):
    from django.core.exceptions import ValidationError

    template = MessageTemplate(
        service=service, kind="invitation", channel="email", subject="A\nB", body="{link}"
    )
    with pytest.raises(ValidationError, match="one line"):
        template.full_clean()
