"""Security headers on every response, and the production transport settings."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

REPO = Path(__file__).resolve().parents[2]


def csp_of(response) -> str:
    return response["Content-Security-Policy"]


def sample_responses(client, clinician):
    """Anonymous and signed-in pages, an error page, a participant page, the admin."""
    responses = {
        "login": client.get(reverse("account_login")),
        "anonymous home": client.get(reverse("home")),
        "not found": client.get("/no-such-page/"),
        "participant link": client.get("/q/not-a-real-link/"),
    }
    from tests.conftest import sign_in

    sign_in(client, clinician)
    responses["home"] = client.get(reverse("home"))
    responses["mfa"] = client.get(reverse("mfa_index"))
    responses["admin"] = client.get("/admin/")
    return responses


@pytest.mark.django_db
def test_every_response_has_a_strict_csp_with_a_nonce(client, clinician):
    for name, response in sample_responses(client, clinician).items():
        policy = csp_of(response)
        directives = dict(
            (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
        )
        assert "'unsafe-inline'" not in policy, name
        assert "'unsafe-eval'" not in policy, name
        assert directives["default-src"] == ["'self'"], name
        assert directives["object-src"] == ["'none'"], name
        assert directives["frame-ancestors"] == ["'none'"], name
        # Django adds the nonce only when the page used it (every page with a script does);
        # a redirect or bare error allows no inline script at all, which is stricter still.
        if b"<script" in response.content:
            nonces = [v for v in directives["script-src"] if re.fullmatch(r"'nonce-[\w+/=-]+'", v)]
            assert nonces, name
        # No third-party origin anywhere: only keywords, nonces and data: images.
        for values in directives.values():
            for value in values:
                assert value.startswith("'") or value == "data:", (name, value)


@pytest.mark.django_db
def test_the_nonce_changes_per_response_and_is_on_the_page_scripts(client, clinician):
    from tests.conftest import sign_in

    sign_in(client, clinician)
    first = client.get(reverse("home"))
    second = client.get(reverse("home"))
    nonce = re.search(r"'nonce-([^']+)'", csp_of(first)).group(1)
    assert nonce != re.search(r"'nonce-([^']+)'", csp_of(second)).group(1)
    scripts = re.findall(r"<script\b[^>]*>", first.content.decode())
    assert scripts
    for tag in scripts:
        assert f'nonce="{nonce}"' in tag
        assert "src=" in tag


@pytest.mark.django_db
def test_every_page_is_no_store(client, clinician):
    for name, response in sample_responses(client, clinician).items():
        assert "no-store" in response["Cache-Control"], name


@pytest.mark.django_db
def test_participant_pages_send_no_referrer(client):
    for path in ["/q/", "/q/anything/", "/q/some/deeper/page/"]:
        assert client.get(path)["Referrer-Policy"] == "no-referrer", path


@pytest.mark.django_db
def test_staff_pages_keep_same_origin_referrer(client, clinician):
    from tests.conftest import sign_in

    sign_in(client, clinician)
    assert client.get(reverse("home"))["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_framing_and_sniffing_are_refused(client):
    response = client.get(reverse("account_login"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


PRODUCTION_ENV = {
    "SAFEGROUND_ENV": "production",
    "SECRET_KEY": "x" * 20 + "production-shaped-key-for-a-settings-test-only-4f9c1a",
    "ALLOWED_HOSTS": "safeground.example.nhs.uk",
    "DATABASE_URL": "postgres://app@db.example.nhs.uk/safeground",
    "REDIS_URL": "redis://cache.example.nhs.uk:6379/0",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "smtp.example.nhs.uk",
    # Texts through GOV.UK Notify: production refuses the file backend (safeground.E003).
    "NOTIFY_API_KEY": "production-shaped-notify-key-for-a-settings-test-only",
    "NOTIFY_SMS_TEMPLATE_ID": "00000000-0000-4000-8000-000000000000",
}


def production_settings() -> dict:
    code = (
        "import json; from config import settings as s; print(json.dumps({k: getattr(s, k) "
        "for k in ['SESSION_COOKIE_SECURE','CSRF_COOKIE_SECURE','SESSION_COOKIE_HTTPONLY',"
        "'CSRF_COOKIE_HTTPONLY','SECURE_HSTS_SECONDS','SECURE_HSTS_INCLUDE_SUBDOMAINS',"
        "'SECURE_SSL_REDIRECT','DEBUG']}))"
    )
    env = {k: v for k, v in os.environ.items() if k not in NOT_IN_PRODUCTION} | PRODUCTION_ENV
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def test_production_cookies_are_secure_and_http_only_with_hsts():
    values = production_settings()
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["CSRF_COOKIE_HTTPONLY"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["DEBUG"] is False


# Test-run variables a production process would not have (the browser harness sets the last).
NOT_IN_PRODUCTION = {"DEBUG", "CI", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def test_deploy_check_is_clean_under_production_settings():
    env = {k: v for k, v in os.environ.items() if k not in NOT_IN_PRODUCTION} | PRODUCTION_ENV
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_hsts_is_sent_over_https_when_configured(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    response = client.get(reverse("account_login"), secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_a_missing_csrf_middleware_is_an_error(settings):
    from accounts.checks import csrf_middleware_installed

    assert csrf_middleware_installed(None) == []
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if "csrf" not in m.lower() and "Csrf" not in m
    ]
    assert [e.id for e in csrf_middleware_installed(None)] == ["safeground.E002"]
