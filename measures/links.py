"""Participant links: a random token handed out once, kept only as its SHA-256.

The raw token exists in the message sent to the participant and nowhere else: not in the
database, logs, URLs after the first visit, or audit rows.
"""

import base64
import hashlib
import secrets

from auditlog.models import LogEntry
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.audit import record_bulk_changes
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


def derived_token(key: str) -> str:
    """A token worked out from `key` (a message's reference) and the secret key, the way
    Django's password-reset tokens are. The same key always gives the same token, so a
    message tried again carries the link minted for it the first time, while the raw token
    is still kept nowhere."""
    digest = salted_hmac("measures.links.derived_token", key, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@transaction.atomic
def links_issue_derived(*, wanted: dict[str, tuple[int, object]]) -> dict[str, str]:
    """Links for many keys at once: `wanted` maps key -> (participant id, expires_at).

    A key that already has its link reuses it (its expiry moved to `expires_at` if the
    window moved); the rest are minted in one insert, audited in one more. Returns
    key -> raw token.
    """
    tokens = {key: derived_token(key) for key in wanted}
    hashes = {key: token_hash(token) for key, token in tokens.items()}
    existing = {
        link.token_hash: link
        for link in ParticipantLink.objects.filter(token_hash__in=list(hashes.values()))
    }
    new, moved = [], []
    for key, (participant_id, expires_at) in wanted.items():
        link = existing.get(hashes[key])
        if link is None:
            new.append(
                ParticipantLink(
                    participant_id=participant_id, token_hash=hashes[key], expires_at=expires_at
                )
            )
        elif link.expires_at != expires_at and link.revoked_at is None:
            moved.append((link, {"expires_at": [link.expires_at, expires_at]}))
            link.expires_at = expires_at
    created = ParticipantLink.objects.bulk_create(new)
    record_bulk_changes(
        entries=[
            (
                link,
                {"participant": [None, link.participant_id], "expires_at": [None, link.expires_at]},
            )
            for link in created
        ],
        action=LogEntry.Action.CREATE,
    )
    if moved:
        ParticipantLink.objects.bulk_update([link for link, _ in moved], ["expires_at"])
        record_bulk_changes(entries=moved)
    return tokens


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
    return link if link is not None and link_is_live(link) else None


def link_is_live(link: ParticipantLink) -> bool:
    """Neither revoked nor expired."""
    return link.revoked_at is None and link.expires_at > timezone.now()


# What the link's pages read: whether it is live, whose it is, and the service's public name
# and phone for the calm page (none of the participant's own details).
LOOKUP_FIELDS = (
    "id",
    "participant",
    "expires_at",
    "revoked_at",
    "participant__service",
    "participant__service__public_name",
    "participant__service__phone",
)


def link_lookup(raw_token: str) -> ParticipantLink | None:
    """The link row for a token whatever its state, with the service for the calm page."""
    if not raw_token or len(raw_token) > 200:
        return None
    return (
        ParticipantLink.objects.select_related("participant__service")
        .only(*LOOKUP_FIELDS)
        .filter(token_hash=token_hash(raw_token))
        .first()
    )


def link_mark_used(*, link: ParticipantLink) -> None:
    """First and last use, in one statement (atomic on its own)."""
    now = timezone.now()
    ParticipantLink.objects.filter(pk=link.pk).update(
        first_used_at=Coalesce(F("first_used_at"), Value(now)), last_used_at=now
    )
