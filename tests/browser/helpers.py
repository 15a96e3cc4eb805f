"""Shared steps for browser journeys."""

import re
import time

from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

PASSWORD = "correct horse battery staple"


def current_totp(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def sign_in_with_mfa(page, base_url: str, username: str, secret: str, screenshot=None) -> None:
    """Password, then the authenticator code, through the real sign-in pages."""
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    if screenshot:
        screenshot(page, "sign-in")
    page.get_by_role("button", name=re.compile("sign in", re.I)).click()
    page.locator("#id_code").fill(current_totp(secret))
    if screenshot:
        screenshot(page, "second-factor")
    page.get_by_role("button", name=re.compile("sign in", re.I)).click()
    page.wait_for_url(f"{base_url}/")
