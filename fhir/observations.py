"""A FHIR Observation for each scale score of a completed administration.

The value is the stored score, which measures.scoring.score computed on submit; the band is
the interpretation; the code is Safeground's own "<instrument>.<scale>", plus the LOINC code
where the instrument definition has one marked verified (an unverified code is not sent: a
wrong code would file a score under another measure in the receiving record).
"""

from django.utils import timezone

from measures.definitions import get_instrument
from measures.models import Administration, Score

from . import r4
from .identity import Naming, band_system, scale_system
from .responses import completed_when, response_reference

# Instruments that record facts rather than a scale score, and how their values read.
BOOLEAN_INSTRUMENTS = frozenset({"occupation"})
COUNT_INSTRUMENTS = frozenset({"service_use"})


def scale_code(instrument_code: str, scale_key: str) -> str:
    return f"{instrument_code}.{scale_key}"


def _code(instrument, scale) -> r4.CodeableConcept:
    codings = [
        r4.Coding(system=code.system, code=code.code, display=code.display)
        for code in scale.codes
        if code.verified
    ]
    codings.append(
        r4.Coding(
            system=scale_system(),
            code=scale_code(instrument.code, scale.key),
            display=f"{instrument.name} {scale.label}",
        )
    )
    return r4.CodeableConcept(coding=codings, text=f"{instrument.name} {scale.label}")


def _value(code: str, score: Score) -> dict:
    if score.value is None:
        return {
            "dataAbsentReason": r4.CodeableConcept(
                coding=[r4.Coding(system=r4.DATA_ABSENT_REASON, code="unknown")],
                text=f"Not scored: {score.not_scored_reason}",
            )
        }
    if code in BOOLEAN_INSTRUMENTS:
        return {"valueBoolean": bool(score.value)}
    unit = "{count}" if code in COUNT_INSTRUMENTS else "{score}"
    return {"valueQuantity": r4.Quantity(value=score.value, unit=unit, system=r4.UCUM, code=unit)}


def _interpretation(scale, band_key: str) -> list[r4.CodeableConcept] | None:
    band = next((band for band in scale.bands if band.key == band_key), None)
    if band is None:
        return None
    return [
        r4.CodeableConcept(
            coding=[r4.Coding(system=band_system(), code=band.key, display=band.label)],
            text=band.label,
        )
    ]


def observation(administration: Administration, score: Score, naming: Naming) -> r4.Observation:
    instrument = get_instrument(administration.instrument_code)
    scale = instrument.scale(score.scale)
    return r4.Observation(
        id=naming.resource_id("obs", score.pk),
        status="final",
        category=[
            r4.CodeableConcept(
                coding=[r4.Coding(system=r4.OBSERVATION_CATEGORY, code="survey", display="Survey")]
            )
        ],
        code=_code(instrument, scale),
        subject=r4.Reference(
            reference=naming.patient_reference(administration.enrolment.participant_id)
        ),
        effectiveDateTime=completed_when(administration, naming),
        issued=None if naming.research else timezone.localtime(score.computed_at).isoformat(),
        derivedFrom=[r4.Reference(reference=response_reference(administration, naming))],
        interpretation=_interpretation(scale, score.band) if score.band else None,
        **_value(instrument.code, score),
    )


def observations(administration: Administration, naming: Naming) -> list[r4.Observation]:
    """Needs the administration's scores prefetched (or loads them)."""
    return [observation(administration, score, naming) for score in administration.scores.all()]
