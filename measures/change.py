"""Reliable and clinically significant change (Jacobson and Truax), per MEASURES.md."""

from __future__ import annotations

import math
from dataclasses import dataclass

from measures.definitions import Instrument, Scale, get_instrument

Z_95 = 1.959964

RELIABLE_IMPROVEMENT = "reliable_improvement"
RELIABLE_DETERIORATION = "reliable_deterioration"
NO_RELIABLE_CHANGE = "no_reliable_change"

# Scores are stored rounded to 2 decimal places, so a change equal to the RCI can arrive a
# hair below it in binary floating point; this keeps "at least the RCI" honest.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Change:
    code: str
    scale: str
    before: float
    after: float
    difference: float
    higher_is: str
    rci: float
    # How the RCI was reached, to be shown beside the result.
    rci_basis: str
    category: str
    cutoff: float | None
    case_before: bool | None
    case_after: bool | None
    recovered: bool | None
    reliable_recovery: bool | None


def rci(sd: float, reliability: float, z: float = Z_95) -> float:
    """RCI = z x SD x sqrt(2) x sqrt(1 - r)."""
    sd = _real(sd, "sd")
    reliability = _real(reliability, "reliability")
    z = _real(z, "z")
    if sd <= 0:
        raise ValueError(f"sd must be above 0, not {sd}")
    if not 0 <= reliability < 1:
        raise ValueError(f"reliability must be at least 0 and below 1, not {reliability}")
    if z <= 0:
        raise ValueError(f"z must be above 0, not {z}")
    return z * sd * math.sqrt(2) * math.sqrt(1 - reliability)


def classify(
    code: str | Instrument,
    scale: str,
    before: float,
    after: float,
    *,
    rci: float | None = None,
    sd: float | None = None,
    reliability: float | None = None,
) -> Change:
    """Classify one person's paired scores on one scale.

    A scale with a fixed RCI uses it. A scale whose RCI is computed takes `rci=`, or `sd=`
    (the service's baseline SD) and `reliability=`, either falling back to the value recorded
    in the definition; a ValueError says what is missing when no RCI can be reached.
    """
    instrument = code if isinstance(code, Instrument) else get_instrument(code)
    definition = instrument.scale(scale)
    name = f"{instrument.code}.{definition.key}"
    before = _score(before, "before", name, definition)
    after = _score(after, "after", name, definition)
    threshold, basis = _reliable_change(name, definition, rci, sd, reliability)

    difference = after - before
    if abs(difference) + _TOLERANCE < threshold:
        category = NO_RELIABLE_CHANGE
    elif (difference < 0) == (definition.higher_is == "worse"):
        category = RELIABLE_IMPROVEMENT
    else:
        category = RELIABLE_DETERIORATION

    case_before = definition.is_case(before)
    case_after = definition.is_case(after)
    if definition.cutoff is None:
        recovered = reliable_recovery = None
    else:
        recovered = bool(case_before and not case_after)
        reliable_recovery = recovered and category == RELIABLE_IMPROVEMENT
    return Change(
        code=instrument.code,
        scale=definition.key,
        before=before,
        after=after,
        difference=difference,
        higher_is=definition.higher_is,
        rci=threshold,
        rci_basis=basis,
        category=category,
        cutoff=definition.cutoff,
        case_before=case_before,
        case_after=case_after,
        recovered=recovered,
        reliable_recovery=reliable_recovery,
    )


def _reliable_change(
    name: str,
    scale: Scale,
    given_rci: float | None,
    sd: float | None,
    reliability: float | None,
) -> tuple[float, str]:
    definition = scale.rci
    given = [
        k
        for k, v in (("rci", given_rci), ("sd", sd), ("reliability", reliability))
        if v is not None
    ]
    if definition is None:
        raise ValueError(f"{name} has no reliable change index")
    if not definition.computed:
        if given:
            raise ValueError(
                f"{name} has a fixed RCI of {definition.value:g} ({definition.source}); "
                f"do not pass {', '.join(given)}"
            )
        return float(definition.value), f"fixed at {definition.value:g} ({definition.source})"
    if given_rci is not None:
        if sd is not None or reliability is not None:
            raise ValueError(f"{name}: pass either rci or sd and reliability, not both")
        value = _real(given_rci, "rci")
        if value <= 0:
            raise ValueError(f"{name}: rci must be above 0, not {value}")
        return value, f"given as {value:g}"
    sd_used = sd if sd is not None else definition.norm_sd
    r_used = reliability if reliability is not None else definition.reliability
    lacking = [
        what
        for what, value in (
            ("sd (the baseline standard deviation)", sd_used),
            ("reliability", r_used),
        )
        if value is None
    ]
    if lacking:
        raise ValueError(
            f"{name}: the RCI is computed and needs {' and '.join(lacking)}; pass rci= or "
            "sd= and reliability="
        )
    value = rci(sd_used, r_used)
    sd_from = "given" if sd is not None else "recorded norm"
    r_from = "given" if reliability is not None else "recorded"
    return value, (
        f"computed from SD {sd_used:g} ({sd_from}) and reliability {r_used:g} ({r_from}); "
        f"source: {definition.source}"
    )


def _real(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {value!r}")
    return float(value)


def _score(value: object, what: str, name: str, scale: Scale) -> float:
    if value is None:
        raise ValueError(f"{name}: {what} is not scored; only paired scores can be classified")
    value = _real(value, f"{name}: {what}")
    if value < scale.range_min or (scale.range_max is not None and value > scale.range_max):
        upper = "" if scale.range_max is None else f"{scale.range_max:g}"
        raise ValueError(
            f"{name}: {what} score {value:g} is outside the scale's range "
            f"{scale.range_min:g}-{upper}"
        )
    return value
