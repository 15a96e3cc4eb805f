"""What participants read. Neutral on purpose: whoever picks up the phone may read it.

A message names no person, no diagnosis and no kind of service: only the service's neutral
public name, a short line, the link and the service's phone number. Services may reword the
text, using only the placeholders below; anything else is refused when it is saved.
"""

import string
from dataclasses import dataclass

PLACEHOLDERS = {
    "public_name": "the service's neutral public name",
    "link": "the questionnaire link (required)",
    "phone": "the service's phone number",
    "closes_on": "the last day to answer, e.g. 14 March",
    "minutes": "about how many minutes the questionnaires take, worked out from their questions",
}

DEFAULTS: dict[tuple[str, str], tuple[str, str]] = {
    # (template kind, channel) -> (subject, body)
    ("invitation", "sms"): (
        "",
        "You have a short questionnaire from {public_name}. It takes about {minutes} minutes: "
        "{link}",
    ),
    ("invitation", "email"): (
        "A short questionnaire from {public_name}",
        "Hello,\n\nYou have a short questionnaire from {public_name}. It takes about "
        "{minutes} minutes:\n\n{link}\n\nIf you have a question, ring {phone}.\n",
    ),
    ("reminder", "sms"): (
        "",
        "A reminder from {public_name}: your short questionnaire is still open until "
        "{closes_on}: {link}",
    ),
    ("reminder", "email"): (
        "A reminder from {public_name}",
        "Hello,\n\nYour short questionnaire from {public_name} is still open until "
        "{closes_on}:\n\n{link}\n\nIf you have a question, ring {phone}.\n",
    ),
    ("final", "sms"): (
        "",
        "Last reminder from {public_name}: your questionnaire closes on {closes_on}: {link}",
    ),
    ("final", "email"): (
        "Last reminder from {public_name}",
        "Hello,\n\nYour short questionnaire from {public_name} closes on {closes_on}:\n\n"
        "{link}\n\nIf you have a question, ring {phone}.\n",
    ),
}

# Message kinds (Message.Kind) -> the template kind whose wording they use.
TEMPLATE_KIND = {
    "invitation": "invitation",
    "reminder_1": "reminder",
    "reminder_2": "reminder",
    "manual": "reminder",
    "final": "final",
}


def wording_errors(text: str, *, require_link: bool) -> list[str]:
    """Problems with a piece of wording, in words an administrator can act on."""
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(text)
            if name is not None
        ]
    except ValueError:
        return [
            "Curly brackets must hold a placeholder, such as {link}. "
            "To show a bracket itself, write it twice: {{ or }}."
        ]
    problems = []
    known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    for name, spec, conversion in fields:
        if name not in PLACEHOLDERS or spec or conversion:
            problems.append(f"{{{name}}} is not a placeholder this text can use. Use {known}.")
    if require_link and "link" not in {name for name, _, _ in fields}:
        problems.append("The text must include {link}, or the participant cannot answer.")
    return problems


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def render(*, subject: str, body: str, values: dict[str, str]) -> Rendered:
    missing = set(PLACEHOLDERS) - set(values)
    if missing:
        raise ValueError(f"Values missing for placeholders: {sorted(missing)}")
    return Rendered(subject=subject.format_map(values), body=body.format_map(values))


# GOV.UK Notify refuses a text longer than this (six fragments).
SMS_MAX_CHARACTERS = 918

# What a template is tried with when it is saved: a message as it would really go, with a
# link as long as a real one (a 43-character token).
SAMPLE_VALUES = {
    "public_name": "Wellbeing Service",
    "link": "https://safeground.example.nhs.uk/q/" + "x" * 43,
    "phone": "0113 496 0000",
    "closes_on": "14 March",
    "minutes": "25",
}


def render_problem(*, subject: str, body: str, values: dict[str, str], email: bool) -> str:
    """The reason code (reminders.outcomes.Reason) for wording that cannot make a message
    to send, or "". Checked when a template is saved and again before each send."""
    from reminders.outcomes import Reason

    if email and ("\n" in subject or "\r" in subject):
        return Reason.SUBJECT_LINE_BREAK
    try:
        rendered = render(subject=subject, body=body, values={**SAMPLE_VALUES, **values})
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        return Reason.TEMPLATE_BROKEN
    if not email and len(rendered.body) > SMS_MAX_CHARACTERS:
        return Reason.TEXT_TOO_LONG
    return ""
