from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from participants.models import Participant, SubjectAccessRequest, validate_nhs_number
from participants.validators import parse_uk_mobile


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service function's ValidationError on the form, by field where it names one."""
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for field, messages in exc.message_dict.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class UKMobileField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("help_text", "A UK mobile number, for example 07700 900123.")
        super().__init__(**kwargs)
        self.widget.attrs.update({"autocomplete": "off", "inputmode": "tel"})

    def clean(self, value):
        value = super().clean(value)
        return parse_uk_mobile(value) if value else ""


class ParticipantForm(forms.Form):
    service = forms.ModelChoiceField(queryset=None, empty_label=None)
    reference = forms.CharField(
        label="Local reference", max_length=40, help_text="The record number your service uses."
    )
    given_name = forms.CharField(max_length=80)
    family_name = forms.CharField(max_length=80)
    date_of_birth = forms.DateField(required=False, widget=DateInput())
    nhs_number = forms.CharField(
        label="NHS number",
        max_length=14,
        required=False,
        help_text="Optional. 10 digits; spaces are fine.",
    )
    email = forms.EmailField(
        required=False, error_messages={"invalid": "Enter an email address like name@example.com."}
    )
    mobile = UKMobileField(label="Mobile number", required=False)
    preferred_channel = forms.ChoiceField(
        label="Preferred way to receive invitations", choices=Participant.Channel.choices
    )
    messages_opt_out = forms.BooleanField(
        label="Opted out of messages",
        required=False,
        help_text="No invitations or reminders are sent while this is ticked.",
    )

    def __init__(self, *args, services=None, **kwargs):
        super().__init__(*args, **kwargs)
        if services is None:
            del self.fields["service"]
        else:
            self.fields["service"].queryset = services
            if services.count() == 1:
                self.fields["service"].initial = services.first()
                self.fields["service"].widget = forms.HiddenInput()

    def clean_nhs_number(self):
        value = self.cleaned_data["nhs_number"].replace(" ", "").replace("-", "")
        if value:
            validate_nhs_number(value)
        return value

    def service_kwargs(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "service"}


class SubjectAccessRequestForm(forms.ModelForm):
    class Meta:
        model = SubjectAccessRequest
        fields = ["received_on", "note"]
        widgets = {
            "received_on": forms.DateInput(attrs={"type": "date"}),
            "note": forms.Textarea(attrs={"rows": 3}),
        }

    def clean_received_on(self):
        received_on = self.cleaned_data["received_on"]
        if received_on > timezone.localdate():
            raise forms.ValidationError("The date the request arrived cannot be in the future.")
        return received_on
