import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import Service
from participants.models import Participant


class Programme(models.Model):
    """One version of a protocol template. Editing makes a new version; cohorts keep theirs."""

    key = models.SlugField(max_length=60, help_text="Stable across versions.")
    version = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    # Null for the defaults every service may use; set for a service's own template.
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.PROTECT, related_name="programmes"
    )
    is_current = models.BooleanField(default=True)
    default_capacity = models.PositiveSmallIntegerField(default=10)
    session_minutes = models.PositiveSmallIntegerField(default=120)
    total_weeks = models.PositiveSmallIntegerField(
        default=104, help_text="Weeks from the first session to the end of follow-up."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="programme_version_unique"),
            models.UniqueConstraint(
                fields=["key"], condition=Q(is_current=True), name="programme_one_current_version"
            ),
        ]

    def __str__(self):
        return f"{self.name} (version {self.version})"


class Phase(models.Model):
    class Kind(models.TextChoices):
        PREPARATION = "preparation", "Preparation and engagement"
        GROUP = "group", "Group therapy"
        USUAL_CARE = "usual_care", "Usual care"
        FOLLOW_UP = "follow_up", "Follow-up"

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="phases")
    order = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    start_week = models.PositiveSmallIntegerField(help_text="First programme week, from 1.")
    weeks = models.PositiveSmallIntegerField()
    group_meets = models.BooleanField()

    class Meta:
        ordering = ["programme", "order"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "order"], name="phase_order_unique"),
            models.CheckConstraint(
                condition=Q(weeks__gt=0) & Q(start_week__gt=0), name="phase_weeks_positive"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def end_week(self) -> int:
        return self.start_week + self.weeks - 1


class CurriculumWeek(models.Model):
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="curriculum")
    week = models.PositiveSmallIntegerField()
    theme = models.CharField(max_length=200)

    class Meta:
        ordering = ["programme", "week"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "week"], name="curriculum_week_unique"),
        ]

    def __str__(self):
        return f"Week {self.week}: {self.theme}"


class Cohort(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="cohorts")
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="cohorts")
    name = models.CharField(max_length=120)
    start_date = models.DateField(help_text="The date of the first session.")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    venue = models.CharField(max_length=200)
    capacity = models.PositiveSmallIntegerField(default=10)
    facilitators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="facilitated_cohorts", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start_date", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "name"], name="cohort_name_unique_in_service"
            ),
            models.CheckConstraint(condition=Q(capacity__gt=0), name="cohort_capacity_positive"),
            models.CheckConstraint(
                condition=Q(weekday__gte=0) & Q(weekday__lte=6), name="cohort_weekday_valid"
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("programmes:cohort_detail", args=[self.pk])

    def week_date(self, week: int) -> datetime.date:
        """The calendar date of programme week `week` (week 1 is the start date)."""
        return self.start_date + datetime.timedelta(weeks=week - 1)


class GroupSessionQuerySet(models.QuerySet):
    def held(self, today: datetime.date):
        return self.filter(held_q(today))


class GroupSession(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        MOVED = "moved", "Moved"
        CANCELLED = "cancelled", "Cancelled"

    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="sessions")
    phase = models.ForeignKey(Phase, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveSmallIntegerField(help_text="1 for the first session.")
    week = models.PositiveSmallIntegerField(help_text="Programme week.")
    theme = models.CharField(max_length=200, blank=True)
    planned_date = models.DateField()
    date = models.DateField()
    start_time = models.TimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    change_reason = models.CharField(max_length=300, blank=True)
    # An extra session added to the calendar (to make up for a cancelled one, say): held,
    # registered and counted like any other; its reason is in change_reason.
    is_make_up = models.BooleanField("make-up session", default=False)
    bank_holiday = models.CharField(
        max_length=100, blank=True, help_text="Name of the bank holiday the date falls on."
    )
    group_note = models.TextField(
        blank=True, help_text="Themes of the session. No names or identifying detail."
    )
    register_taken_at = models.DateTimeField(null=True, blank=True)
    register_taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = GroupSessionQuerySet.as_manager()

    class Meta:
        ordering = ["cohort", "number"]
        constraints = [
            models.UniqueConstraint(fields=["cohort", "number"], name="session_number_unique"),
            models.UniqueConstraint(
                fields=["cohort", "date"],
                condition=~Q(status="cancelled"),
                name="session_one_per_day_per_cohort",
            ),
            models.CheckConstraint(
                condition=Q(status="scheduled") | ~Q(change_reason=""),
                name="session_change_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(is_make_up=False) | ~Q(change_reason=""),
                name="session_make_up_has_reason",
            ),
        ]

    def __str__(self):
        return f"{self.cohort} – session {self.number}"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("programmes:register", args=[self.pk])

    def is_held(self, today: datetime.date) -> bool:
        return is_held(
            date=self.date,
            status=self.status,
            register_taken=self.register_taken_at is not None,
            today=today,
        )


def held_q(today: datetime.date, prefix: str = "") -> Q:
    """Sessions that have been held by `today`, as a filter (`prefix` reaches a related one).

    The one definition of "held", for every count of sessions or attendance: not cancelled,
    and either past, or today with its register taken. A future session is never held.
    """
    return ~Q(**{f"{prefix}status": GroupSession.Status.CANCELLED}) & (
        Q(**{f"{prefix}date__lt": today})
        | Q(**{f"{prefix}date": today, f"{prefix}register_taken_at__isnull": False})
    )


def is_held(*, date: datetime.date, status: str, register_taken: bool, today: datetime.date):
    """held_q for a session already in memory (a row, or values() of one)."""
    if status == GroupSession.Status.CANCELLED:
        return False
    return date < today or (date == today and register_taken)


def counts_for_enrolment(session_date: datetime.date, ended_on: datetime.date | None) -> bool:
    """Whether a mark on a session of this date counts in the enrolment's figures.

    An enrolment covers the sessions up to and including the day it ended (the date the
    person actually left, however late that was recorded); marks after it stay in the
    database and the exports but count in no rate, run or retention figure.
    """
    return ended_on is None or session_date <= ended_on


def counted_attendance_q(today: datetime.date) -> Q:
    """Attendance rows that count in figures: on a held session, within the enrolment."""
    return held_q(today, "session__") & (
        Q(enrolment__ended_on__isnull=True) | Q(session__date__lte=F("enrolment__ended_on"))
    )


class EnrolmentQuerySet(models.QuerySet):
    def counted(self):
        """Every enrolment but those entered in error, which count in no figure or export."""
        return self.exclude(status=Enrolment.Status.ENTERED_IN_ERROR)


class Enrolment(models.Model):
    class Status(models.TextChoices):
        REFERRED = "referred", "Referred"
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        WITHDRAWN = "withdrawn", "Withdrawn"
        DISCHARGED = "discharged", "Discharged"
        # Never happened (the wrong person or the wrong cohort): not an ending, so no end
        # date; kept with its reason for the audit trail, out of every figure and export.
        ENTERED_IN_ERROR = "entered_in_error", "Entered in error"

    OPEN_STATUSES = (Status.REFERRED, Status.ACTIVE)
    ENDED_STATUSES = (Status.COMPLETED, Status.WITHDRAWN, Status.DISCHARGED)

    cohort = models.ForeignKey(Cohort, on_delete=models.PROTECT, related_name="enrolments")
    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="enrolments"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    enrolled_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)
    # Why the person was enrolled here while active in another running cohort.
    also_active_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EnrolmentQuerySet.as_manager()

    class Meta:
        ordering = ["cohort", "participant__family_name", "participant__given_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["cohort", "participant"],
                condition=Q(status__in=["referred", "active"]),
                name="enrolment_one_open_per_cohort",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["referred", "active", "entered_in_error"])
                | Q(ended_on__isnull=False),
                name="enrolment_ended_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status="entered_in_error") | ~Q(end_reason=""),
                name="enrolment_in_error_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("enrolled_on")),
                name="enrolment_ends_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.participant} in {self.cohort}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class Attendance(models.Model):
    class Status(models.TextChoices):
        PRESENT = "present", "Present"
        LATE = "late", "Late"
        LEFT_EARLY = "left_early", "Left early"
        APOLOGIES = "apologies", "Apologies"
        DNA = "dna", "Did not attend"

    ATTENDED = (Status.PRESENT, Status.LATE, Status.LEFT_EARLY)

    session = models.ForeignKey(GroupSession, on_delete=models.CASCADE, related_name="attendance")
    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="attendance")
    status = models.CharField(max_length=20, choices=Status.choices)
    recorded_at = models.DateTimeField(auto_now=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["session", "enrolment"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "enrolment"], name="attendance_one_per_session"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["present", "late", "left_early", "apologies", "dna"]),
                name="attendance_status_known",
            ),
        ]

    def __str__(self):
        return f"{self.enrolment} – {self.session.number}: {self.status}"

    @property
    def attended(self) -> bool:
        return self.status in self.ATTENDED
