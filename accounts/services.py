"""Writes for staff accounts."""

from django.db import transaction
from django.utils import timezone

from accounts.models import User


@transaction.atomic
def user_sessions_end(*, user: User) -> User:
    """End every session `user` has open now (SessionLifetimeMiddleware enforces it)."""
    user.sessions_revoked_at = timezone.now()
    user.save(update_fields=["sessions_revoked_at"])
    return user
