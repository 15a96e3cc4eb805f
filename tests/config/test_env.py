"""The environment helpers refuse what a deployment most likely did by mistake."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value", ["", " ", "\t"])
def test_an_empty_boolean_is_refused_not_read_as_false(monkeypatch, value):
    monkeypatch.setenv("SAFEGROUND_TEST_SWITCH", value)
    with pytest.raises(ImproperlyConfigured, match="SAFEGROUND_TEST_SWITCH is set but empty"):
        env_bool("SAFEGROUND_TEST_SWITCH", True)


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("On", True), ("1", True), ("no", False), ("0", False)]
)
def test_a_boolean_reads_its_words(monkeypatch, value, expected):
    monkeypatch.setenv("SAFEGROUND_TEST_SWITCH", value)
    assert env_bool("SAFEGROUND_TEST_SWITCH", not expected) is expected


def test_an_unset_boolean_takes_its_default(monkeypatch):
    monkeypatch.delenv("SAFEGROUND_TEST_SWITCH", raising=False)
    assert env_bool("SAFEGROUND_TEST_SWITCH", True) is True


def test_production_refuses_to_start_with_an_empty_ssl_redirect(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "SAFEGROUND_ENV": "production",
        "SAFEGROUND_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "safeground.example.nhs.uk",
        "SECURE_SSL_REDIRECT": "",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT is set but empty" in result.stderr
