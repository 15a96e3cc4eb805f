from django.core.exceptions import ValidationError
from django.db import models
from nhs_number import is_valid as nhs_number_is_valid
from phonenumber_field.modelfields import PhoneNumberField

from accounts.models import Service


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
