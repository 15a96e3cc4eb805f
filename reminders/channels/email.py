import contextlib
import smtplib

from django.conf import settings
from django.core import mail
from django.core.mail import EmailMessage

from reminders.channels.base import PermanentSendError, TransientSendError


@contextlib.contextmanager
def email_session():
    """One mailer connection (one SMTP connection and login) for a whole batch."""
    mailer = mail.mailers.default
    try:
        mailer.open()
    except OSError as error:
        raise TransientSendError(type(error).__name__) from error
    try:
        yield mailer
    finally:
        with contextlib.suppress(OSError):
            mailer.close()


def email_send(*, to: list[str], subject: str, body: str, reference: str, mailer=None) -> str:
    """Send through `mailer` (an open session from email_session) or Django's default
    mailer. The Message-ID carries the row's reference so a repeat delivery can be
    recognised downstream; returns that Message-ID."""
    if "\n" in subject or "\r" in subject:
        raise PermanentSendError("subject_line_break")
    message_id = f"<{reference}@safeground.invalid>"
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers={"Message-ID": message_id},
    )
    try:
        if mailer is None:
            message.send()
        else:
            mailer.send_messages([message])
    except smtplib.SMTPRecipientsRefused as error:
        raise PermanentSendError("email_refused") from error
    except OSError as error:  # smtplib errors and socket timeouts are OSErrors
        raise TransientSendError(type(error).__name__) from error
    except ValueError as error:  # a header Django refuses to write
        raise PermanentSendError("email_header_invalid") from error
    return message_id
