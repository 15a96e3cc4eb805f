"""Instruments as a service sees them: the shipped definition plus any licensed wording it loaded.

The definitions module is pure (no database); this is the thin layer that joins a definition
to a service's InstrumentWording row, and says who completes an instrument.
"""

from collections.abc import Iterable

from measures.definitions import Instrument, apply_wording, get_instrument
from measures.models import InstrumentWording

# Completed by staff from clinical records, never sent to the participant.
STAFF_COMPLETED = frozenset({"service_use"})

PLACEHOLDER_LABEL = "Demo placeholder wording – not the licensed item text"


def no_wording_message(code: str) -> str:
    name = get_instrument(code).name
    return (
        f"{name} cannot be sent or answered online yet: its licence does not allow Safeground "
        "to include the questions, and your service has not loaded its licensed wording. "
        "An administrator can import it on the questionnaire wording page. "
        "Scores from a paper copy can still be entered."
    )


def instrument_for(code: str, wording: InstrumentWording | None) -> Instrument:
    """The definition with the service's wording merged in where it ships without its own."""
    base = get_instrument(code)
    if base.ships_wording or wording is None:
        return base
    return apply_wording(
        base,
        wording.items,
        option_labels=wording.option_labels or None,
        instructions=wording.instructions or None,
    )


def wordings_for(service_id: int, codes: Iterable[str]) -> dict[str, InstrumentWording]:
    """The service's wording rows for those codes that need one; one query at most."""
    needed = {code for code in codes if not get_instrument(code).ships_wording}
    if not needed:
        return {}
    rows = InstrumentWording.objects.filter(service_id=service_id, instrument_code__in=needed)
    return {row.instrument_code: row for row in rows}


def answerable_online(code: str, wordings: dict[str, InstrumentWording]) -> bool:
    """Whether a participant can be sent this instrument: their own, and with wording."""
    if code in STAFF_COMPLETED:
        return False
    return get_instrument(code).ships_wording or code in wordings
