"""Channel backends: how a rendered message leaves the building.

Email goes through Django's mailer (settings.MAILERS). Text messages go through the backend
named by settings.SMS_BACKEND: a file backend by default, so nothing leaves the machine,
GOV.UK Notify when it is configured, and a fake one for tests. Every backend is given the
message row's reference as its idempotency key.
"""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from reminders.channels.base import PermanentSendError, SmsBackend, TransientSendError
from reminders.channels.email import email_send

__all__ = [
    "PermanentSendError",
    "SmsBackend",
    "TransientSendError",
    "email_send",
    "sms_backend",
]


@cache
def _backend_class(path: str) -> type[SmsBackend]:
    return import_string(path)


def sms_backend() -> SmsBackend:
    return _backend_class(settings.SMS_BACKEND)()
