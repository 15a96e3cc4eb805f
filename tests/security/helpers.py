"""Signing in through the real allauth flow (password, then the second factor)."""

import time

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's password


def current_code(secret: str, *, offset: int = 0) -> str:
    counter = int(time.time()) // mfa_settings.TOTP_PERIOD + offset
    return format_hotp_value(hotp_value(secret, counter))


def password_step(client, username: str, password: str = PASSWORD, **extra):
    return client.post("/accounts/login/", {"login": username, "password": password}, **extra)
