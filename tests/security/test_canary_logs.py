"""Canary personal data and a live token go through the main flows; the captured logs, at
DEBUG level, contain none of them.

The flows: adding and editing a participant, searching, the participant page, issuing a
link, the participant answering by link (and an expired or mistyped link), a reminder sent
by staff and the dispatcher that delivers it, failed sign-ins with the canary as the
username, a subject access export and the retention job.
"""

import datetime as dt
import logging
import re

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from nhs_number import is_valid as nhs_number_is_valid

from accounts.services import (
    participant_contacts_blank,
    subject_access_request_approve,
    subject_access_request_create,
    subject_access_request_release,
)
from participants.models import Participant
from programmes.services import enrolment_create
from tests.conftest import sign_in
from tests.factories import CohortFactory, MembershipFactory
from tests.security.helpers import password_step

NAME = ("Canaryname", "Zzyzx")
EMAIL = "canary.zzyzx@example.com"
PHONE = "07700 900999"
NHS_NUMBER = "9434765919"
NOW = dt.datetime(2026, 1, 8, 10, 0, tzinfo=dt.UTC)


def canary_forms(token: str) -> list[str]:
    digits = PHONE.replace(" ", "")
    return [
        *NAME,
        EMAIL,
        PHONE,
        digits,
        "+44" + digits[1:],
        digits[1:],
        NHS_NUMBER,
        f"{NHS_NUMBER[:3]} {NHS_NUMBER[3:6]} {NHS_NUMBER[6:]}",
        token,
        token[:16],
    ]


def logged_text(caplog) -> str:
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
        parts.extend(str(v) for k, v in vars(record).items() if k not in {"msg", "args"})
    return "\n".join(parts)


@pytest.fixture(autouse=True)
def raw_records():
    """Take the redacting filter off the handlers, so the test sees what the code logs.

    The filter rewrites each record in place for every handler after it, caplog's included;
    with it on, only names would be checked. Code must not log the data in the first place.
    """
    from accounts.log_redaction import RedactingFilter

    removed = []
    for handler in logging.getLogger().handlers:
        for flt in list(handler.filters):
            if isinstance(flt, RedactingFilter):
                handler.removeFilter(flt)
                removed.append((handler, flt))
    yield
    for handler, flt in removed:
        handler.addFilter(flt)


def test_the_canary_nhs_number_is_valid():
    assert nhs_number_is_valid(NHS_NUMBER)


@pytest.mark.django_db
def test_no_canary_reaches_the_logs(caplog, client_factory, service, clinician, fresh_cache):
    caplog.set_level(logging.DEBUG)
    colleague = MembershipFactory(service=service, user__username="second").user
    token = ""
    with time_machine.travel(NOW, tick=True):
        staff = sign_in(client_factory(), clinician)
        staff.post(
            reverse("participants:participant_create"),
            {
                "service": service.pk,
                "reference": "CAN001",
                "given_name": NAME[0],
                "family_name": NAME[1],
                "nhs_number": NHS_NUMBER,
                "email": EMAIL,
                "mobile": PHONE,
                "preferred_channel": "sms",
            },
        )
        participant = Participant.objects.get(reference="CAN001")
        assert participant.given_name == NAME[0]
        # A duplicate NHS number and a bad e-mail: error paths log too, if anything does.
        staff.post(
            reverse("participants:participant_create"),
            {
                "service": service.pk,
                "reference": "CAN002",
                "given_name": NAME[0],
                "family_name": NAME[1],
                "nhs_number": NHS_NUMBER,
                "email": "canary.zzyzx@",
                "mobile": PHONE,
                "preferred_channel": "sms",
            },
        )
        staff.get(reverse("participants:participant_list"), {"q": NAME[0]})
        staff.get(reverse("participants:participant_list"), {"q": NHS_NUMBER})
        staff.get(reverse("participants:participant_detail", args=[participant.pk]))

        cohort = CohortFactory(service=service, start_date=dt.date(2026, 1, 6))
        cohort.facilitators.add(clinician)
        enrolment_create(cohort=cohort, participant=participant, enrolled_on=cohort.start_date)
        from measures import services as measure_services
        from measures.models import Administration

        if not Administration.objects.filter(enrolment__participant=participant).exists():
            measure_services.administrations_lay_out(enrolment=participant.enrolments.get())

        page = staff.post(reverse("measures:link_new", args=[participant.pk]))
        match = re.search(r"/q/([A-Za-z0-9_-]{32,})", page.content.decode())
        assert match, "the link page shows the new link"
        token = match.group(1)

        person = client_factory()
        person.get(reverse("questionnaire:landing", args=[token]))
        assert person.post(reverse("questionnaire:start"), {"token": token}).status_code == 302
        assert person.get(reverse("questionnaire:home")).status_code == 200
        person.get(reverse("questionnaire:landing", args=[token[:-2] + "xx"]))
        person.get(f"/q/{token}/not-a-page/")

        staff.post(reverse("reminders:send_now", args=[participant.pk]))
        call_command("dispatch_reminders", stdout=open("/dev/null", "w"))  # noqa: SIM115

        anonymous = client_factory()
        password_step(anonymous, EMAIL, "wrong password " + NHS_NUMBER)
        password_step(anonymous, NAME[0], PHONE)

        sar = subject_access_request_create(
            service_id=service.pk,
            participant_id=participant.pk,
            received_on=dt.date(2026, 1, 7),
            note="",
            by=clinician,
        )
        subject_access_request_approve(sar=sar, by=colleague)
        subject_access_request_release(sar=sar)
        staff.get(reverse("accounts:sar_download", args=[sar.pk, "json"]))
        staff.get(reverse("accounts:sar_download", args=[sar.pk, "html"]))
        staff.post(reverse("account_logout"))

    participant.enrolments.update(status="discharged", ended_on=dt.date(2026, 1, 8))
    participant_contacts_blank(older_than_days=1, today=dt.date(2027, 1, 1))

    assert caplog.records, "the flows logged nothing at all, so the test proves nothing"
    text = logged_text(caplog)
    leaked = [value for value in canary_forms(token) if value and value in text]
    assert leaked == []


def test_the_check_catches_a_leak(caplog):
    """The harness itself: an application logger at DEBUG is captured and flagged."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger("participants.services").debug("sending to %s", EMAIL)
    assert EMAIL in logged_text(caplog)
