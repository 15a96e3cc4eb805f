import json
import os

from django.conf import settings
from django.utils import timezone

from reminders.channels.base import PermanentSendError, SmsBackend, TransientSendError


class FileSmsBackend(SmsBackend):
    """Writes each text to data/outbox/sms/<reference>.json; nothing leaves the machine.

    Creating the file exclusively makes the reference an idempotency key, as a provider
    that honours one would.
    """

    def send(self, *, to: str, body: str, reference: str) -> str:
        folder = settings.SMS_OUTBOX_DIR
        folder.mkdir(parents=True, exist_ok=True)
        record = {"to": to, "body": body, "reference": reference, "at": timezone.now().isoformat()}
        try:
            with open(folder / f"{reference}.json", "x", encoding="utf-8") as handle:
                json.dump(record, handle, indent=2)
        except FileExistsError:
            pass
        return f"file:{reference}"


class NotifySmsBackend(SmsBackend):
    """GOV.UK Notify. The Notify template must be a single placeholder, ((body)), so the
    wording stays editable per service in Safeground."""

    def __init__(self):
        from notifications_python_client.notifications import NotificationsAPIClient

        self.client = NotificationsAPIClient(settings.NOTIFY_API_KEY, timeout=20)

    def send(self, *, to: str, body: str, reference: str) -> str:
        from notifications_python_client.errors import HTTPError
        from requests import RequestException

        try:
            response = self.client.send_sms_notification(
                phone_number=to,
                template_id=settings.NOTIFY_SMS_TEMPLATE_ID,
                personalisation={"body": body},
                reference=reference,
                sms_sender_id=settings.NOTIFY_SMS_SENDER_ID or None,
            )
        except HTTPError as error:
            status = getattr(error, "status_code", 0) or 0
            if status == 429 or status >= 500:
                raise TransientSendError(f"notify_http_{status}") from error
            raise PermanentSendError(f"notify_http_{status}") from error
        except RequestException as error:
            raise TransientSendError(type(error).__name__) from error
        return str(response["id"])


class FakeSmsBackend(SmsBackend):
    """For tests across processes: every call and every delivery is a file under
    <SAFEGROUND_DATA_DIR>/outbox/fake-sms, so a test can count both per reference.

    calls/<reference>.<pid>.<n>  one per call to send()
    delivered/<reference>        created once; a repeat call with the same reference is
                                 answered from it, as an idempotent provider would
    SAFEGROUND_FAKE_SMS_DELAY (seconds) stands in for a provider's latency, and
    SAFEGROUND_FAKE_SMS_FAIL=<n> makes the first n calls for each reference fail transiently.
    """

    _calls = 0

    def send(self, *, to: str, body: str, reference: str) -> str:
        import time

        root = settings.OUTBOX_DIR / "fake-sms"
        (root / "calls").mkdir(parents=True, exist_ok=True)
        (root / "delivered").mkdir(parents=True, exist_ok=True)
        FakeSmsBackend._calls += 1
        (root / "calls" / f"{reference}.{os.getpid()}.{FakeSmsBackend._calls}").touch()
        failures = int(os.environ.get("SAFEGROUND_FAKE_SMS_FAIL", "0"))
        earlier = len(list((root / "calls").glob(f"{reference}.*")))
        if earlier <= failures:
            raise TransientSendError("fake_unavailable")
        time.sleep(float(os.environ.get("SAFEGROUND_FAKE_SMS_DELAY", "0")))
        try:
            with open(root / "delivered" / reference, "x", encoding="utf-8") as handle:
                handle.write(json.dumps({"to": to, "body": body}))
        except FileExistsError:
            pass
        return f"fake:{reference}"


class LocmemSmsBackend(SmsBackend):
    """For tests in one process: keeps every call in `calls`, delivers once per reference."""

    calls: list[dict] = []
    delivered: dict[str, dict] = {}

    def send(self, *, to: str, body: str, reference: str) -> str:
        record = {"to": to, "body": body, "reference": reference}
        LocmemSmsBackend.calls.append(record)
        LocmemSmsBackend.delivered.setdefault(reference, record)
        return f"locmem:{reference}"
