import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Service
from participants.forms import DateInput
from participants.models import Participant
from programmes.calendar import decision_field
from programmes.models import Attendance, Cohort, Enrolment, Programme
from programmes.services import facilitator_candidates


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", **kwargs)


class FacilitatorChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.username

    def _check_values(self, value):
        # SQLite raises OverflowError (not ValueError) for ids beyond 64 bits, which
        # Django's lookup does not catch; answer with the ordinary "not a choice" error.
        for pk in value:
            try:
                number = int(str(pk))
            except (TypeError, ValueError):
                continue
            if not -(2**63) <= number < 2**63:
                raise ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": pk},
                )
        return super()._check_values(value)


class CohortForm(forms.Form):
    service = forms.ModelChoiceField(queryset=None, empty_label=None)
    programme = forms.ModelChoiceField(
        queryset=None,
        empty_label=None,
        help_text="The cohort keeps this version even if the programme is edited later.",
    )
    name = forms.CharField(max_length=120, help_text="For example, “Tuesday group, spring 2026”.")
    weekday = forms.TypedChoiceField(
        label="Day of the week", choices=Cohort.Weekday.choices, coerce=int
    )
    start_date = forms.DateField(
        label="Date of the first session",
        widget=DateInput(),
        help_text="Must fall on the day of the week above.",
    )
    start_time = forms.TimeField(label="Start time", widget=TimeInput())
    venue = forms.CharField(max_length=200)
    capacity = forms.IntegerField(
        min_value=1, max_value=40, initial=10, help_text="Places in the group."
    )
    facilitators = FacilitatorChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Clinicians of the cohort's service.",
    )

    def __init__(self, *args, services, programmes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = Service.objects.filter(pk__in=[s.pk for s in services])
        self.fields["programme"].queryset = programmes
        if len(services) == 1:
            self.fields["service"].initial = services[0]
            self.fields["service"].widget = forms.HiddenInput()
        from accounts.models import User

        self.fields["facilitators"].queryset = User.objects.filter(
            pk__in=[u.pk for s in services for u in facilitator_candidates(s)]
        ).order_by("last_name", "first_name", "username")

    def clean(self):
        data = super().clean()
        start, weekday = data.get("start_date"), data.get("weekday")
        if start is not None and weekday is not None and start.weekday() != weekday:
            self.add_error(
                "start_date",
                f"{start:%d/%m/%Y} is a {start:%A}, not a {Cohort.Weekday(weekday).label}. "
                "Choose a date on the group's day of the week.",
            )
        return data


class CohortEditForm(forms.Form):
    name = forms.CharField(max_length=120)
    venue = forms.CharField(max_length=200)
    weekday = forms.TypedChoiceField(
        label="Day of the week",
        choices=Cohort.Weekday.choices,
        coerce=int,
        help_text=(
            "Sessions not yet held move to this day of their programme week. Sessions "
            "already moved or cancelled keep the date decided for them."
        ),
    )
    start_time = forms.TimeField(
        label="Start time",
        widget=TimeInput(),
        help_text="Sessions not yet held, other than moved ones, start at this time.",
    )
    capacity = forms.IntegerField(
        min_value=1,
        max_value=40,
        help_text="Places in the group; not fewer than the people enrolled now.",
    )
    facilitators = FacilitatorChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Clinicians of the cohort's service.",
    )

    def __init__(self, *args, cohort: Cohort, **kwargs):
        super().__init__(*args, **kwargs)
        candidates = facilitator_candidates(cohort.service)
        self.fields["facilitators"].queryset = candidates
        for name in ("name", "venue", "weekday", "start_time", "capacity"):
            self.fields[name].initial = getattr(cohort, name)
        self.fields["facilitators"].initial = list(
            candidates.filter(facilitated_cohorts=cohort).values_list("pk", flat=True)
        )


class SessionMoveForm(forms.Form):
    new_date = forms.DateField(label="New date", widget=DateInput())
    start_time = forms.TimeField(
        label="New start time", required=False, widget=TimeInput(), help_text="Optional."
    )
    reason = forms.CharField(max_length=300, help_text="Shown on the cohort calendar.")


class SessionCancelForm(forms.Form):
    reason = forms.CharField(max_length=300, help_text="Shown on the cohort calendar.")


class SessionReinstateForm(forms.Form):
    reason = forms.CharField(
        max_length=280, help_text="For example: the room is free after all. Kept in the record."
    )


class MakeUpSessionForm(forms.Form):
    date = forms.DateField(label="Date of the make-up session", widget=DateInput())
    start_time = forms.TimeField(
        label="Start time",
        required=False,
        widget=TimeInput(),
        help_text="Leave empty for the cohort's usual time.",
    )
    reason = forms.CharField(
        max_length=300,
        help_text="For example: in place of session 5, cancelled for snow. Shown on the calendar.",
    )
    theme = forms.CharField(max_length=200, required=False, help_text="Optional.")


class EnrolmentInErrorForm(forms.Form):
    reason = forms.CharField(
        label="What the mistake was",
        max_length=300,
        help_text="For example: enrolled in the wrong cohort. No identifying detail.",
    )
    confirm = forms.BooleanField(
        label="This enrolment never happened: take it out of every figure and export",
        error_messages={"required": "Tick to confirm that the enrolment was a mistake."},
    )


class CohortStartMoveForm(forms.Form):
    new_start_date = forms.DateField(
        label="New date of the first session",
        widget=DateInput(),
        help_text=(
            "Every session not yet held moves by the same number of days, and so do "
            "questionnaire dates. You see the resulting calendar before anything changes."
        ),
    )


class CohortStartMoveDecisionsForm(forms.Form):
    """One radio group per session the preview offers a choice for.

    The proposed choice is preselected, except where the earlier decision no longer fits its
    new date: then the clinician must choose.
    """

    def __init__(self, *args, preview, **kwargs):
        super().__init__(*args, **kwargs)
        self.preview = preview
        for plan in preview.with_choices:
            self.fields[decision_field(plan.session)] = forms.ChoiceField(
                label=f"Session {plan.number}",
                choices=[(c.value, c.label) for c in plan.choices],
                widget=forms.RadioSelect,
                initial=plan.proposed,
                error_messages={"required": f"Choose what happens to session {plan.number}."},
            )

    def decisions(self) -> dict[int, str]:
        return {
            plan.session.pk: self.cleaned_data[decision_field(plan.session)]
            for plan in self.preview.with_choices
        }

    def rows(self):
        """(plan, bound field or None) for every session, for the preview table."""
        return [
            (plan, self[decision_field(plan.session)] if plan.choices else None)
            for plan in self.preview.sessions
        ]


class ParticipantChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.family_name}, {obj.given_name} ({obj.reference})"


class EnrolForm(forms.Form):
    participant = ParticipantChoiceField(queryset=None, empty_label="Choose a participant")
    enrolled_on = forms.DateField(label="Enrolment date", widget=DateInput())
    # Shown once the service has said the person is active in another running cohort.
    confirm_active_elsewhere = forms.BooleanField(
        label="Yes, enrol them here as well",
        required=False,
        help_text="They will get this cohort's questionnaires as well as the other's.",
    )
    also_active_reason = forms.CharField(
        label="Why they need both",
        max_length=300,
        required=False,
        help_text="Kept with the enrolment. No identifying detail.",
    )

    def clean(self):
        data = super().clean()
        reason = (data.get("also_active_reason") or "").strip()
        if reason and not data.get("confirm_active_elsewhere"):
            self.add_error(
                "confirm_active_elsewhere", "Tick the confirmation to enrol them here as well."
            )
        if data.get("confirm_active_elsewhere") and not reason:
            self.add_error("also_active_reason", "Say why they need both cohorts.")
        return data

    def confirmed_reason(self) -> str:
        if not self.cleaned_data.get("confirm_active_elsewhere"):
            return ""
        return (self.cleaned_data.get("also_active_reason") or "").strip()

    def __init__(self, *args, cohort, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["participant"].queryset = Participant.objects.filter(
            service_id=cohort.service_id
        ).order_by("family_name", "given_name", "pk")
        self.fields["enrolled_on"].initial = timezone.localdate()


class EnrolmentEndForm(forms.Form):
    status = forms.ChoiceField(
        label="How the enrolment ended",
        choices=[(s.value, s.label) for s in Enrolment.ENDED_STATUSES],
        widget=forms.RadioSelect,
    )
    ended_on = forms.DateField(
        label="Date it ended",
        widget=DateInput(),
        help_text=(
            "The day the person actually left, even if that was weeks ago. Registers after "
            "it no longer list them; attendance recorded after it is kept but not counted."
        ),
    )
    reason = forms.CharField(
        max_length=300,
        required=False,
        help_text="Needed for a withdrawal or discharge. No identifying detail.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ended_on"].initial = timezone.localdate()


STATUS_FIELD = re.compile(r"^status_(\d+)$")


class RegisterForm(forms.Form):
    """One radio group per enrolment on the register, and the group note.

    Any `status_<id>` sent, including for enrolments no longer on the register, reaches
    attendance_record, which refuses the whole submit with a clear message.
    """

    group_note = forms.CharField(
        label="Group note",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Themes of the session only: no names or identifying detail.",
    )

    def __init__(self, *args, rows, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = rows
        for enrolment, status in rows:
            self.fields[f"status_{enrolment.pk}"] = forms.ChoiceField(
                label=enrolment.participant.full_name,
                choices=Attendance.Status.choices,
                widget=forms.RadioSelect,
                initial=status or None,
                error_messages={"required": "Choose a status."},
            )

    def statuses(self) -> dict[int, str]:
        sent = {}
        for key in self.data:
            match = STATUS_FIELD.match(key)
            if match:
                sent[int(match.group(1))] = self.data[key]
        return sent

    def table(self):
        """(enrolment, bound field) per row, for the register table."""
        return [(enrolment, self[f"status_{enrolment.pk}"]) for enrolment, _ in self.rows]


class ProgrammeEditForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, programme: Programme, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].initial = programme.name
        self.fields["description"].initial = programme.description
        self.phases = list(programme.phases.order_by("order"))
        self.weeks = list(programme.curriculum.order_by("week"))
        for phase in self.phases:
            self.fields[f"phase_{phase.order}"] = forms.CharField(
                label=f"Phase {phase.order} name (weeks {phase.start_week}–{phase.end_week})",
                max_length=120,
                initial=phase.name,
            )
        for week in self.weeks:
            self.fields[f"week_{week.week}"] = forms.CharField(
                label=f"Week {week.week} theme",
                max_length=200,
                required=False,
                initial=week.theme,
            )

    def phase_names(self) -> dict[int, str]:
        return {p.order: self.cleaned_data[f"phase_{p.order}"] for p in self.phases}

    def themes(self) -> dict[int, str]:
        return {w.week: self.cleaned_data[f"week_{w.week}"] for w in self.weeks}


class ProgrammeCopyForm(forms.Form):
    service = forms.ModelChoiceField(
        queryset=None, empty_label=None, help_text="The copy belongs to this service only."
    )
    name = forms.CharField(max_length=120, help_text="How your service's staff will see it.")

    def __init__(self, *args, programme: Programme, services, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = services
        first = services.first()
        if first is not None:
            self.fields["service"].initial = first.pk
            self.fields["name"].initial = f"{programme.name} ({first.name})"
