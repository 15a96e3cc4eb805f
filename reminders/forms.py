from django import forms

from reminders.outcomes import Reason
from reminders.wording import (
    PLACEHOLDERS,
    SAMPLE_VALUES,
    SMS_MAX_CHARACTERS,
    render_problem,
    wording_errors,
)


class MessageTemplateForm(forms.Form):
    """Wording for one (kind, channel); the page holds one form per pair, told apart by
    their prefix "<kind>-<channel>"."""

    def __init__(self, *args, kind: str, channel: str, **kwargs):
        self.kind, self.channel = kind, channel
        super().__init__(*args, prefix=f"{kind}-{channel}", **kwargs)

    subject = forms.CharField(
        max_length=120, required=False, help_text="Email only. Leave blank for a text message."
    )
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Placeholders: "
        + "; ".join(f"{{{name}}} is {meaning}" for name, meaning in PLACEHOLDERS.items())
        + ". Do not name a person, a diagnosis or the kind of service.",
    )

    def clean_subject(self):
        subject = self.cleaned_data["subject"]
        if "\n" in subject or "\r" in subject:
            # An email header cannot hold a line break: every send would fail.
            raise forms.ValidationError("The subject must be on one line.")
        problems = wording_errors(subject, require_link=False)
        if problems:
            raise forms.ValidationError(problems)
        return subject

    def clean_body(self):
        body = self.cleaned_data["body"]
        problems = wording_errors(body, require_link=True)
        if problems:
            raise forms.ValidationError(problems)
        return body

    def clean(self):
        cleaned = super().clean()
        if self.channel == "email" and not cleaned.get("subject"):
            self.add_error("subject", "An email needs a subject.")
        if self.channel == "sms" and cleaned.get("subject"):
            self.add_error("subject", "A text message has no subject; leave it blank.")
        if not self.errors:
            problem = render_problem(
                subject=cleaned.get("subject", ""),
                body=cleaned.get("body", ""),
                values=SAMPLE_VALUES,
                email=self.channel == "email",
            )
            if problem == Reason.SUBJECT_LINE_BREAK:
                self.add_error("subject", "The subject must be on one line.")
            elif problem == Reason.TEXT_TOO_LONG:
                self.add_error(
                    "body",
                    "Filled in for a sample message this is longer than a text message can "
                    f"be ({SMS_MAX_CHARACTERS} characters). Shorten it.",
                )
            elif problem:
                self.add_error(
                    "body",
                    "This wording could not be filled in for a sample message, so it would "
                    "not send. Check that every placeholder is written as shown, e.g. {link}.",
                )
        return cleaned
