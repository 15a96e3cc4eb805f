"""A logging filter that blanks personal data and secrets a careless log line might carry.

Installed on every handler in settings.LOGGING. It is a second line of defence: code must
not log names, contact details, NHS numbers or tokens in the first place (the canary test
in tests/security checks that), but a library's message or a traceback might.
"""

import logging
import re

_PATTERNS = [
    ("[email]", re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")),
    # Tokens: long runs of URL-safe base64 or hex (a 32-byte token is 43 characters).
    ("[token]", re.compile(r"(?<![\w-])[A-Za-z0-9_-]{24,}(?![\w-])")),
    # UK phone numbers in any common spacing: +44 or 0, then 9 or 10 more digits.
    ("[phone]", re.compile(r"(?<!\d)(?:\+44|0044|0)[\s-]?(?:\d[\s-]?){8,9}\d(?!\d)")),
    # NHS numbers: ten digits, often written 3-3-4.
    ("[nhs-number]", re.compile(r"(?<!\d)\d{3}[\s-]?\d{3}[\s-]?\d{4}(?!\d)")),
]


def redact(text: str) -> str:
    for replacement, pattern in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # A malformed call must still be logged, just not its arguments.
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class TemplateLookupFilter(logging.Filter):
    """Drops the exception from Django's "Exception while resolving variable" records.

    Installed on the django.template logger. At DEBUG, Django logs every failed variable
    lookup with the exception attached, and that exception's text is a dump of the whole
    template context: the signed-in user, a participant's record. The message itself (the
    variable and the template's name) is kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info or record.exc_text:
            record.exc_info = None
            record.exc_text = None
        return True
