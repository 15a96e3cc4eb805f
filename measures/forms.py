import csv
import datetime
import io
import json

from django import forms
from django.utils import timezone

from measures.definitions import NOT_APPLICABLE, Instrument, Item

MAX_WORDING_BYTES = 200_000


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        label="Note",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
        help_text="What was done: for example who rang the participant and when. "
        "This is kept with the alert.",
    )

    def clean_note(self):
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError("Write a note saying what was done.")
        return note


# ---------------------------------------------------------------- item-to-field mapping
# One mapping from an instrument's items to form fields, used by paper entry (staff copy a
# printed form) and by the participant's questionnaire page. Both post `item_<number>`
# with the answer's own value (what scoring expects; it reverses items itself).

LARGEST_COUNT = 9999
# "I'd rather not answer" on a participant's page: stored as None, so it counts as missing
# under the instrument's rules (and a skipped risk item raises the review alert).
SKIPPED = "skip"
SKIP_LABEL = "I'd rather not answer"
COUNT_ERRORS = {
    "invalid": "Enter a whole number, like 3.",
    "min_value": f"Enter a whole number from 0 to {LARGEST_COUNT}.",
    "max_value": f"Enter a whole number from 0 to {LARGEST_COUNT}.",
}
CHOICE_ERRORS = {"invalid_choice": "Choose one of the answers."}


def field_name(item: Item) -> str:
    return f"item_{item.number}"


def item_field(
    instrument: Instrument,
    item: Item,
    *,
    label: str,
    blank: tuple[str, str] | None,
    numbered: bool,
    na_label: str,
    skip: bool,
) -> forms.Field:
    """The form field for one item. `numbered` labels each answer with the number a paper
    form prints beside it; `blank` is the choice meaning "left blank" (paper only)."""
    if item.count:
        return forms.IntegerField(
            label=label,
            min_value=0,
            max_value=LARGEST_COUNT,
            required=False,
            error_messages=COUNT_ERRORS,
        )
    choices = [blank] if blank else []
    for option in item.options:
        printed = instrument.printed_value(item.number, option.value)
        if numbered:
            text = f"{printed}" + (f" – {option.label}" if option.label else "")
        else:
            text = option.display_label
        choices.append((str(option.value), text))
    if item.allows_na:
        choices.append((NOT_APPLICABLE, na_label))
    if skip:
        choices.append((SKIPPED, SKIP_LABEL))
    return forms.ChoiceField(
        label=label, choices=choices, required=False, error_messages=CHOICE_ERRORS
    )


def stored_value(item: Item, raw):
    """What a cleaned field's value is stored as: int, "na" or None (blank or skipped)."""
    if raw in (None, "", SKIPPED):
        return None
    if item.count or raw == NOT_APPLICABLE:
        return raw
    return int(raw)


class AdministrationEntryForm(forms.Form):
    """A paper questionnaire (or service use from records), one field per item."""

    completed_on = forms.DateField(
        label="Date it was completed",
        # ISO, which a date input needs to show the initial date.
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The date on the paper form, or the date the records were checked.",
    )

    def __init__(self, *args, instrument: Instrument, **kwargs):
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        for item in instrument.items:
            self.fields[field_name(item)] = item_field(
                instrument,
                item,
                label=f"Item {item.number}" + (f": {item.text}" if item.text else ""),
                blank=("", "Left blank"),
                numbered=True,
                na_label="Not applicable",
                skip=False,
            )

    outside_window = forms.BooleanField(
        label="Completed outside the window",
        required=False,
        help_text="Tick only if the date above is right although it is outside the "
        "questionnaire's window.",
    )
    outside_window_reason = forms.CharField(
        label="Why it still counts",
        max_length=300,
        required=False,
        help_text="For example: returned by post late. No identifying detail.",
    )
    # Set by the "Save as it is" button, after the page has said which items are blank.
    save_as_it_is = forms.BooleanField(required=False, widget=forms.HiddenInput)

    field_order = ["completed_on", "outside_window", "outside_window_reason"]

    def clean_completed_on(self):
        value = self.cleaned_data["completed_on"]
        if value > timezone.localdate():
            raise forms.ValidationError("The date cannot be in the future.")
        return value

    def clean(self):
        data = super().clean()
        if data.get("outside_window") and not (data.get("outside_window_reason") or "").strip():
            self.add_error(
                "outside_window_reason",
                "Say why a questionnaire completed outside its window should still count.",
            )
        return data

    def window_reason(self) -> str:
        if not self.cleaned_data.get("outside_window"):
            return ""
        return self.cleaned_data.get("outside_window_reason", "").strip()

    def answers(self) -> dict[int, object]:
        return {
            item.number: stored_value(item, self.cleaned_data.get(field_name(item)))
            for item in self.instrument.items
        }

    def completed_at(self) -> datetime.datetime:
        day = self.cleaned_data["completed_on"]
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12, 0)))


class QuestionnairePageForm(forms.Form):
    """One page of a questionnaire as a participant answers it.

    Every answer is optional: an item not posted is "not answered yet" and is left as it was;
    "I'd rather not answer" is stored as None. Only bad values (outside the options, or not a
    whole number) are errors, and the page's good answers are kept beside them.
    """

    def __init__(self, *args, instrument: Instrument, items, answers: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        self.items = tuple(items)
        self.saved = answers
        for item in self.items:
            self.fields[field_name(item)] = item_field(
                instrument,
                item,
                label=item.text or f"Question {item.number}",
                blank=None,
                numbered=instrument.show_numbers,
                na_label="Does not apply to me",
                skip=not item.count,
            )

    def answers(self) -> dict[int, object]:
        """The answers given on this page that are good (call after is_valid())."""
        given = {}
        for item in self.items:
            name = field_name(item)
            if name in self.errors or self.data.get(name, "") == "":
                continue
            given[item.number] = stored_value(item, self.cleaned_data.get(name))
        return given

    def _current(self, item: Item) -> str:
        name = field_name(item)
        if self.is_bound and name in self.data:
            return self.data.get(name) or ""
        key = str(item.number)
        if key not in self.saved:
            return ""
        value = self.saved[key]
        return SKIPPED if value is None else str(value)

    def questions(self) -> list[dict]:
        """What the page template shows for each item, with the answer chosen so far."""
        sensitive = set(self.instrument.sensitive_items)
        warned = False
        questions = []
        for item in self.items:
            current = self._current(item)
            field = self.fields[field_name(item)]
            options = [
                {"value": value, "label": label, "checked": current == value}
                for value, label in getattr(field, "choices", ())
            ]
            key = str(item.number)
            first = f"item-{key}-input" if item.count else f"item-{key}-{options[0]['value']}"
            warn = item.number in sensitive and not warned
            warned = warned or warn
            questions.append(
                {
                    "number": item.number,
                    "text": item.text,
                    "preamble": item.preamble,
                    "count": item.count,
                    "value": current,
                    "options": options,
                    "error": " ".join(self.errors.get(field_name(item), [])),
                    "anchor": first,
                    "sensitive_warning": warn,
                }
            )
        return questions


class AdministrationCorrectForm(AdministrationEntryForm):
    """The same items, filled in with the current version's answers, and a reason."""

    reason = forms.CharField(
        label="What was wrong",
        max_length=300,
        help_text="For example: item 4 copied from the wrong row. Kept with both versions.",
    )

    field_order = ["reason", "completed_on", "outside_window", "outside_window_reason"]


class AdministrationVoidForm(forms.Form):
    reason = forms.CharField(
        label="Why it should not count",
        max_length=300,
        help_text="For example: filled in by someone else. The answers are kept, with this.",
    )


class WordingImportForm(forms.Form):
    file = forms.FileField(
        label="Wording file (CSV or JSON)",
        help_text='CSV with the columns "item" and "text", one row per item; or JSON: '
        '{"items": {"1": "text", ...}, "answer_labels": {"0": "label", ...}, '
        '"instructions": "..."} (answer labels and instructions are optional).',
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_WORDING_BYTES:
            raise forms.ValidationError("The file is too large for a wording file.")
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file must be saved as UTF-8 text.") from None
        name = (upload.name or "").lower()
        parse = parse_wording_json if name.endswith(".json") else parse_wording_csv
        try:
            return parse(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


def parse_wording_csv(text: str) -> dict:
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "item" not in fields or "text" not in fields:
        raise ValueError('The CSV file needs a header row with the columns "item" and "text".')
    reader.fieldnames = fields
    items: dict[str, str] = {}
    for line, row in enumerate(reader, start=2):
        number = (row.get("item") or "").strip()
        if not number:
            continue
        if number in items:
            raise ValueError(f"Item {number} appears twice (row {line}).")
        items[number] = (row.get("text") or "").strip()
    if not items:
        raise ValueError("The file has no items.")
    return {"items": items, "option_labels": {}, "instructions": ""}


def parse_wording_json(text: str) -> dict:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"The JSON file cannot be read: {exc.msg} (line {exc.lineno}).") from None
    if not isinstance(data, dict):
        raise ValueError("The JSON file must hold an object.")
    if "items" not in data:
        data = {"items": data}
    unknown = set(data) - {"items", "answer_labels", "instructions"}
    if unknown:
        raise ValueError(f"Unknown field in the JSON file: {', '.join(sorted(unknown))}.")
    items = data["items"]
    labels = data.get("answer_labels") or {}
    instructions = data.get("instructions") or ""
    if not isinstance(items, dict) or not isinstance(labels, dict):
        raise ValueError('"items" and "answer_labels" must map numbers to text.')
    if not isinstance(instructions, str):
        raise ValueError('"instructions" must be text.')
    return {"items": items, "option_labels": labels, "instructions": instructions}


class HuddleContactForm(forms.Form):
    """A "contacted" note against one person on the huddle of a session."""

    enrolment = forms.TypedChoiceField(
        coerce=int,
        error_messages={
            "required": "Choose the person the note is about.",
            "invalid_choice": "That person is not on this session's register.",
        },
    )
    note = forms.CharField(
        label="Contacted: note",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
        error_messages={
            "required": "Write a note saying who was contacted, how, and what was agreed.",
            "max_length": "Keep the note to 1000 characters or fewer (it has %(show_value)d).",
        },
    )

    def __init__(self, *args, enrolment_ids, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enrolment"].choices = [(pk, pk) for pk in enrolment_ids]

    def clean_note(self):
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError(
                "Write a note saying who was contacted, how, and what was agreed."
            )
        return note
