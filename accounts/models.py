from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A member of staff. Participants never have a User: they reach their pages by link."""

    # Sessions that began before this moment are ended by SessionLifetimeMiddleware: an
    # administrator's "end sessions" sets it.
    sessions_revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["username"]

    def __str__(self):
        return self.get_full_name() or self.username


class Service(models.Model):
    """A team or site: the boundary every query for clinical data is scoped by."""

    name = models.CharField(max_length=120, unique=True)
    # What participants see in messages and on their pages. Neutral on purpose: a name
    # such as "Personality Disorder Service" would reveal a diagnosis to whoever reads it.
    public_name = models.CharField(
        max_length=80,
        default="Your NHS team",
        help_text="Shown to participants. Must not reveal a diagnosis or the kind of service.",
    )
    phone = models.CharField(
        max_length=30,
        help_text="The number participants can ring about a questionnaire or a link.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        CLINICIAN = "clinician", "Clinician"
        MANAGER = "manager", "Service manager"
        ADMIN = "admin", "Administrator"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["service__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "service"], name="membership_one_per_service"),
            models.CheckConstraint(
                condition=models.Q(role__in=["clinician", "manager", "admin"]),
                name="membership_role_known",
            ),
        ]

    def __str__(self):
        return f"{self.user} – {self.get_role_display()} – {self.service}"


class SubjectAccessRequest(models.Model):
    """A participant's request for everything held about them (UK GDPR Article 15).

    One clinician records the request; a second clinician reviews the gathered export and
    approves it; only then can it be downloaded (released). Participants live in a higher
    layer, so the link is an id plus the service that scopes it, not a foreign key.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested: waiting for a second clinician's review"
        APPROVED = "approved", "Approved: ready to release"
        RELEASED = "released", "Released"

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    participant_id = models.PositiveBigIntegerField()
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
            models.Index(fields=["service", "participant_id"], name="sar_service_participant"),
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
