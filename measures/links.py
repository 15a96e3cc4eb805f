"""Participant links: a random token handed out once, kept only as its SHA-256.

The raw token exists in the message sent to the participant and nowhere else: not in the
database, logs, URLs after the first visit, or audit rows.
"""

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from measures.models import ParticipantLink

TOKEN_BYTES = 32


def token_hash(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


@transaction.atomic
def link_issue(*, participant, expires_at) -> str:
    """Create a link for `participant` and return its raw token (shown or sent once)."""
    raw_token = secrets.token_urlsafe(TOKEN_BYTES)
    ParticipantLink.objects.create(
        participant=participant, token_hash=token_hash(raw_token), expires_at=expires_at
    )
    return raw_token


@transaction.atomic
def link_revoke(*, link: ParticipantLink, revoked_by=None) -> None:
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.revoked_by = revoked_by
        link.save(update_fields=["revoked_at", "revoked_by"])


@transaction.atomic
def links_revoke_for_participant(*, participant, revoked_by=None) -> int:
    """Revoke every live link of one participant; returns how many were revoked."""
    count = 0
    for link in ParticipantLink.objects.select_for_update().filter(
        participant=participant, revoked_at__isnull=True
    ):
        link_revoke(link=link, revoked_by=revoked_by)
        count += 1
    return count


def link_find(raw_token: str) -> ParticipantLink | None:
    """The live link for a token, or None when it is unknown, revoked or expired."""
    link = link_lookup(raw_token)
    if link is None or link.revoked_at is not None or link.expires_at <= timezone.now():
        return None
    return link


def link_lookup(raw_token: str) -> ParticipantLink | None:
    """The link row for a token whatever its state, with the service for the calm page."""
    if not raw_token or len(raw_token) > 200:
        return None
    return (
        ParticipantLink.objects.select_related("participant__service")
        .filter(token_hash=token_hash(raw_token))
        .first()
    )


@transaction.atomic
def link_mark_used(*, link: ParticipantLink) -> None:
    now = timezone.now()
    ParticipantLink.objects.filter(pk=link.pk, first_used_at__isnull=True).update(first_used_at=now)
    ParticipantLink.objects.filter(pk=link.pk).update(last_used_at=now)
