from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator

from accounts.models import Membership, Service, User


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


ROLE_CHOICES = Membership.Role.choices


class StaffInviteForm(forms.Form):
    first_name = forms.CharField(max_length=150, label="First name")
    last_name = forms.CharField(max_length=150, label="Last name")
    email = forms.EmailField(
        max_length=254,
        label="Work e-mail address",
        help_text="The set-password link goes here.",
    )
    username = forms.CharField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="What they type to sign in: letters, digits and @ . + - _ only.",
    )
    service = forms.ModelChoiceField(queryset=Service.objects.none(), empty_label=None)
    role = forms.ChoiceField(choices=ROLE_CHOICES)

    def __init__(self, *args, services=None, **kwargs):
        super().__init__(*args, **kwargs)
        if services is not None:
            self.fields["service"].queryset = services

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                "An account already uses this e-mail address. If it is theirs, find them in "
                "the staff list and add a membership instead."
            )
        return email

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("An account already uses this username: choose another.")
        return username


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class MembershipAddForm(forms.Form):
    service = forms.ModelChoiceField(queryset=Service.objects.none(), empty_label=None)
    role = forms.ChoiceField(choices=ROLE_CHOICES)

    def __init__(self, *args, services=None, **kwargs):
        super().__init__(*args, **kwargs)
        if services is not None:
            self.fields["service"].queryset = services
