from django.core.exceptions import ValidationError
from django.db import models
from nhs_number import is_valid as nhs_number_is_valid
from phonenumber_field.modelfields import PhoneNumberField

from accounts.models import Service, User


def validate_nhs_number(value: str) -> None:
    if not (value.isdigit() and len(value) == 10 and nhs_number_is_valid(value)):
        raise ValidationError(
            "This is not a valid NHS number: it must be 10 digits and pass the check digit.",
            code="invalid_nhs_number",
        )


class Participant(models.Model):
    class Channel(models.TextChoices):
        SMS = "sms", "Text message"
        EMAIL = "email", "Email"

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="participants")
    reference = models.CharField(
        "local reference", max_length=40, help_text="The record number your service uses."
    )
    given_name = models.CharField(max_length=80)
    family_name = models.CharField(max_length=80)
    date_of_birth = models.DateField(null=True, blank=True)
    nhs_number = models.CharField(
        "NHS number", max_length=10, blank=True, validators=[validate_nhs_number]
    )
    email = models.EmailField(blank=True)
    mobile = PhoneNumberField(blank=True, region="GB")
    preferred_channel = models.CharField(
        max_length=10, choices=Channel.choices, default=Channel.SMS
    )
    messages_opt_out = models.BooleanField(
        "opted out of messages",
        default=False,
        help_text="No invitations or reminders are sent while this is set.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["family_name", "given_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "reference"], name="participant_reference_unique_in_service"
            ),
            models.UniqueConstraint(
                fields=["service", "nhs_number"],
                condition=~models.Q(nhs_number=""),
                name="participant_nhs_number_unique_in_service",
            ),
            models.CheckConstraint(
                condition=models.Q(preferred_channel__in=["sms", "email"]),
                name="participant_channel_known",
            ),
        ]

    def __str__(self):
        # The reference, not the name: __str__ ends up in admin pages and audit rows.
        return self.reference

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class SubjectAccessRequest(models.Model):
    """A participant's request for everything held about them (UK GDPR Article 15).

    One clinician records the request; a second clinician reviews the gathered export and
    approves it; only then can it be downloaded (released).
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested: waiting for a second clinician's review"
        APPROVED = "approved", "Approved: ready to release"
        RELEASED = "released", "Released"

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    # A participant with a request on record cannot be deleted: the request and its trail
    # are the evidence of what was released to whom.
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REQUESTED)
    received_on = models.DateField(help_text="The day the participant's request arrived.")
    note = models.TextField(
        blank=True, help_text="How the request arrived and how identity was checked."
    )
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [
            # The participant page's and the list's "requests for this participant".
            models.Index(fields=["service", "participant"], name="sar_service_participant"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["requested", "approved", "released"]),
                name="sar_status_known",
            ),
            models.CheckConstraint(
                condition=models.Q(reviewed_by__isnull=True)
                | ~models.Q(reviewed_by=models.F("requested_by")),
                name="sar_reviewer_not_requester",
            ),
            models.CheckConstraint(
                condition=models.Q(status="requested")
                | models.Q(reviewed_by__isnull=False, reviewed_at__isnull=False),
                name="sar_reviewed_before_release",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="released") | models.Q(released_at__isnull=False),
                name="sar_released_has_time",
            ),
        ]

    def __str__(self):
        return f"Subject access request {self.pk}"
