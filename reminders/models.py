import datetime
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from accounts.models import Service
from measures.models import Timepoint
from participants.models import Participant
from programmes.models import Enrolment, Programme


class ReminderPolicy(models.Model):
    """When a programme's invitations and reminders go out. Programmes without one use the
    defaults in MEASURES.md, which are also this model's field defaults."""

    programme = models.OneToOneField(
        Programme, on_delete=models.CASCADE, related_name="reminder_policy"
    )
    first_reminder_days = models.PositiveSmallIntegerField(
        default=3, help_text="Days after the window opens."
    )
    second_reminder_days = models.PositiveSmallIntegerField(
        default=7, help_text="Days after the window opens."
    )
    final_reminder_days_before_close = models.PositiveSmallIntegerField(default=2)
    escalate_days_after_second_reminder = models.PositiveSmallIntegerField(
        default=2,
        help_text="The facilitators are told this many days after the second reminder "
        "if the questionnaires are still not done.",
    )
    quiet_from = models.TimeField(default=datetime.time(20, 0), help_text="UK time.")
    quiet_until = models.TimeField(default=datetime.time(9, 0), help_text="UK time.")

    class Meta:
        verbose_name_plural = "reminder policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(first_reminder_days__gt=0)
                & Q(second_reminder_days__gt=F("first_reminder_days")),
                name="reminder_policy_reminders_in_order",
            ),
            models.CheckConstraint(
                condition=Q(final_reminder_days_before_close__gt=0)
                & Q(escalate_days_after_second_reminder__gt=0),
                name="reminder_policy_days_positive",
            ),
            models.CheckConstraint(
                condition=Q(quiet_from__gt=F("quiet_until")),
                name="reminder_policy_quiet_hours_overnight",
            ),
        ]

    def __str__(self):
        return f"Reminder policy for {self.programme}"


class Message(models.Model):
    """One planned message: the database row is the truth, the queue only carries its id."""

    class Kind(models.TextChoices):
        INVITATION = "invitation", "Invitation"
        REMINDER_1 = "reminder_1", "First reminder"
        REMINDER_2 = "reminder_2", "Second reminder"
        FINAL = "final", "Final reminder"
        ESCALATION = "escalation", "Facilitators told"
        MANUAL = "manual", "Reminder sent by staff"

    class Channel(models.TextChoices):
        SMS = "sms", "Text message"
        EMAIL = "email", "Email"
        STAFF = "staff", "Task for facilitators"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    # The row's identity towards providers: sent as the idempotency key and client reference.
    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="messages")
    enrolment = models.ForeignKey(Enrolment, on_delete=models.PROTECT, related_name="messages")
    timepoint = models.ForeignKey(Timepoint, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Calls to the provider.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=80, blank=True)
    # The UK calendar day this message holds for its participant while sending or sent:
    # the unique constraint below is what makes "one message a day" hold under races.
    day_slot = models.DateField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_reference = models.CharField(max_length=120, blank=True)
    # A reason code or an exception class name; never an address, a name or a message body.
    last_error = models.CharField(max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-due_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "timepoint", "kind"],
                condition=~Q(kind="manual"),
                name="message_once_per_timepoint_kind",
            ),
            models.UniqueConstraint(
                fields=["participant", "day_slot"], name="message_one_per_person_per_day"
            ),
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "invitation",
                        "reminder_1",
                        "reminder_2",
                        "final",
                        "escalation",
                        "manual",
                    ]
                ),
                name="message_kind_known",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sending", "sent", "failed", "cancelled"]),
                name="message_status_known",
            ),
            models.CheckConstraint(
                condition=Q(kind="escalation", channel="staff")
                | (~Q(kind="escalation") & Q(channel__in=["sms", "email"])),
                name="message_channel_fits_kind",
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | (Q(claimed_at__isnull=False) & ~Q(claimed_by="")),
                name="message_sending_is_claimed",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="message_sent_has_time",
            ),
        ]
        indexes = [
            # messages_claim: WHERE status = 'pending' AND due_at <= now ORDER BY due_at
            # LIMIT n FOR UPDATE SKIP LOCKED.
            models.Index(
                fields=["due_at"], condition=Q(status="pending"), name="message_pending_due"
            ),
            # messages_sweep_stuck: WHERE status = 'sending' AND claimed_at < cutoff.
            models.Index(
                fields=["claimed_at"], condition=Q(status="sending"), name="message_sending_claimed"
            ),
            # The participant page's history panel: WHERE participant = x ORDER BY due_at DESC.
            models.Index(fields=["participant", "-due_at"], name="message_participant_history"),
            # The service page: WHERE service = x AND status = 'failed' ORDER BY due_at DESC.
            models.Index(
                fields=["service", "-due_at"],
                condition=Q(status="failed"),
                name="message_failed_by_service",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.pk} ({self.status})"

    def subject_access_label(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display()})"

    def reason_display(self) -> str:
        """Why it failed or was cancelled, in words staff can act on."""
        from reminders.outcomes import reason_text

        return reason_text(self.last_error)


class Escalation(models.Model):
    """A task for the facilitators: a participant has not answered after two reminders."""

    class Resolution(models.TextChoices):
        FOLLOWED_UP = "followed_up", "Followed up by staff"
        COMPLETED = "completed", "Questionnaires completed"
        EXPIRED = "expired", "Window closed unanswered"
        CANCELLED = "cancelled", "Questionnaires cancelled"

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    enrolment = models.ForeignKey(Enrolment, on_delete=models.PROTECT, related_name="escalations")
    timepoint = models.ForeignKey(Timepoint, on_delete=models.PROTECT, related_name="+")
    message = models.OneToOneField(Message, on_delete=models.PROTECT, related_name="escalation")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Blank while open; set by staff (followed up) or by itself when the questionnaires it
    # chases are completed, expire or are cancelled.
    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "timepoint"], name="escalation_once_per_timepoint"
            ),
            models.CheckConstraint(
                condition=Q(resolved_by__isnull=True) | Q(resolved_at__isnull=False),
                name="escalation_resolver_has_time",
            ),
            models.CheckConstraint(
                condition=(Q(resolved_at__isnull=True) & Q(resolution=""))
                | (Q(resolved_at__isnull=False) & ~Q(resolution="")),
                name="escalation_resolved_has_resolution",
            ),
        ]
        indexes = [
            # The service page: WHERE service = x AND resolved_at IS NULL.
            models.Index(
                fields=["service", "-created_at"],
                condition=Q(resolved_at__isnull=True),
                name="escalation_open_by_service",
            ),
        ]

    def __str__(self):
        return f"Escalation {self.pk}"


class MessageTemplate(models.Model):
    """A service's own wording for one kind of message on one channel."""

    class Kind(models.TextChoices):
        INVITATION = "invitation", "Invitation"
        REMINDER = "reminder", "Reminder"
        FINAL = "final", "Final reminder"

    class Channel(models.TextChoices):
        SMS = "sms", "Text message"
        EMAIL = "email", "Email"

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    subject = models.CharField(max_length=120, blank=True, help_text="Email only.")
    body = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["service", "kind", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "kind", "channel"], name="message_template_one_per_kind"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.get_channel_display()})"

    def clean(self):
        from reminders.wording import wording_errors

        errors = {}
        if "\n" in self.subject or "\r" in self.subject:
            errors["subject"] = ["The subject must be on one line."]
        for field in ("subject", "body"):
            problems = wording_errors(getattr(self, field), require_link=field == "body")
            if problems:
                errors.setdefault(field, []).extend(problems)
        if errors:
            raise ValidationError(errors)
