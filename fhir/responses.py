"""A FHIR QuestionnaireResponse for each completed administration: its answers, when it was
completed, whether online, on paper or from records, and who entered it."""

from django.utils import timezone

from measures.definitions import NOT_APPLICABLE, get_instrument
from measures.models import Administration

from . import r4
from .identity import Naming, entry_mode_system, questionnaire_url, staff_system

Source = Administration.Source


def completed_when(administration: Administration, naming: Naming) -> str:
    """The completion time; the day only in research bundles, as the research CSV has it."""
    when = administration.completed_at
    if naming.research:
        return timezone.localdate(when).isoformat()
    return timezone.localtime(when).isoformat()


def response_reference(administration: Administration, naming: Naming) -> str:
    return f"QuestionnaireResponse/{naming.resource_id('qr', administration.pk)}"


def _staff(user, naming: Naming) -> r4.Reference | None:
    if user is None or naming.research:
        return None
    return r4.Reference(
        identifier=r4.Identifier(system=staff_system(), value=str(user.pk)),
        display=user.get_full_name() or user.get_username(),
    )


def _answer(item, value) -> r4.QuestionnaireResponseItemAnswer:
    if item.count:
        return r4.QuestionnaireResponseItemAnswer(valueInteger=value)
    if value == NOT_APPLICABLE:
        return r4.QuestionnaireResponseItemAnswer(
            valueCoding=r4.Coding(code=NOT_APPLICABLE, display="Not applicable")
        )
    return r4.QuestionnaireResponseItemAnswer(valueCoding=r4.Coding(code=str(value)))


def _items(administration: Administration) -> list[r4.QuestionnaireResponseItem]:
    response = getattr(administration, "response", None)
    answers = response.answers if response is not None else {}
    instrument = get_instrument(administration.instrument_code)
    items = []
    for item in instrument.items:
        value = answers.get(str(item.number))
        if value is None or not item.accepts(value):
            continue  # left blank: no answer to give
        items.append(
            r4.QuestionnaireResponseItem(linkId=str(item.number), answer=[_answer(item, value)])
        )
    return items


def questionnaire_response(
    administration: Administration, naming: Naming
) -> r4.QuestionnaireResponse:
    """Needs the administration with enrolment, entered_by and response loaded."""
    version = (
        administration.instrument_version or get_instrument(administration.instrument_code).version
    )
    patient = r4.Reference(
        reference=naming.patient_reference(administration.enrolment.participant_id)
    )
    staff = _staff(administration.entered_by, naming)
    source = administration.source or Source.ONLINE
    mode = r4.Coding(system=entry_mode_system(), code=source, display=Source(source).label)
    return r4.QuestionnaireResponse(
        id=naming.resource_id("qr", administration.pk),
        meta=r4.Meta(tag=[mode]),
        questionnaire=questionnaire_url(administration.instrument_code, version),
        status="completed",
        subject=patient,
        authored=completed_when(administration, naming),
        # Who gave the answers: the participant, or the staff member working from records.
        source=staff if source == Source.STAFF and staff else patient,
        # Who put them into Safeground, where that was not the participant.
        author=staff if source != Source.ONLINE else None,
        item=_items(administration) or None,
    )
