"""Shared steps for browser journeys."""

import re
import time

from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

PASSWORD = "correct horse battery staple"


def current_totp(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def fresh_totp(secret: str, margin: float = 10.0) -> str:
    """A code with at least `margin` seconds of its 30-second step left.

    The server accepts only the current step's code: a code read in the last moments of a
    step can reach the server in the next one (a screenshot between filling and submitting,
    a loaded machine), and the sign-in then stays on the code page. Waiting for the next step
    costs at most `margin` seconds and makes the journey deterministic."""
    left = 30 - time.time() % 30
    if left < margin:
        time.sleep(left + 0.2)
    return current_totp(secret)


def sign_in_with_mfa(page, base_url: str, username: str, secret: str, screenshot=None) -> None:
    """Password, then the authenticator code, through the real sign-in pages."""
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    if screenshot:
        screenshot(page, "sign-in")
    page.get_by_role("button", name=re.compile("sign in", re.I)).click()
    code_field = page.locator("#id_code")
    code_field.wait_for()
    code_field.fill(fresh_totp(secret))
    if screenshot:
        screenshot(page, "second-factor")
    page.get_by_role("button", name=re.compile("sign in", re.I)).click()
    page.wait_for_url(f"{base_url}/")
