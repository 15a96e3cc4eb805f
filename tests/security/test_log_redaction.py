"""The logging filter installed on every handler blanks personal data and secrets."""

import logging
import secrets

import pytest
from django.conf import settings
from django.template import Context, Template

from accounts.log_redaction import RedactingFilter, redact


@pytest.mark.parametrize(
    "secret",
    [
        "canary.zzyzx@example.com",
        "first.last+tag@nhs.net",
        "07700 900999",
        "07700900999",
        "+44 7700 900999",
        "+447700900999",
        "0113 496 0000",
        "9434765919",
        "943 476 5919",
        "943-476-5919",
        # New each run; named, so that parallel test workers collect the same test ids.
        pytest.param(secrets.token_urlsafe(32), id="a link token"),
        pytest.param(secrets.token_hex(32), id="a hex token"),
    ],
)
def test_redact_removes_the_value(secret):
    assert secret not in redact(f"sending to {secret} now")


def test_redact_keeps_ordinary_words_numbers_and_dates():
    line = "participant 42 enrolled in cohort 7 on 2026-03-02 at 10:00, 3 of 12 sessions"
    assert redact(line) == line


def make_record(msg, *args, exc_info=None):
    return logging.LogRecord("x", logging.INFO, __file__, 1, msg, args, exc_info)


def test_filter_redacts_arguments_and_tracebacks():
    try:
        raise ValueError("bad address canary.zzyzx@example.com")
    except ValueError:
        import sys

        record = make_record(
            "contact %s on %s", "canary.zzyzx@example.com", "07700 900999", exc_info=sys.exc_info()
        )
    assert RedactingFilter().filter(record) is True
    text = logging.Formatter().format(record)
    assert "canary.zzyzx@example.com" not in text
    assert "07700 900999" not in text
    assert "contact [email] on [phone]" in text
    assert "ValueError" in text


def test_filter_survives_a_malformed_call():
    record = make_record("two %s %s", "only one")
    assert RedactingFilter().filter(record) is True


def test_every_configured_handler_has_the_redacting_filter():
    handlers = settings.LOGGING["handlers"]
    assert handlers
    for name, handler in handlers.items():
        assert "redact" in handler.get("filters", []), name
    root = logging.getLogger()
    console = [
        h
        for h in root.handlers
        if isinstance(h, logging.StreamHandler) and not type(h).__module__.startswith("_pytest")
    ]
    assert console
    for handler in console:
        assert any(isinstance(f, RedactingFilter) for f in handler.filters)


def test_a_failed_template_lookup_is_logged_without_the_template_context(caplog):
    caplog.set_level(logging.DEBUG, logger="django.template")
    context = Context({"person": {"name": "Canaryname Zzyzx"}})
    assert Template("{{ person.missing }}").render(context) == ""
    records = [r for r in caplog.records if r.name == "django.template"]
    assert records, "Django logs the failed lookup at DEBUG"
    for record in records:
        assert record.exc_info is None and not record.exc_text
        assert "Canaryname" not in record.getMessage()
    assert "'missing'" in records[0].getMessage()  # what failed is still said


def test_djangos_own_loggers_write_only_through_the_redacting_console():
    loggers = settings.LOGGING["loggers"]
    # Django's default handlers (console when DEBUG is on, mail_admins) have no redaction.
    assert loggers["django"]["handlers"] == []
    assert loggers["django"].get("propagate", True)
    # runserver's request lines go to the redacting console, not Python's bare fallback.
    assert loggers["django.server"]["handlers"] == ["console"]
    assert "redact" in settings.LOGGING["handlers"]["console"]["filters"]
    configured = [
        h for h in logging.getLogger("django.server").handlers if h.get_name() == "console"
    ]
    assert configured and isinstance(configured[0].filters[0], RedactingFilter)
