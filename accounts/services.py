"""Writes for staff accounts, subject access requests and contact-detail retention."""

import datetime

from auditlog.models import LogEntry
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.audit import record_bulk_changes
from accounts.models import SubjectAccessRequest, User

SAR = SubjectAccessRequest


@transaction.atomic
def user_sessions_end(*, user: User) -> User:
    """End every session `user` has open now (SessionLifetimeMiddleware enforces it)."""
    user.sessions_revoked_at = timezone.now()
    user.save(update_fields=["sessions_revoked_at"])
    return user


@transaction.atomic
def subject_access_request_create(
    *, service_id: int, participant_id: int, received_on: datetime.date, note: str, by: User
) -> SAR:
    return SAR.objects.create(
        service_id=service_id,
        participant_id=participant_id,
        received_on=received_on,
        note=note,
        requested_by=by,
    )


@transaction.atomic
def subject_access_request_approve(*, sar: SAR, by: User) -> SAR:
    sar = SAR.objects.select_for_update().get(pk=sar.pk)
    if sar.status != SAR.Status.REQUESTED:
        raise ValidationError("This request has already been reviewed.", code="not_requested")
    if sar.requested_by_id == by.pk:
        raise ValidationError(
            "A second clinician must review a request: you made this one.", code="same_reviewer"
        )
    sar.status = SAR.Status.APPROVED
    sar.reviewed_by = by
    sar.reviewed_at = timezone.now()
    sar.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    return sar


@transaction.atomic
def subject_access_request_release(*, sar: SAR) -> SAR:
    sar = SAR.objects.select_for_update().get(pk=sar.pk)
    if sar.status == SAR.Status.REQUESTED:
        raise ValidationError("A second clinician has not reviewed this yet.", code="unreviewed")
    if sar.status == SAR.Status.APPROVED:
        sar.status = SAR.Status.RELEASED
        sar.released_at = timezone.now()
        sar.save(update_fields=["status", "released_at"])
    return sar


# Placed in the audit trail instead of the old value: keeping the address there would
# defeat the point of removing it.
REMOVED = "[removed by retention]"
CONTACT_FIELDS = ("email", "mobile")


@transaction.atomic
def participant_contacts_blank(*, older_than_days: int, today: datetime.date) -> int:
    """Blank e-mail and mobile of participants whose enrolments all ended long enough ago.

    Only participants with at least one enrolment qualify: someone referred but never
    enrolled is still being contacted. Returns how many participants were changed.
    """
    participant_model = apps.get_model("participants", "Participant")
    enrolment_model = apps.get_model("programmes", "Enrolment")
    cutoff = today - datetime.timedelta(days=older_than_days)
    enrolments = enrolment_model.objects.filter(participant=OuterRef("pk"))
    still_open_or_recent = enrolments.filter(
        Q(ended_on__isnull=True) | Q(ended_on__gte=cutoff) | Q(status__in=["referred", "active"])
    )
    due = list(
        participant_model.objects.select_for_update()
        .filter(Exists(enrolments))
        .exclude(Exists(still_open_or_recent))
        .exclude(email="", mobile="")
        .order_by("pk")
    )
    if not due:
        return 0
    entries = []
    for participant in due:
        changes = {field: [REMOVED, ""] for field in CONTACT_FIELDS if getattr(participant, field)}
        entries.append((participant, changes))
    participant_model.objects.filter(pk__in=[p.pk for p in due]).update(
        email="", mobile="", updated_at=timezone.now()
    )
    record_bulk_changes(entries=entries, action=LogEntry.Action.UPDATE)
    return len(due)
