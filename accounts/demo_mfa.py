"""Second factors for demonstration accounts, so a tester can sign in with a known secret."""

import base64
import hashlib

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from allauth.mfa.utils import decrypt
from django.conf import settings
from django.db import transaction


def demo_secret(user) -> str:
    """A stable base32 secret per demo account, derived from SECRET_KEY and the username.

    Stable so that re-seeding keeps the tester's authenticator app working; derived from the
    secret key so that two deployments never share one.
    """
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:demo-totp:{user.username}".encode()).digest()
    return base64.b32encode(digest[:20]).decode("ascii")


@transaction.atomic
def ensure_totp(user) -> str:
    """Give `user` a TOTP authenticator (and recovery codes) if missing; return its secret."""
    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if existing is not None:
        secret = decrypt(existing.data["secret"])
    else:
        secret = demo_secret(user)
        TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret
