"""Risk alerts a clinician can act on: the page, the order, the e-mails, digest and escalation."""

import datetime
from unittest import mock

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from measures import services, tasks
from measures.models import AlertDigestSent, RiskAlert
from programmes.services import cohort_create
from tests.factories import EnrolmentFactory, MembershipFactory, default_programme
from tests.questionnaires.conftest import START, administration

pytestmark = pytest.mark.django_db

UK = datetime.UTC  # Europe/London is UTC in winter, when these tests run


def at(year, month, day, hour=10, minute=0):
    return datetime.datetime(year, month, day, hour, minute, tzinfo=UK)


@pytest.fixture
def group(service, clinician, frozen):
    """A cohort with its 52 weekly sessions, starting Tuesday 6 January 2026."""
    return cohort_create(
        service=service,
        programme=default_programme(),
        name="Tuesday compassion group",
        start_date=START,
        start_time=datetime.time(10, 30),
        venue="Room 2",
        capacity=10,
        facilitators=[clinician],
    )


@pytest.fixture
def member(group):
    enrolment = EnrolmentFactory(cohort=group, enrolled_on=START)
    services.administrations_lay_out(enrolment=enrolment)
    return enrolment


@pytest.fixture
def service_manager(service):
    return MembershipFactory(
        service=service, role=Membership.Role.MANAGER, user__username="service_manager"
    ).user


def raise_alert(enrolment, clinician, *, code="core10", item=6, value=2, timepoint="baseline"):
    """Enter a paper form whose only risk answer is `item` at `value`, completed now."""
    adm = administration(enrolment, code, timepoint)
    from measures.definitions import get_instrument

    answers = dict.fromkeys(get_instrument(code).item_numbers, 0) | {item: value}
    services.administration_enter(
        administration=adm,
        answers=answers,
        entered_by=clinician,
        completed_at=timezone.now(),
        outside_window_reason="Returned late",
    )
    return RiskAlert.objects.get(administration=adm, item=item)


def identifying(enrolment):
    participant = enrolment.participant
    return [
        participant.given_name,
        participant.family_name,
        participant.reference,
        participant.email,
        participant.mobile.as_national,
        enrolment.cohort.name,
        "core10",
        "CORE-10",
        "Questionnaire code",
    ]


def assert_nothing_identifying(mails, enrolment):
    for mail in mails:
        text = mail.subject + mail.body
        for detail in identifying(enrolment):
            assert detail not in text, (detail, mail.subject)


# ------------------------------------------------------------------ the alert page


def test_a_summer_paper_form_entered_in_december_says_so_with_wording_answer_and_contacts(
    persona_client, member, clinician, frozen
):
    frozen.move_to(at(2026, 12, 2, 9))
    adm = administration(member, "core10", "week32")
    services.administration_enter(
        administration=adm,
        answers=dict.fromkeys(range(1, 11), 1) | {6: 2},
        entered_by=clinician,
        completed_at=at(2026, 8, 20, 12),
        outside_window_reason="Returned late",
    )
    alert = RiskAlert.objects.get(administration=adm)
    page = persona_client(clinician).get(reverse("measures:alert_detail", args=[alert.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Item 6: “I made plans to end my life”" in body
    assert "<strong>2 – Sometimes</strong>" in body
    assert "Paper, entered by staff, completed on 20 August 2026." in body
    assert "Entered on 2 December 2026" in body
    assert "the answer is from August 2026, not from today" in body
    assert member.participant.mobile.as_national in body
    assert member.participant.email in body
    # Wednesday 2 December: the group's next Tuesday session.
    assert "Tuesday 8 December 2026 at 10:30" in body
    assert clinician.get_full_name() in body


def test_an_online_answer_says_online_and_nothing_about_a_late_entry(
    persona_client, member, clinician
):
    adm = administration(member, "core10")
    answers = dict.fromkeys(range(1, 11), 0) | {6: 1}
    services.response_save(administration_id=adm.pk, answers=answers)
    services.response_submit(administration_id=adm.pk)
    alert = RiskAlert.objects.get()
    body = persona_client(clinician).get(reverse("measures:alert_detail", args=[alert.pk]))
    body = body.content.decode()
    assert "Online, completed on 8 January 2026." in body
    assert "<strong>1 – Only occasionally</strong>" in body
    assert "Entered on" not in body
    # The first session was on the 6th; the next is a week later.
    assert "Tuesday 13 January 2026 at 10:30" in body


def test_unlicensed_wording_shows_the_item_number_and_scale_until_the_service_loads_it(
    persona_client, member, clinician, service
):
    alert = raise_alert(member, clinician, code="fscrs", item=9, value=3)
    assert alert.severity == "review"
    url = reverse("measures:alert_detail", args=[alert.pk])
    body = persona_client(clinician).get(url).content.decode()
    assert "Item 9 (Hated self scale; answers 0 to 4)" in body
    assert "<strong>3</strong>" in body
    services.wording_import(
        service=service,
        instrument_code="fscrs",
        items={str(n): f"Licensed statement number {n}" for n in range(1, 23)},
    )
    body = persona_client(clinician).get(url).content.decode()
    assert "Item 9: “Licensed statement number 9”" in body


def test_a_risk_item_left_blank_says_so(persona_client, member, clinician):
    adm = administration(member, "core10")
    services.administration_enter(
        administration=adm,
        answers=dict.fromkeys(range(1, 11), 0) | {6: None},
        entered_by=clinician,
        completed_at=timezone.now(),
        outside_window_reason="Returned late",
    )
    alert = RiskAlert.objects.get()
    body = persona_client(clinician).get(reverse("measures:alert_detail", args=[alert.pk]))
    assert "Left unanswered" in body.content.decode()


def test_the_alert_page_for_each_persona(
    persona_client, member, clinician, service_manager, other_clinician, admin_user
):
    alert = raise_alert(member, clinician)
    url = reverse("measures:alert_detail", args=[alert.pk])
    assert 'id="id_note"' in persona_client(clinician).get(url).content.decode()
    # The manager an alert escalates to can read it and ring the person, not acknowledge it.
    seen = persona_client(service_manager).get(url)
    assert seen.status_code == 200
    assert member.participant.mobile.as_national in seen.content.decode()
    assert 'id="id_note"' not in seen.content.decode()
    assert persona_client(other_clinician).get(url).status_code == 404
    assert persona_client(admin_user).get(url).status_code == 403


# ------------------------------------------------------------------ the list


def test_the_list_puts_urgent_first_then_the_oldest(persona_client, member, clinician, frozen):
    frozen.move_to(at(2026, 1, 8, 9))
    old_review = raise_alert(member, clinician, code="dass21", item=21, value=3)
    frozen.move_to(at(2026, 1, 9, 9))
    new_urgent = raise_alert(member, clinician, code="core10", item=6, value=1)
    frozen.move_to(at(2026, 1, 8, 8))
    other = EnrolmentFactory(cohort=member.cohort, enrolled_on=START)
    services.administrations_lay_out(enrolment=other)
    old_urgent = raise_alert(other, clinician, code="core10", item=6, value=1)
    frozen.move_to(at(2026, 1, 9, 12))
    page = persona_client(clinician).get(reverse("measures:alert_list"))
    ordered = [alert.pk for alert in page.context["alerts"]]
    assert ordered == [old_urgent.pk, new_urgent.pk, old_review.pk]
    body = page.content.decode()
    assert "urgent first, then the longest waiting" in body
    assert "CORE-10 item 6" in body
    assert "core10" not in body


@pytest.mark.parametrize("people", [1, 4])
def test_the_list_runs_the_same_queries_however_many_alerts(
    people, persona_client, group, clinician
):
    for _ in range(people):
        enrolment = EnrolmentFactory(cohort=group, enrolled_on=START)
        services.administrations_lay_out(enrolment=enrolment)
        raise_alert(enrolment, clinician)
    client = persona_client(clinician)
    client.get(reverse("measures:alert_list"))
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("measures:alert_list"))
    assert len(page.context["alerts"]) == people
    assert len(queries) == LIST_QUERIES


# Session, user, memberships, the alerts with their rows, and one insert of an access entry
# for each participant listed, whatever the number of alerts.
LIST_QUERIES = 8


# ------------------------------------------------------------------ digest and escalation


def test_an_urgent_alert_raised_on_a_friday_afternoon_escalates_on_monday_not_saturday(
    member, clinician, service_manager, frozen, mailoutbox, django_capture_on_commit_callbacks
):
    frozen.move_to(at(2026, 12, 4, 15))  # Friday
    with django_capture_on_commit_callbacks(execute=True):
        alert = raise_alert(member, clinician)
    assert [m.subject for m in mailoutbox] == [services.URGENT_ALERT_SUBJECT]
    mailoutbox.clear()

    frozen.move_to(at(2026, 12, 5, 8))  # Saturday morning
    with django_capture_on_commit_callbacks(execute=True):
        assert services.risk_alerts_follow_up() == {"digests": 1, "escalated": 0}
    (digest,) = mailoutbox
    assert digest.to == [clinician.email]
    assert digest.subject == services.DIGEST_SUBJECT
    assert "Urgent (same-day review): 1\nReview: 0" in digest.body
    assert reverse("measures:alert_list") in digest.body
    alert.refresh_from_db()
    assert alert.escalated_at is None

    frozen.move_to(at(2026, 12, 6, 8))  # Sunday: still no escalation
    with django_capture_on_commit_callbacks(execute=True):
        assert services.risk_alerts_follow_up()["escalated"] == 0

    frozen.move_to(at(2026, 12, 7, 8))  # Monday: one working day after Friday
    with django_capture_on_commit_callbacks(execute=True):
        assert services.risk_alerts_follow_up() == {"digests": 1, "escalated": 1}
    escalation = next(m for m in mailoutbox if m.subject == services.ESCALATION_SUBJECT)
    assert escalation.to == [service_manager.email]
    assert "How urgent: Urgent: review it today (same-day review)." in escalation.body
    assert "Raised: Friday 4 December 2026, 15:00" in escalation.body
    assert reverse("measures:alert_detail", args=[alert.pk]) in escalation.body
    alert.refresh_from_db()
    assert alert.escalated_at == at(2026, 12, 7, 8)
    assert LogEntry.objects.filter(
        object_pk=str(alert.pk), changes__has_key="escalated_at"
    ).exists()

    frozen.move_to(at(2026, 12, 8, 8))  # Tuesday: the digest repeats, the escalation does not
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.risk_alerts_follow_up() == {"digests": 1, "escalated": 0}
    assert [m.subject for m in mailoutbox] == [services.DIGEST_SUBJECT]
    assert_nothing_identifying(mailoutbox, member)


def test_the_digest_and_escalation_identify_nobody(
    member, clinician, service_manager, frozen, mailoutbox, django_capture_on_commit_callbacks
):
    frozen.move_to(at(2026, 12, 4, 15))
    with django_capture_on_commit_callbacks(execute=True):
        raise_alert(member, clinician)
    frozen.move_to(at(2026, 12, 7, 8))
    with django_capture_on_commit_callbacks(execute=True):
        services.risk_alerts_follow_up()
    subjects = sorted(m.subject for m in mailoutbox)
    assert subjects == sorted(
        [services.URGENT_ALERT_SUBJECT, services.DIGEST_SUBJECT, services.ESCALATION_SUBJECT]
    )
    assert_nothing_identifying(mailoutbox, member)


def test_an_acknowledged_alert_is_neither_digested_nor_escalated(
    member, clinician, service_manager, frozen, mailoutbox, django_capture_on_commit_callbacks
):
    frozen.move_to(at(2026, 12, 4, 15))
    alert = raise_alert(member, clinician)
    frozen.move_to(at(2026, 12, 4, 16))
    services.risk_alert_acknowledge(alert=alert, user=clinician, note="Rang them; safe.")
    frozen.move_to(at(2026, 12, 7, 8))
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.risk_alerts_follow_up() == {"digests": 0, "escalated": 0}
    assert mailoutbox == []


def test_bank_holidays_do_not_count_as_working_days(
    member, clinician, service_manager, frozen, django_capture_on_commit_callbacks
):
    # Christmas Eve 2026 is a Thursday; Christmas Day and the Boxing Day substitute (Monday
    # 28th) are bank holidays, so the first working day after is Tuesday 29 December.
    frozen.move_to(at(2026, 12, 24, 15))
    alert = raise_alert(member, clinician)
    for day in (25, 26, 27, 28):
        frozen.move_to(at(2026, 12, day, 8))
        with django_capture_on_commit_callbacks(execute=True):
            assert services.risk_alerts_escalate() == 0, day
    frozen.move_to(at(2026, 12, 29, 8))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.risk_alerts_escalate() == 1
    alert.refresh_from_db()
    assert alert.escalated_at is not None


def test_a_review_alert_waits_five_working_days_and_the_limits_are_settings(
    member, clinician, service_manager, frozen, settings, django_capture_on_commit_callbacks
):
    frozen.move_to(at(2026, 12, 1, 15))  # Tuesday
    review = raise_alert(member, clinician, code="dass21", item=21, value=3)
    assert review.severity == "review"
    frozen.move_to(at(2026, 12, 7, 8))  # Monday: four working days
    with django_capture_on_commit_callbacks(execute=True):
        assert services.risk_alerts_escalate() == 0
    settings.RISK_ALERT_ESCALATE_REVIEW_DAYS = 4
    with django_capture_on_commit_callbacks(execute=True):
        assert services.risk_alerts_escalate() == 1


def test_an_escalation_that_could_not_be_sent_is_tried_again_next_run(
    member, clinician, service_manager, frozen, mailoutbox, django_capture_on_commit_callbacks
):
    frozen.move_to(at(2026, 12, 4, 15))
    alert = raise_alert(member, clinician)
    frozen.move_to(at(2026, 12, 7, 8))
    down = mock.patch("measures.services.send_mail", side_effect=OSError("mail server down"))
    with down, django_capture_on_commit_callbacks(execute=True):
        services.risk_alerts_escalate()
    alert.refresh_from_db()
    assert alert.escalated_at is None
    trail = LogEntry.objects.filter(object_pk=str(alert.pk), changes__has_key="escalated_at")
    assert [entry.changes["escalated_at"][1] for entry in trail.order_by("pk")][-1] == "None"
    with django_capture_on_commit_callbacks(execute=True):
        assert services.risk_alerts_escalate() == 1
    assert [m.to for m in mailoutbox] == [[service_manager.email]]


def test_the_task_and_the_command_run_the_same_follow_up(
    member, clinician, service_manager, frozen, mailoutbox, django_capture_on_commit_callbacks
):
    frozen.move_to(at(2026, 12, 4, 15))
    raise_alert(member, clinician)
    frozen.move_to(at(2026, 12, 7, 8))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.risk_alerts_follow_up() == {"digests": 1, "escalated": 1}
    out = []
    # The same day the digest has gone already; the next day it goes again.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("risk_alerts_follow_up", stdout=mock.Mock(write=out.append))
    frozen.move_to(at(2026, 12, 8, 8))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("risk_alerts_follow_up", stdout=mock.Mock(write=out.append))
    assert out == [
        "Sent 0 digest(s); escalated 0 alert(s).\n",
        "Sent 1 digest(s); escalated 0 alert(s).\n",
    ]


# ------------------------------------------------------------------ one digest a day


def test_a_second_run_on_the_same_day_sends_no_second_digest_and_the_next_day_does(
    member, clinician, frozen, mailoutbox, django_capture_on_commit_callbacks
):
    frozen.move_to(at(2026, 12, 1, 15))  # Tuesday
    raise_alert(member, clinician)
    mailoutbox.clear()
    frozen.move_to(at(2026, 12, 2, 7))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.risk_alerts_follow_up()["digests"] == 1
    frozen.move_to(at(2026, 12, 2, 16))  # the command run by hand the same afternoon
    with django_capture_on_commit_callbacks(execute=True):
        assert services.risk_alerts_follow_up()["digests"] == 0
    assert [m.subject for m in mailoutbox] == [services.DIGEST_SUBJECT]
    record = AlertDigestSent.objects.get()
    assert (record.recipient, record.sent_on, record.open_alerts) == (
        clinician.email,
        datetime.date(2026, 12, 2),
        1,
    )

    frozen.move_to(at(2026, 12, 3, 7))  # the next morning it goes again
    with django_capture_on_commit_callbacks(execute=True):
        assert services.risk_alerts_follow_up()["digests"] == 1
    assert [m.subject for m in mailoutbox] == [services.DIGEST_SUBJECT] * 2
    assert AlertDigestSent.objects.count() == 2


def test_a_digest_that_could_not_be_sent_is_tried_again_the_same_day(
    member, clinician, frozen, mailoutbox, django_capture_on_commit_callbacks
):
    frozen.move_to(at(2026, 12, 1, 15))
    raise_alert(member, clinician)
    mailoutbox.clear()
    frozen.move_to(at(2026, 12, 2, 7))
    down = mock.patch("measures.services.send_mail", side_effect=OSError("mail server down"))
    with down:
        assert services.risk_alerts_digest() == 0
    assert not AlertDigestSent.objects.exists()
    frozen.move_to(at(2026, 12, 2, 9))
    assert services.risk_alerts_digest() == 1
    assert [m.to for m in mailoutbox] == [[clinician.email]]


def test_the_database_refuses_a_second_digest_record_for_one_person_on_one_day(db):
    AlertDigestSent.objects.create(recipient="a@example.org", sent_on=START, open_alerts=1)
    AlertDigestSent.objects.create(
        recipient="a@example.org", sent_on=START + datetime.timedelta(1), open_alerts=1
    )
    # PostgreSQL names the constraint; SQLite names the columns of a unique one instead.
    name = (
        "alert_digest_once_a_day_per_recipient"
        if connection.vendor == "postgresql"
        else "UNIQUE constraint failed: measures_alertdigestsent.recipient"
    )
    refused = pytest.raises(IntegrityError, match=name)
    with refused, transaction.atomic():
        AlertDigestSent.objects.create(recipient="a@example.org", sent_on=START, open_alerts=2)
