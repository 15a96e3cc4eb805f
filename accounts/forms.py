from django import forms

from accounts.models import User


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
