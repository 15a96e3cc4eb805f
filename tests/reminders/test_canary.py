"""With canary personal data in the database, the rendered email and text carry none of it."""

import datetime

import pytest
import time_machine
from django.core import mail

from reminders.models import Message
from reminders.services import message_send, messages_claim, messages_plan
from tests.factories import EnrolmentFactory, ParticipantFactory, ServiceFactory
from tests.reminders.conftest import open_window

NOW = datetime.datetime(2026, 5, 12, 10, tzinfo=datetime.UTC)
CANARIES = {
    "given_name": "Canaryname",
    "family_name": "Zzyzx",
    "email": "canary.zzyzx@example.com",
    "mobile": "+447700900999",
    "nhs_number": "9434765919",
    "reference": "CANARY-REF-4417",
}
SERVICE_NAME = "Canary Personality Disorder Service"
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_rendered_messages_contain_no_personal_data(sms_outbox, channel):
    service = ServiceFactory(name=SERVICE_NAME, public_name="Your NHS team")
    participant = ParticipantFactory(service=service, preferred_channel=channel, **CANARIES)
    open_window(
        opens_on=datetime.date(2026, 5, 12),
        closes_on=datetime.date(2026, 6, 9),
        enrolment=EnrolmentFactory(cohort__service=service, participant=participant),
    )
    with time_machine.travel(NOW, tick=False):
        messages_plan(today=datetime.date(2026, 5, 12))
        claim = messages_claim(now=NOW, limit=10, worker="canary")
        assert [message_send(message_id=i, claim=claim.token) for i in claim.ids] == ["sent"]
    if channel == "sms":
        (call,) = sms_outbox.calls
        assert call["to"] == CANARIES["mobile"]
        rendered = call["body"]
    else:
        (email,) = mail.outbox
        assert email.to == [CANARIES["email"]]
        rendered = "\n".join([email.subject, email.body, email.from_email])
    assert "/q/" in rendered
    lowered = rendered.lower()
    for value in [*CANARIES.values(), "07700 900999", "943 476 5919", SERVICE_NAME, "Personality"]:
        assert value.lower() not in lowered, value
    message = Message.objects.get(kind="invitation")
    stored = " ".join(str(getattr(message, f.attname)) for f in Message._meta.concrete_fields)
    for value in CANARIES.values():
        assert value not in stored
