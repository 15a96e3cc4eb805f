import itertools
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
    wording stays editable per service in Safeground.

    Notify has no idempotency key: `reference` is only stored with the notification. So
    `find` lists notifications by reference (Notify keeps them for seven days), and a
    message that may have reached Notify is looked up before it is sent again.
    """

    def __init__(self):
        from notifications_python_client.notifications import NotificationsAPIClient

        # One client per process: its requests session keeps the HTTPS connection open.
        self.client = NotificationsAPIClient(
            settings.NOTIFY_API_KEY, base_url=settings.NOTIFY_BASE_URL, timeout=20
        )

    def find(self, *, reference: str) -> str | None:
        from notifications_python_client.errors import HTTPError
        from requests import RequestException

        try:
            found = self.client.get_all_notifications(template_type="sms", reference=reference)
        except HTTPError as error:
            raise TransientSendError(f"notify_http_{getattr(error, 'status_code', 0)}") from error
        except RequestException as error:
            raise TransientSendError(type(error).__name__) from error
        for notification in found.get("notifications", []):
            if notification.get("reference") == reference and notification.get("status") not in (
                "permanent-failure",
                "technical-failure",
                "validation-failed",
            ):
                return str(notification["id"])
        return None

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

    calls/<reference>.<pid>.<n>      one per call to send()
    delivered/<reference>.<pid>.<n>  one per text accepted: like GOV.UK Notify, a repeat
                                     call with the same reference sends the text again
    found/<reference>.<pid>.<n>      one per look-up that found an accepted text
    SAFEGROUND_FAKE_SMS_DELAY (seconds) stands in for a provider's latency, and
    SAFEGROUND_FAKE_SMS_FAIL=<n> makes the first n calls for each reference fail transiently.
    """

    _calls = itertools.count(1)  # next() is atomic: a batch's texts go from several threads

    def _root(self):
        root = settings.OUTBOX_DIR / "fake-sms"
        for folder in ("calls", "delivered", "found"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        return root

    def _name(self, reference: str) -> str:
        return f"{reference}.{os.getpid()}.{next(FakeSmsBackend._calls)}"

    def send(self, *, to: str, body: str, reference: str) -> str:
        import time

        root = self._root()
        (root / "calls" / self._name(reference)).touch()
        failures = int(os.environ.get("SAFEGROUND_FAKE_SMS_FAIL", "0"))
        earlier = len(list((root / "calls").glob(f"{reference}.*")))
        if earlier <= failures:
            raise TransientSendError("fake_unavailable")
        time.sleep(float(os.environ.get("SAFEGROUND_FAKE_SMS_DELAY", "0")))
        with open(root / "delivered" / self._name(reference), "x", encoding="utf-8") as handle:
            handle.write(json.dumps({"to": to, "body": body}))
        return f"fake:{reference}"

    def find(self, *, reference: str) -> str | None:
        root = self._root()
        if any((root / "delivered").glob(f"{reference}.*")):
            (root / "found" / self._name(reference)).touch()
            return f"fake:{reference}"
        return None


class LocmemSmsBackend(SmsBackend):
    """For tests in one process: keeps every call in `calls`, delivers once per reference."""

    calls: list[dict] = []
    delivered: dict[str, dict] = {}

    def send(self, *, to: str, body: str, reference: str) -> str:
        record = {"to": to, "body": body, "reference": reference}
        LocmemSmsBackend.calls.append(record)
        LocmemSmsBackend.delivered.setdefault(reference, record)
        return f"locmem:{reference}"

    def find(self, *, reference: str) -> str | None:
        return f"locmem:{reference}" if reference in LocmemSmsBackend.delivered else None
