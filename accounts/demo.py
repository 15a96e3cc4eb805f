"""Demo data for accounts: a second factor for every demo staff account.

Called by the seed_demo command after it has made the demo users. Idempotent: an account
that already has an authenticator keeps it, so re-seeding never breaks a tester's app.
"""

import time

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

from accounts.demo_mfa import ensure_totp
from accounts.models import User


def seed(stdout) -> None:
    users = User.objects.filter(memberships__isnull=False).distinct().order_by("username")
    stdout.write("Second factor (TOTP) for each demo account: add the secret to an app,")
    stdout.write("or type the current code shown (valid for about 30 seconds).")
    for user in users:
        secret = ensure_totp(user)
        counter = int(time.time()) // mfa_settings.TOTP_PERIOD
        code = format_hotp_value(hotp_value(secret, counter))
        stdout.write(f"  {user.username:<20} TOTP secret {secret}  (code now: {code})")
