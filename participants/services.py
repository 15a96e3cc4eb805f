"""Writes for participants. Every check gives a message a clinician can act on."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Service
from participants import events
from participants.models import Participant
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
