"""The questionnaires section of a subject access copy: each questionnaire in plain words,
with its scores and answers, and the item wording wherever the participant pages show it
(catalogue.instrument_for: shipped wording, or the service's licensed wording)."""

from accounts.records import readable
from measures import catalogue
from measures.definitions import NOT_APPLICABLE
from measures.models import Administration
from participants.subject_access import Section, sections


def _answer(item, value) -> str:
    if value is None:
        return "Left unanswered"
    if value == NOT_APPLICABLE:
        return "Not applicable"
    label = next((o.label for o in item.options if o.value == value), None)
    return f"{value} – {label}" if label else str(value)


def _scores(adm, instrument) -> str:
    parts = []
    for score in adm.scores.all():
        try:
            scale = instrument.scale(score.scale)
        except ValueError:
            continue
        if score.value is None:
            parts.append(f"{scale.label}: not scored ({score.not_scored_reason})")
            continue
        band = scale.band_for(score.value)
        parts.append(f"{scale.label}: {score.value:g}" + (f" ({band.label})" if band else ""))
    return "; ".join(parts) or "None"


def questionnaires(participant) -> list[dict]:
    administrations = list(
        Administration.objects.filter(enrolment__participant=participant)
        .exclude(status=Administration.Status.CANCELLED)
        .select_related("timepoint", "response", "enrolment__cohort")
        .prefetch_related("scores")
        .order_by("due_on", "timepoint__week", "id")
    )
    wordings = catalogue.wordings_for(
        participant.service_id, {adm.instrument_code for adm in administrations}
    )
    records = []
    for adm in administrations:
        instrument = catalogue.instrument_for(
            adm.instrument_code, wordings.get(adm.instrument_code)
        )
        record = {
            "kind": "Questionnaire",
            "Questionnaire": instrument.name,
            "Group": adm.enrolment.cohort.name,
            "Timepoint": adm.timepoint.name,
            "Due": readable(adm.due_on),
            "Could be answered": f"{readable(adm.opens_on)} to {readable(adm.closes_on)}",
            "Status": adm.get_status_display(),
        }
        if adm.status != Administration.Status.COMPLETED:
            records.append(record)
            continue
        record["How it was answered"] = adm.get_source_display() or "Not recorded"
        record["Completed"] = readable(adm.completed_at)
        record["Scores"] = _scores(adm, instrument)
        response = getattr(adm, "response", None)
        answers = response.answers if response else {}
        for item in instrument.items:
            question = f"Question {item.number}"
            if item.text:
                question += f": {item.text}"
            else:
                question += " (its wording is licensed and cannot be shown here)"
            record[question] = _answer(item, answers.get(str(item.number)))
        records.append(record)
    return records


def register() -> None:
    sections.register(
        Section(
            key="questionnaires",
            title="Your questionnaires and answers",
            collect=questionnaires,
            order=20,
            covers=("measures.administration", "measures.response", "measures.score"),
        )
    )
