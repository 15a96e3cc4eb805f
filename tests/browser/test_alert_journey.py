"""A clinician opens an urgent alert from a paper form, sees what was answered, when and how,
and who to ring, then acknowledges it with a note."""

import datetime
import html
import re
from urllib.parse import urlsplit

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.demo_mfa import ensure_totp
from accounts.models import Membership
from measures import services
from measures.models import Administration, RiskAlert
from programmes.services import cohort_create
from tests.browser.helpers import sign_in_with_mfa
from tests.factories import (
    EnrolmentFactory,
    MembershipFactory,
    ParticipantFactory,
    ServiceFactory,
    default_programme,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clinician_opens_an_urgent_alert_and_acknowledges_it_with_a_note(
    live_server, new_page, journey
):
    service = ServiceFactory(name="Riverside Team")
    clinician = MembershipFactory(
        service=service,
        role=Membership.Role.CLINICIAN,
        user__username="a.clinician",
        user__first_name="Jo",
        user__last_name="Clinician",
    ).user
    secret = ensure_totp(clinician)
    today = timezone.localdate()
    start = today - datetime.timedelta(days=7)
    cohort = cohort_create(
        service=service,
        programme=default_programme(),
        name="Thursday group",
        start_date=start,
        start_time=datetime.time(10, 0),
        venue="Room 2",
        capacity=10,
        facilitators=[clinician],
    )
    person = ParticipantFactory(
        service=service, given_name="Dee", family_name="Dawson", mobile="+447700900456"
    )
    # Enrolled at assessment, a fortnight before the group: the paper form is from then.
    enrolled_on = start - datetime.timedelta(days=14)
    enrolment = EnrolmentFactory(cohort=cohort, participant=person, enrolled_on=enrolled_on)
    services.administrations_lay_out(enrolment=enrolment)
    adm = Administration.objects.get(
        enrolment=enrolment, timepoint__key="baseline", instrument_code="core10"
    )
    completed = start - datetime.timedelta(days=3)
    services.administration_enter(
        administration=adm,
        answers=dict.fromkeys(range(1, 11), 1) | {6: 3},
        entered_by=clinician,
        completed_at=timezone.make_aware(datetime.datetime.combine(completed, datetime.time(12))),
    )
    alert = RiskAlert.objects.get()
    url = live_server.url

    trip = journey("alert")
    page = new_page()
    sign_in_with_mfa(page, url, "a.clinician", secret, trip.screenshot)
    page.get_by_role("link", name="Risk alerts").first.click()
    page.wait_for_url(re.compile(r"/alerts/$"))
    trip.step(page, "alert-list")
    page.get_by_role("link", name=re.compile(rf"Open alert {alert.pk}")).click()
    page.wait_for_url(re.compile(rf"/alerts/{alert.pk}/$"))
    trip.step(page, "alert-detail")
    assert page.get_by_role("heading", name="Risk alert: urgent, same-day review").is_visible()
    assert "I made plans to end my life" in page.locator("#alert-item").inner_text()
    assert page.locator("#alert-answer-given").inner_text() == "3 – Often"
    when = page.locator("#alert-when").inner_text()
    assert f"Paper, entered by staff, completed on {completed:%-d %B %Y}." in when
    assert "07700 900456" in page.locator("#alert-contact").inner_text()
    assert "Jo Clinician" in page.locator("#alert-facilitators").inner_text()

    page.get_by_label("Note").fill("Rang Dee at 14:10; safety plan reviewed, GP told.")
    trip.step(page, "alert-note")
    page.get_by_role("button", name="Acknowledge the alert").click()
    page.wait_for_url(re.compile(r"/alerts/$"))
    trip.step(page, "alert-acknowledged")
    assert page.get_by_text("The alert is acknowledged.").is_visible()
    assert page.locator("#no-alerts").is_visible()
    alert.refresh_from_db()
    assert alert.acknowledged_by == clinician
    assert alert.acknowledgement_note.startswith("Rang Dee")
    trip.finish()


def _mail_page(page, mail) -> None:
    """Show an e-mail from the outbox as a page, so the journey can photograph it."""
    page.set_content(
        '<!doctype html><html lang="en-GB"><head><title>Outbox</title></head><body><main>'
        f"<h1>{html.escape(mail.subject)}</h1><p>To: {html.escape(', '.join(mail.to))}</p>"
        f"<pre>{html.escape(mail.body)}</pre></main></body></html>"
    )


def test_an_unacknowledged_urgent_alert_is_in_the_next_days_digest_and_reaches_the_manager(
    live_server, new_page, journey, mailoutbox
):
    service = ServiceFactory(name="Riverside Team")
    clinician = MembershipFactory(
        service=service,
        role=Membership.Role.CLINICIAN,
        user__username="a.clinician",
        user__email="jo.clinician@nhs.example",
    ).user
    manager = MembershipFactory(
        service=service,
        role=Membership.Role.MANAGER,
        user__username="a.manager",
        user__email="sam.manager@nhs.example",
    ).user
    clinician_secret, manager_secret = ensure_totp(clinician), ensure_totp(manager)
    tuesday = datetime.datetime(2026, 12, 1, 15, 0, tzinfo=datetime.UTC)
    wednesday = datetime.datetime(2026, 12, 2, 8, 0, tzinfo=datetime.UTC)
    with time_machine.travel(tuesday, tick=False):
        start = datetime.date(2026, 11, 17)
        cohort = cohort_create(
            service=service,
            programme=default_programme(),
            name="Tuesday group",
            start_date=start,
            start_time=datetime.time(10, 0),
            venue="Room 2",
            capacity=10,
            facilitators=[clinician],
        )
        enrolment = EnrolmentFactory(cohort=cohort, enrolled_on=start)
        services.administrations_lay_out(enrolment=enrolment)
        adm = Administration.objects.get(
            enrolment=enrolment, timepoint__key="baseline", instrument_code="core10"
        )
        services.administration_enter(
            administration=adm,
            answers=dict.fromkeys(range(1, 11), 1) | {6: 3},
            entered_by=clinician,
            completed_at=timezone.now(),
        )
    alert = RiskAlert.objects.get()
    assert alert.severity == RiskAlert.Severity.URGENT
    assert [m.subject for m in mailoutbox] == [services.URGENT_ALERT_SUBJECT]
    url = live_server.url

    trip = journey("alert-digest-escalation")
    page = new_page()
    sign_in_with_mfa(page, url, "a.clinician", clinician_secret, trip.screenshot)
    page.goto(url + reverse("measures:alert_list"))
    assert page.get_by_role("link", name=re.compile(rf"Open alert {alert.pk}")).is_visible()
    trip.step(page, "alert-open-not-acknowledged")

    # The next morning's run: the alert is still open.
    mailoutbox.clear()
    assert services.risk_alerts_follow_up(now=wednesday) == {"digests": 1, "escalated": 1}
    digest = next(m for m in mailoutbox if m.subject == services.DIGEST_SUBJECT)
    escalation = next(m for m in mailoutbox if m.subject == services.ESCALATION_SUBJECT)
    assert digest.to == [clinician.email]
    assert "Urgent (same-day review): 1" in digest.body
    assert escalation.to == [manager.email]
    assert "Raised: Tuesday 1 December 2026, 15:00" in escalation.body
    # A second run the same morning sends neither again.
    assert services.risk_alerts_follow_up(now=wednesday) == {"digests": 0, "escalated": 0}
    assert len(mailoutbox) == 2
    for mail in mailoutbox:
        assert enrolment.participant.family_name not in mail.body + mail.subject
    _mail_page(page, digest)
    trip.step(page, "outbox-digest-to-facilitator")
    _mail_page(page, escalation)
    trip.step(page, "outbox-escalation-to-manager")

    link = re.search(r"https?://\S+/alerts/\d+/", escalation.body).group(0)
    manager_page = new_page()
    sign_in_with_mfa(manager_page, url, "a.manager", manager_secret, trip.screenshot)
    manager_page.goto(url + urlsplit(link).path)
    manager_page.wait_for_url(re.compile(rf"/alerts/{alert.pk}/$"))
    assert "the service's manager was told" in manager_page.locator("main").inner_text()
    trip.step(manager_page, "manager-opens-the-escalated-alert")
    trip.finish()
