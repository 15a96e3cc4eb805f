from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    """A member of staff. Participants never have a User: they reach their pages by link."""

    # Sessions that began before this moment are ended by SessionLifetimeMiddleware: an
    # administrator's "end sessions" sets it.
    sessions_revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["username"]
        constraints = [
            # An invitation's set-password link goes to this address: two accounts sharing
            # one would let either person set the other's password. Blank (no address) is
            # allowed for accounts made outside the staff page.
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="user_email_unique_when_set",
            ),
        ]

    def __str__(self):
        return self.get_full_name() or self.username

    @property
    def staff_status(self) -> str:
        """invited (no password set yet), active, or deactivated."""
        if not self.is_active:
            return "deactivated"
        return "active" if self.has_usable_password() else "invited"


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
