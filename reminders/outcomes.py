"""What can happen to a message: send results and the reasons recorded in Message.last_error.

Both are StrEnums whose values are the codes stored and compared today ("sent", "opted_out"),
so a code read back from the database equals its member. Staff see `reason_text`, never
the bare code.
"""

from enum import StrEnum


class Outcome(StrEnum):
    """What one send attempt did to one claimed message."""

    SENT = "sent"
    DEFERRED = "deferred"  # back to pending, due later (quiet hours, one a day, waiting)
    CANCELLED = "cancelled"  # nothing should go any more (see Reason)
    FAILED = "failed"  # given up; shown to staff with its reason
    RETRY = "retry"  # the provider may take it later; attempts remain
    SKIPPED = "skipped"  # no longer this claim's (sent, swept, re-claimed)


class WhenRequested(StrEnum):
    """When a reminder asked for by staff will go, and why then."""

    NOW = "now"
    QUIET_HOURS = "quiet_hours"
    ALREADY_TODAY = "already_today"


class Reason(StrEnum):
    """Why a message was cancelled, deferred or failed. Never an address, name or body."""

    # Refusals: checked under the row lock just before sending.
    OPTED_OUT = "opted_out"
    ENROLMENT_ENDED = "enrolment_ended"
    COMPLETED = "completed"
    NOT_OPEN = "not_open"
    WINDOW_CLOSED = "window_closed"
    NO_SECOND_REMINDER = "no_second_reminder"
    DEFER_DAY = "defer_day"  # the escalation waits for the second reminder
    NO_CONTACT = "no_contact"
    # Planning.
    NOT_PLANNED = "not_planned"
    CANCELLED = "cancelled"
    # Failures.
    MAX_ATTEMPTS = "max_attempts"
    TEMPLATE_BROKEN = "template_broken"
    SUBJECT_LINE_BREAK = "subject_line_break"
    TEXT_TOO_LONG = "text_too_long"


PLAIN = {
    Reason.OPTED_OUT: "The person has opted out of messages.",
    Reason.ENROLMENT_ENDED: "The person is no longer in the group.",
    Reason.COMPLETED: "The questionnaires were already answered.",
    Reason.NOT_OPEN: "The questionnaires were not open.",
    Reason.WINDOW_CLOSED: "The questionnaires had closed.",
    Reason.NO_SECOND_REMINDER: "No second reminder went, so the facilitators were not told.",
    Reason.DEFER_DAY: "Waiting for the second reminder.",
    Reason.NO_CONTACT: "There is no mobile number or email address to send to.",
    Reason.NOT_PLANNED: "No longer part of the plan after the dates changed.",
    Reason.CANCELLED: "The questionnaires were cancelled.",
    Reason.MAX_ATTEMPTS: "The provider could not be reached after several tries.",
    Reason.TEMPLATE_BROKEN: "The service's wording for this message could not be filled in. "
    "Check it on the wording page.",
    Reason.SUBJECT_LINE_BREAK: "The email subject in the service's wording has a line break. "
    "Correct it on the wording page.",
    Reason.TEXT_TOO_LONG: "The service's wording makes a text message longer than the text "
    "message service takes. Shorten it on the wording page.",
}

# Provider codes recorded by the channel backends (reminders.channels).
PROVIDER_PLAIN = {
    "notify_http_400": "The text message service refused this number or message. "
    "Check the mobile number.",
    "notify_http_403": "The text message service refused Safeground's key. Tell the "
    "system administrator.",
    "notify_http_429": "The text message service was busy after several tries.",
    "email_refused": "The email server refused this address. Check the email address.",
}


def reason_text(code: str) -> str:
    """A sentence staff can act on for a stored reason or provider code."""
    if not code:
        return "No reason recorded."
    if code in PLAIN:
        return PLAIN[Reason(code)]
    if code in PROVIDER_PLAIN:
        return PROVIDER_PLAIN[code]
    if code.startswith("notify_http_5"):
        return "The text message service had a fault after several tries."
    return f"The message could not be sent ({code})."
