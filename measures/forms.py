import csv
import datetime
import io
import json

from django import forms
from django.utils import timezone

from measures.definitions import NOT_APPLICABLE, Instrument

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
            label = f"Item {item.number}" + (f": {item.text}" if item.text else "")
            name = f"item_{item.number}"
            if item.count:
                self.fields[name] = forms.IntegerField(
                    label=label, min_value=0, max_value=9999, required=False
                )
                continue
            # Each choice is labelled with the number printed on the paper form and posts the
            # answer's own value, which is what scoring expects (it reverses items itself).
            choices = [("", "Left blank")]
            choices += [
                (
                    str(o.value),
                    f"{instrument.printed_value(item.number, o.value)}"
                    + (f" – {o.label}" if o.label else ""),
                )
                for o in item.options
            ]
            if item.allows_na:
                choices.append((NOT_APPLICABLE, "Not applicable"))
            self.fields[name] = forms.ChoiceField(label=label, choices=choices, required=False)

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
        answers = {}
        for item in self.instrument.items:
            raw = self.cleaned_data.get(f"item_{item.number}")
            if raw in (None, ""):
                answers[item.number] = None
            elif item.count or raw == NOT_APPLICABLE:
                answers[item.number] = raw
            else:
                answers[item.number] = int(raw)
        return answers

    def completed_at(self) -> datetime.datetime:
        day = self.cleaned_data["completed_on"]
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12, 0)))


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
