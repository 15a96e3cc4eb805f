"""Channel backends: how a rendered message leaves the building.

Email goes through Django's mailer (settings.MAILERS). Text messages go through the backend
named by settings.SMS_BACKEND: a file backend by default, so nothing leaves the machine,
GOV.UK Notify when it is configured, and a fake one for tests. Every backend is given the
message row's reference as its client reference, and can be asked whether a text under
that reference was already accepted.
"""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from reminders.channels.base import PermanentSendError, SmsBackend, TransientSendError
from reminders.channels.email import email_send, email_session

__all__ = [
    "PermanentSendError",
    "SmsBackend",
    "TransientSendError",
    "email_send",
    "email_session",
    "sms_backend",
]


@cache
def _backend_class(path: str) -> type[SmsBackend]:
    return import_string(path)


_instances: dict[str, SmsBackend] = {}


def sms_backend() -> SmsBackend:
    """The process's one instance of the configured backend (one Notify client, one HTTPS
    session, per process)."""
    path = settings.SMS_BACKEND
    if path not in _instances:
        _instances[path] = _backend_class(path)()
    return _instances[path]
