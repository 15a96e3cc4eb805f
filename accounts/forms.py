from django import forms
from django.utils import timezone

from accounts.models import SubjectAccessRequest, User


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


class AuditFilterForm(forms.Form):
    participant = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        label="Participant number",
        help_text="The number in the participant page's address.",
    )
    user = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, label="Staff member"
    )

    def __init__(self, *args, users=None, **kwargs):
        super().__init__(*args, **kwargs)
        if users is not None:
            self.fields["user"].queryset = users
