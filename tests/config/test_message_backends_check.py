"""Production refuses to keep participants' messages on disk instead of sending them."""

import subprocess
import sys
from pathlib import Path

import pytest

from accounts.checks import production_message_backends

ROOT = Path(__file__).resolve().parents[2]
SMTP = "django.core.mail.backends.smtp.EmailBackend"
FILE_EMAIL = "django.core.mail.backends.filebased.EmailBackend"
FILE_SMS = "reminders.channels.sms.FileSmsBackend"
NOTIFY_SMS = "reminders.channels.sms.NotifySmsBackend"


@pytest.fixture
def production(settings):
    settings.PRODUCTION = True
    settings.ALLOW_FILE_MESSAGE_BACKENDS_IN_PRODUCTION = False
    settings.MAILERS = {"default": {"BACKEND": SMTP, "OPTIONS": {}}}
    settings.SMS_BACKEND = NOTIFY_SMS
    return settings


def refused(settings):
    return [error.msg.split(" ")[0] for error in production_message_backends(None)]


def test_real_providers_pass(production):
    assert refused(production) == []


@pytest.mark.parametrize("email", [FILE_EMAIL, "django.core.mail.backends.console.EmailBackend"])
def test_a_file_or_console_mail_backend_is_refused(production, email):
    production.MAILERS = {"default": {"BACKEND": email, "OPTIONS": {}}}
    assert refused(production) == ["EMAIL_BACKEND"]


@pytest.mark.parametrize("sms", [FILE_SMS, "reminders.channels.sms.FakeSmsBackend"])
def test_a_file_sms_backend_is_refused(production, sms):
    production.SMS_BACKEND = sms
    assert refused(production) == ["SMS_BACKEND"]


def test_the_named_setting_allows_them_deliberately(production):
    production.MAILERS = {"default": {"BACKEND": FILE_EMAIL, "OPTIONS": {}}}
    production.SMS_BACKEND = FILE_SMS
    production.ALLOW_FILE_MESSAGE_BACKENDS_IN_PRODUCTION = True
    assert refused(production) == []


def test_development_keeps_its_outbox(production):
    production.PRODUCTION = False
    production.SMS_BACKEND = FILE_SMS
    assert refused(production) == []


def _check(tmp_path, **extra):
    env = {
        "PATH": "/usr/bin:/bin",
        "SAFEGROUND_ENV": "production",
        "SAFEGROUND_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "ci-" + "k" * 60,
        "ALLOWED_HOSTS": "safeground.example.nhs.uk",
        "EMAIL_BACKEND": SMTP,
        "EMAIL_HOST": "smtp.example.nhs.uk",
        "DEBUG": "false",
        **extra,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_production_without_notify_settings_fails_its_checks(tmp_path):
    """No Notify key used to mean texts silently written to ./data/outbox/sms."""
    result = _check(tmp_path)
    assert result.returncode != 0
    assert "safeground.E003" in result.stderr
    assert "SMS_BACKEND is reminders.channels.sms.FileSmsBackend" in result.stderr


def test_a_production_with_notify_settings_passes_that_check(tmp_path):
    result = _check(tmp_path, NOTIFY_API_KEY="k" * 74, NOTIFY_SMS_TEMPLATE_ID="t")
    assert "safeground.E003" not in result.stderr + result.stdout
