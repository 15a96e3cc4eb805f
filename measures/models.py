from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import Service
from participants.models import Participant
from programmes.models import Enrolment, GroupSession, Programme


class Timepoint(models.Model):
    """When a programme asks for questionnaires: a week and a window around its date."""

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="timepoints")
    key = models.SlugField(max_length=40)
    name = models.CharField(max_length=80)
    week = models.PositiveSmallIntegerField(help_text="Weeks after the first session.")
    opens_days = models.SmallIntegerField(help_text="Days from the timepoint's date; negative.")
    closes_days = models.SmallIntegerField(help_text="Days from the timepoint's date.")
    instruments = models.JSONField(default=list, help_text="Instrument codes, in order.")
    service_use_period = models.CharField(
        max_length=80, blank=True, help_text='e.g. "the 12 months before the programme".'
    )

    class Meta:
        ordering = ["programme", "week"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "key"], name="timepoint_key_unique"),
            models.CheckConstraint(
                condition=Q(closes_days__gt=F("opens_days")), name="timepoint_window_positive"
            ),
        ]

    def __str__(self):
        return self.name


class InstrumentWording(models.Model):
    """A service's licensed item wording for an instrument that ships without it."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="wordings")
    instrument_code = models.CharField(max_length=20)
    items = models.JSONField(help_text="Item number (as text) -> wording.")
    option_labels = models.JSONField(
        default=dict, blank=True, help_text="Answer value (as text) -> label, where licensed."
    )
    instructions = models.TextField(blank=True)
    # Demo data only: stands in for licensed text so the demo works end to end, and is
    # labelled as such wherever it is shown.
    is_placeholder = models.BooleanField(default=False)
    imported_at = models.DateTimeField(auto_now=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "instrument_code"], name="wording_one_per_instrument"
            ),
        ]

    def __str__(self):
        return f"{self.instrument_code} wording for {self.service}"


class Administration(models.Model):
    """One instrument due for one enrolment at one timepoint."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        EXPIRED = "expired", "Expired"
        MISSED = "missed", "Missed (enrolled after it closed)"
        CANCELLED = "cancelled", "Cancelled"
        # Corrections keep the original (DESIGN.md): a corrected administration is a new
        # row that `supersedes` this one; a voided one keeps its answers and its reason.
        # Figures count only COMPLETED, the current and non-voided version.
        SUPERSEDED = "superseded", "Superseded by a correction"
        VOIDED = "voided", "Voided"

    class Source(models.TextChoices):
        ONLINE = "online", "Online"
        PAPER = "paper", "Paper, entered by staff"
        STAFF = "staff", "Completed by staff from records"

    LIVE_STATUSES = (Status.SCHEDULED, Status.OPEN, Status.IN_PROGRESS)

    enrolment = models.ForeignKey(
        Enrolment, on_delete=models.PROTECT, related_name="administrations"
    )
    timepoint = models.ForeignKey(Timepoint, on_delete=models.PROTECT, related_name="+")
    instrument_code = models.CharField(max_length=20)
    due_on = models.DateField()
    opens_on = models.DateField()
    closes_on = models.DateField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    source = models.CharField(max_length=10, choices=Source.choices, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    instrument_version = models.CharField(max_length=20, blank=True)
    diagnosis = models.CharField(max_length=10, blank=True, help_text="ITQ only.")
    # Completed on a date outside its window, and why that still counts.
    outside_window_reason = models.CharField(max_length=300, blank=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    # Why this version corrects the one it supersedes, or why it was voided.
    change_reason = models.CharField(max_length=300, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["due_on", "timepoint__week", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "timepoint", "instrument_code"],
                condition=~Q(status="superseded"),
                name="administration_one_per_timepoint_instrument",
            ),
            models.CheckConstraint(
                condition=~Q(status="voided") | (Q(voided_at__isnull=False) & ~Q(change_reason="")),
                name="administration_voided_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(supersedes__isnull=True) | ~Q(change_reason=""),
                name="administration_correction_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(closes_on__gt=F("opens_on")), name="administration_window_positive"
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(completed_at__isnull=False),
                name="administration_completed_has_time",
            ),
        ]
        indexes = [
            # The opener/expirer task: live administrations by window dates.
            models.Index(
                fields=["opens_on", "closes_on"],
                condition=Q(status__in=["scheduled", "open", "in_progress"]),
                name="administration_live_window",
            ),
        ]

    def __str__(self):
        return f"{self.instrument_code} at {self.timepoint} for enrolment {self.enrolment_id}"

    def subject_access_label(self) -> str:
        from measures.definitions import get_instrument

        return f"{get_instrument(self.instrument_code).name}, {self.timepoint.name}"


class Response(models.Model):
    """Answers saved page by page, then submitted once."""

    administration = models.OneToOneField(
        Administration, on_delete=models.CASCADE, related_name="response"
    )
    answers = models.JSONField(default=dict, help_text="Item number as text -> value.")
    saved_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Response to {self.administration_id}"


class Score(models.Model):
    administration = models.ForeignKey(
        Administration, on_delete=models.CASCADE, related_name="scores"
    )
    scale = models.CharField(max_length=40)
    value = models.FloatField(null=True, blank=True)
    band = models.CharField(max_length=40, blank=True)
    not_scored_reason = models.CharField(max_length=200, blank=True)
    instrument_version = models.CharField(max_length=20)
    computed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["administration", "scale"]
        constraints = [
            models.UniqueConstraint(fields=["administration", "scale"], name="score_one_per_scale"),
            models.CheckConstraint(
                condition=Q(value__isnull=False) | ~Q(not_scored_reason=""),
                name="score_missing_has_reason",
            ),
        ]

    def __str__(self):
        return f"{self.scale}={self.value}"


class RiskAlert(models.Model):
    class Severity(models.TextChoices):
        URGENT = "urgent", "Urgent: same-day review"
        REVIEW = "review", "Review"

    administration = models.ForeignKey(
        Administration, on_delete=models.CASCADE, related_name="risk_alerts"
    )
    item = models.PositiveSmallIntegerField()
    severity = models.CharField(max_length=10, choices=Severity.choices)
    raised_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledgement_note = models.TextField(blank=True)
    escalated_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the service's managers were told it was still unacknowledged.",
    )

    class Meta:
        ordering = ["acknowledged_at", "-raised_at"]
        constraints = [
            models.UniqueConstraint(fields=["administration", "item"], name="risk_alert_once"),
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True) | ~Q(acknowledgement_note=""),
                name="risk_alert_acknowledged_with_note",
            ),
        ]
        indexes = [
            # The open-alerts list and the cohort page: unacknowledged alerts.
            models.Index(
                fields=["raised_at"],
                condition=Q(acknowledged_at__isnull=True),
                name="risk_alert_open",
            ),
        ]

    def __str__(self):
        return f"{self.get_severity_display()} alert on {self.administration_id}"

    def subject_access_label(self) -> str:
        return f"{self.get_severity_display()} alert"


class HuddleContact(models.Model):
    """A clinician's note, before a group session, that they contacted someone the huddle
    flagged (an open alert, a run of missed sessions, a deterioration, an unanswered
    questionnaire). Kept per session; several notes for one person are all kept."""

    session = models.ForeignKey(
        GroupSession, on_delete=models.PROTECT, related_name="huddle_contacts"
    )
    enrolment = models.ForeignKey(
        Enrolment, on_delete=models.PROTECT, related_name="huddle_contacts"
    )
    note = models.TextField(help_text="What was done: who rang whom, and what was agreed.")
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["session", "enrolment", "recorded_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(note=""), name="huddle_contact_has_note"),
        ]
        indexes = [
            # The huddle page: the contact notes recorded for one session.
            models.Index(fields=["session", "recorded_at"], name="huddle_contact_by_session"),
        ]

    def __str__(self):
        return f"Contact before session {self.session_id} for enrolment {self.enrolment_id}"


class AlertDigestSent(models.Model):
    """One person's daily risk-alert digest, recorded before it goes, so a second run of the
    daily follow-up on the same day (a beat tick and the command, a retried task) does not
    e-mail them again. Names no alert and no participant."""

    recipient = models.EmailField(help_text="The staff address the digest went to.")
    sent_on = models.DateField(help_text="The day (Europe/London) the digest was for.")
    sent_at = models.DateTimeField(auto_now_add=True)
    open_alerts = models.PositiveIntegerField(help_text="How many open alerts it counted.")

    class Meta:
        ordering = ["-sent_on", "recipient"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "sent_on"], name="alert_digest_once_a_day_per_recipient"
            ),
        ]

    def __str__(self):
        return f"Risk alert digest of {self.sent_on:%d/%m/%Y}"


class ParticipantLink(models.Model):
    """A link sent to a participant. Only the SHA-256 of its token is kept."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_used_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Link {self.pk}"
