from django.conf import settings
from django.core.mail import EmailMessage

from reminders.channels.base import TransientSendError


def email_send(*, to: list[str], subject: str, body: str, reference: str) -> str:
    """Send through Django's default mailer. The Message-ID carries the row's reference so a
    repeat delivery can be recognised downstream; returns that Message-ID."""
    message_id = f"<{reference}@safeground.invalid>"
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers={"Message-ID": message_id},
    )
    try:
        message.send()
    except OSError as error:  # smtplib errors and socket timeouts are OSErrors
        raise TransientSendError(type(error).__name__) from error
    return message_id
