"""Staff pages: the history panel, "send a reminder now", the service page and wording."""

import datetime

import pytest
import time_machine
from django.urls import reverse

from reminders.models import Escalation, Message, MessageTemplate
from reminders.services import messages_plan
from tests.factories import EnrolmentFactory, ParticipantFactory
from tests.reminders.conftest import open_window

UTC = datetime.UTC
DAYTIME = datetime.datetime(2026, 5, 12, 10, tzinfo=UTC)  # 11:00 BST
EVENING = datetime.datetime(2026, 5, 12, 20, tzinfo=UTC)  # 21:00 BST
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    from django.core.cache import cache, caches

    cache.clear()
    caches["ratelimit"].clear()


def participant_with_open_window(service, **participant):
    enrolment, _ = open_window(
        opens_on=datetime.date(2026, 5, 4),
        closes_on=datetime.date(2026, 6, 1),
        enrolment=EnrolmentFactory(
            cohort__service=service, participant=ParticipantFactory(service=service, **participant)
        ),
    )
    return enrolment


def send_now(client, participant):
    return client.post(reverse("reminders:send_now", args=[participant.pk]), follow=True)


def texts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_send_now_queues_a_reminder_for_the_open_window(persona_client, clinician, service):
    enrolment = participant_with_open_window(service)
    with time_machine.travel(DAYTIME, tick=False):
        response = send_now(persona_client(clinician), enrolment.participant)
    assert texts(response) == ["The reminder will go out within a few minutes."]
    message = Message.objects.get(kind="manual")
    assert (message.enrolment, message.due_at, message.requested_by) == (
        enrolment,
        DAYTIME,
        clinician,
    )


def test_send_now_in_quiet_hours_says_when_it_will_go(persona_client, clinician, service):
    enrolment = participant_with_open_window(service)
    with time_machine.travel(EVENING, tick=False):
        response = send_now(persona_client(clinician), enrolment.participant)
    assert texts(response) == [
        "No messages go out between 20:00 and 09:00, so the reminder will go at 09:00 on 13 May."
    ]
    assert Message.objects.get(kind="manual").due_at == datetime.datetime(
        2026, 5, 13, 8, tzinfo=UTC
    )


def test_send_now_refuses_when_opted_out(persona_client, clinician, service):
    enrolment = participant_with_open_window(service, messages_opt_out=True)
    with time_machine.travel(DAYTIME, tick=False):
        response = send_now(persona_client(clinician), enrolment.participant)
    assert texts(response) == ["This person has opted out of messages, so none was sent."]
    assert not Message.objects.filter(kind="manual").exists()


def test_send_now_after_a_message_today_goes_tomorrow(persona_client, clinician, service):
    enrolment = participant_with_open_window(service)
    with time_machine.travel(DAYTIME, tick=False):
        messages_plan(today=datetime.date(2026, 5, 4))
        Message.objects.filter(enrolment=enrolment, kind="reminder_2").update(
            status="sent", sent_at=DAYTIME, day_slot=datetime.date(2026, 5, 12)
        )
        response = send_now(persona_client(clinician), enrolment.participant)
    assert texts(response) == [
        "This person has already had a message today, so the reminder will go at 09:00 on 13 May."
    ]


def test_send_now_is_rate_limited_per_participant(persona_client, clinician, service):
    enrolment = participant_with_open_window(service)
    client = persona_client(clinician)
    with time_machine.travel(DAYTIME, tick=False):
        for _ in range(3):
            send_now(client, enrolment.participant)
        Message.objects.filter(kind="manual").delete()
        response = send_now(client, enrolment.participant)
    assert texts(response) == [
        "Too many reminders have been asked for just now. Please try again later."
    ]
    assert not Message.objects.filter(kind="manual").exists()


def test_send_now_refusals(persona_client, manager, other_clinician, service, client):
    participant = participant_with_open_window(service).participant
    url = reverse("reminders:send_now", args=[participant.pk])
    assert persona_client(None).post(url).status_code == 302
    assert persona_client(other_clinician).post(url).status_code == 404
    assert persona_client(manager).post(url).status_code == 403
    assert not Message.objects.exists()


def test_send_now_does_not_accept_get(persona_client, clinician, service):
    participant = participant_with_open_window(service).participant
    url = reverse("reminders:send_now", args=[participant.pk])
    assert persona_client(clinician).get(url).status_code == 405


def test_history_panel_shows_when_kind_channel_status_and_no_body(
    persona_client, clinician, service
):
    enrolment = participant_with_open_window(service)
    with time_machine.travel(DAYTIME, tick=False):
        messages_plan(today=datetime.date(2026, 5, 4))
        Message.objects.filter(enrolment=enrolment, kind="invitation").update(
            status="sent", sent_at=DAYTIME
        )
        response = persona_client(clinician).get(
            reverse("participants:participant_detail", args=[enrolment.participant.pk])
        )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Invitations and reminders, newest first" in html
    assert "12 May 2026 11:00" in html  # sent_at in UK time
    assert "Text message" in html and "Sent" in html and "First reminder" in html
    assert "questionnaire from" not in html  # no wording, no link
    assert "Send a reminder now" in html


def test_service_page_lists_failed_messages_and_open_escalations(
    persona_client, clinician, service, django_assert_max_num_queries
):
    enrolment = participant_with_open_window(service)
    messages_plan(today=datetime.date(2026, 5, 4))
    Message.objects.filter(enrolment=enrolment, kind="invitation").update(
        status="failed", last_error="notify_http_400", attempts=1
    )
    escalation = Message.objects.get(enrolment=enrolment, kind="escalation")
    Escalation.objects.create(
        service=service, enrolment=enrolment, timepoint=escalation.timepoint, message=escalation
    )
    response = persona_client(clinician).get(
        reverse("reminders:service_messages", args=[service.pk])
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "notify_http_400" in html
    assert enrolment.participant.reference in html
    assert "Mark followed up" in html


def test_service_page_query_count_does_not_grow(persona_client, clinician, service):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = persona_client(clinician)
    url = reverse("reminders:service_messages", args=[service.pk])

    def queries_with(n):
        for _ in range(n):
            enrolment = participant_with_open_window(service)
            messages_plan(today=datetime.date(2026, 5, 4))
            Message.objects.filter(enrolment=enrolment, kind="invitation").update(
                status="failed", last_error="x"
            )
            escalation = Message.objects.get(enrolment=enrolment, kind="escalation")
            Escalation.objects.create(
                service=service,
                enrolment=enrolment,
                timepoint=escalation.timepoint,
                message=escalation,
            )
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    assert queries_with(1) == queries_with(5)


def test_escalation_marked_followed_up(persona_client, clinician, service):
    enrolment = participant_with_open_window(service)
    messages_plan(today=datetime.date(2026, 5, 4))
    message = Message.objects.get(enrolment=enrolment, kind="escalation")
    task = Escalation.objects.create(
        service=service, enrolment=enrolment, timepoint=message.timepoint, message=message
    )
    url = reverse("reminders:escalation_resolve", args=[task.pk])
    response = persona_client(clinician).post(url)
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.resolved_by == clinician and task.resolved_at is not None


def test_service_page_and_resolve_refusals(
    persona_client, manager, other_clinician, admin_user, service
):
    enrolment = participant_with_open_window(service)
    messages_plan(today=datetime.date(2026, 5, 4))
    message = Message.objects.get(enrolment=enrolment, kind="escalation")
    task = Escalation.objects.create(
        service=service, enrolment=enrolment, timepoint=message.timepoint, message=message
    )
    page = reverse("reminders:service_messages", args=[service.pk])
    resolve = reverse("reminders:escalation_resolve", args=[task.pk])
    assert persona_client(None).get(page).status_code == 302
    assert persona_client(other_clinician).get(page).status_code == 404
    assert persona_client(admin_user).get(page).status_code == 403
    assert persona_client(manager).get(page).status_code == 200
    assert persona_client(other_clinician).post(resolve).status_code == 404
    assert persona_client(manager).post(resolve).status_code == 403


def test_admin_edits_wording(persona_client, admin_user, service):
    url = reverse("reminders:message_templates", args=[service.pk])
    client = persona_client(admin_user)
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {"which": "invitation-sms", "invitation-sms-body": "From {public_name}: {link}"},
    )
    assert response.status_code == 302
    saved = MessageTemplate.objects.get(service=service, kind="invitation", channel="sms")
    assert (saved.body, saved.updated_by) == ("From {public_name}: {link}", admin_user)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("Hello {name}: {link}", "{name} is not a placeholder"),
        ("From {public_name}", "must include {link}"),
        ("From {public_name!r}: {link}", "not a placeholder"),
        ("From {link.__class__}", "not a placeholder"),
        ("Unbalanced { here {link}", "Curly brackets"),
    ],
)
def test_wording_with_unknown_placeholders_is_refused_on_the_form(
    persona_client, admin_user, service, body, problem
):
    url = reverse("reminders:message_templates", args=[service.pk])
    response = persona_client(admin_user).post(
        url, {"which": "invitation-sms", "invitation-sms-body": body}
    )
    assert response.status_code == 200
    assert problem in response.content.decode()
    assert not MessageTemplate.objects.exists()


def test_wording_page_refusals(persona_client, clinician, other_clinician, service):
    url = reverse("reminders:message_templates", args=[service.pk])
    assert persona_client(None).get(url).status_code == 302
    assert persona_client(other_clinician).get(url).status_code == 404
    assert persona_client(clinician).get(url).status_code == 403
