"""Writes for participants, their subject access requests and contact-detail retention.

Every check gives a message a clinician can act on.
"""

import datetime

from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import record_bulk_changes
from accounts.models import Service, User
from participants import events
from participants.models import Participant, SubjectAccessRequest
from participants.retention import finished
from participants.validators import parse_uk_mobile

EDITABLE_FIELDS = (
    "reference",
    "given_name",
    "family_name",
    "date_of_birth",
    "nhs_number",
    "email",
    "mobile",
    "preferred_channel",
    "messages_opt_out",
)
# A change to any of these re-plans the person's messages (participants.events).
CONTACT_FIELDS = ("email", "mobile", "preferred_channel", "messages_opt_out")
SAR = SubjectAccessRequest


@transaction.atomic
def participant_create(
    *,
    service: Service,
    reference: str,
    given_name: str,
    family_name: str,
    date_of_birth=None,
    nhs_number: str = "",
    email: str = "",
    mobile="",
    preferred_channel: str = Participant.Channel.SMS,
    messages_opt_out: bool = False,
) -> Participant:
    participant = Participant(
        service=service,
        reference=reference,
        given_name=given_name,
        family_name=family_name,
        date_of_birth=date_of_birth,
        nhs_number=nhs_number,
        email=email,
        mobile=mobile,
        preferred_channel=preferred_channel,
        messages_opt_out=messages_opt_out,
    )
    _validate(participant)
    participant.save()
    return participant


@transaction.atomic
def participant_update(*, participant: Participant, **changes) -> Participant:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"participant_update cannot change {sorted(unknown)}")
    before = {field: getattr(participant, field) for field in CONTACT_FIELDS}
    for field, value in changes.items():
        setattr(participant, field, value)
    _validate(participant)
    participant.save()
    if any(getattr(participant, field) != before[field] for field in CONTACT_FIELDS):
        events.contact_preferences_changed.send(sender=Participant, participant=participant)
    return participant


def _validate(participant: Participant) -> None:
    for field in ("reference", "given_name", "family_name", "nhs_number", "email"):
        setattr(participant, field, (getattr(participant, field) or "").strip())
    participant.nhs_number = participant.nhs_number.replace(" ", "")
    errors: dict[str, list[str]] = {}
    try:
        # Uniqueness is checked below with messages that say what to do about it.
        participant.full_clean(
            exclude=["mobile"], validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)

    if participant.mobile:
        try:
            participant.mobile = parse_uk_mobile(participant.mobile)
        except ValidationError as exc:
            errors.setdefault("mobile", []).extend(exc.messages)
    else:
        participant.mobile = ""

    if participant.date_of_birth and participant.date_of_birth > timezone.localdate():
        errors.setdefault("date_of_birth", []).append("The date of birth is in the future.")
    if participant.preferred_channel == Participant.Channel.SMS and not participant.mobile:
        errors.setdefault("mobile", []).append(
            "Text message is the preferred channel, so a mobile number is needed."
        )
    if participant.preferred_channel == Participant.Channel.EMAIL and not participant.email:
        errors.setdefault("email", []).append(
            "Email is the preferred channel, so an email address is needed."
        )

    others = Participant.objects.filter(service_id=participant.service_id).exclude(
        pk=participant.pk
    )
    if participant.reference and others.filter(reference=participant.reference).exists():
        errors.setdefault("reference", []).append(
            "Another participant in this service already has this local reference."
        )
    if participant.nhs_number and others.filter(nhs_number=participant.nhs_number).exists():
        errors.setdefault("nhs_number", []).append(
            "Another participant in this service already has this NHS number."
        )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def subject_access_request_create(
    *, participant: Participant, received_on: datetime.date, note: str, by: User
) -> SAR:
    return SAR.objects.create(
        service_id=participant.service_id,
        participant=participant,
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
RETAINED_FIELDS = ("email", "mobile")


@transaction.atomic
def participant_contacts_blank(*, older_than_days: int, today: datetime.date) -> int:
    """Blank e-mail and mobile of participants who finished long enough ago.

    Who has finished is the registered providers' answer (participants.retention): for
    programmes, everyone whose enrolments all ended before the cutoff, and only those with
    at least one, since someone referred but never enrolled is still being contacted.
    Returns how many participants were changed.
    """
    cutoff = today - datetime.timedelta(days=older_than_days)
    due = list(
        finished.finished_before(Participant.objects.select_for_update(), cutoff)
        .exclude(email="", mobile="")
        .order_by("pk")
    )
    if not due:
        return 0
    entries = []
    for participant in due:
        changes = {field: [REMOVED, ""] for field in RETAINED_FIELDS if getattr(participant, field)}
        entries.append((participant, changes))
    Participant.objects.filter(pk__in=[p.pk for p in due]).update(
        email="", mobile="", updated_at=timezone.now()
    )
    record_bulk_changes(entries=entries, action=LogEntry.Action.UPDATE)
    return len(due)
