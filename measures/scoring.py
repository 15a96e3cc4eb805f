"""The one scoring function: paper entry, online answers, exports and dashboards all call it.

Arithmetic is exact (fractions) so band edges and cut-offs are decided on the true score; the
reported score is rounded half up to 2 decimal places only at the end.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from measures.definitions import NOT_APPLICABLE, Instrument, Scale, _as_number, get_instrument

Answer = int | str | None

_SEVERITY_ORDER = {"urgent": 0, "review": 1}


@dataclass(frozen=True)
class RiskHit:
    item: int
    severity: str
    answer: int | None
    reason: str


@dataclass(frozen=True)
class ScoreResult:
    code: str
    version: str
    scales: dict[str, float | None]
    bands: dict[str, str | None]
    not_scored: dict[str, str]
    # Plain-English remarks a reader of the score needs, e.g. prorating or "not applicable".
    notes: dict[str, str]
    risk: tuple[RiskHit, ...]
    diagnosis: str | None
    not_applicable: tuple[int, ...]
    # Scale key -> number of missing items the score was prorated over.
    prorated: dict[str, int]

    @property
    def has_urgent_risk(self) -> bool:
        return any(hit.severity == "urgent" for hit in self.risk)


def score(instrument: str | Instrument, answers: Mapping[int, Answer]) -> ScoreResult:
    """Score one set of answers: item number -> int, None (blank) or "na" where allowed."""
    if not isinstance(instrument, Instrument):
        instrument = get_instrument(instrument)
    clean = clean_answers(instrument, answers)

    scales: dict[str, float | None] = {}
    bands: dict[str, str | None] = {}
    not_scored: dict[str, str] = {}
    notes: dict[str, str] = {}
    prorated: dict[str, int] = {}
    for scale in instrument.scales:
        outcome = _score_scale(instrument, scale, clean)
        if outcome.value is None:
            scales[scale.key] = None
            bands[scale.key] = None
            not_scored[scale.key] = outcome.reason
        else:
            scales[scale.key] = _round(outcome.value)
            # Bands are defined on the scale's whole range: a score over fewer items (some
            # "not applicable", e.g. WSAS item 1 on a 0-32 total) is reported without one.
            partial = any(clean[n] == NOT_APPLICABLE for n in scale.items)
            band = None if partial else scale.band_for(outcome.value)
            bands[scale.key] = band.key if band else None
        if outcome.note:
            notes[scale.key] = outcome.note
        if outcome.prorated:
            prorated[scale.key] = outcome.prorated

    return ScoreResult(
        code=instrument.code,
        version=instrument.version,
        scales=scales,
        bands=bands,
        not_scored=not_scored,
        notes=notes,
        risk=_risk_hits(instrument, clean),
        diagnosis=_diagnosis(instrument, clean),
        not_applicable=tuple(n for n, v in sorted(clean.items()) if v == NOT_APPLICABLE),
        prorated=prorated,
    )


def clean_answers(instrument: Instrument, answers: Mapping[int, Answer]) -> dict[int, Answer]:
    """Check every answer against its item; return item number -> value for every item.

    Item numbers may also be given as their digits in text, as JSON stores them.
    """
    code = instrument.code
    if not isinstance(answers, Mapping):
        raise ValueError(f"{code}: answers must map item numbers to values, not {answers!r}")
    known = instrument.item_numbers
    clean: dict[int, Answer] = dict.fromkeys(known)
    seen: set[int] = set()
    for key, value in answers.items():
        number = _as_number(key)
        if number is None or number not in known:
            raise ValueError(
                f"{code}: item {key!r} does not exist; items are {known[0]}-{known[-1]}"
            )
        if number in seen:
            raise ValueError(f"{code}: item {number} is given twice")
        seen.add(number)
        item = instrument.item(number)
        if not item.accepts(value):
            raise ValueError(
                f"{code}: item {number}: {value!r} is not an allowed answer; allowed: "
                f"{item.describe_allowed()}"
            )
        clean[number] = value
    return clean


@dataclass(frozen=True)
class _Outcome:
    value: Fraction | float | None
    reason: str = ""
    note: str = ""
    prorated: int = 0


def _items_phrase(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"item {numbers[0]}"
    return "items " + ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _score_scale(instrument: Instrument, scale: Scale, answers: dict[int, Answer]) -> _Outcome:
    if scale.method == "any":
        return _score_any(scale, answers)

    not_applicable = [n for n in scale.items if answers[n] == NOT_APPLICABLE]
    applicable = [n for n in scale.items if n not in not_applicable]
    if not applicable:
        return _Outcome(None, reason="every item was answered not applicable")
    blank = [n for n in applicable if answers[n] is None]
    never = [n for n in blank if n in scale.missing.never]
    if never:
        return _Outcome(
            None,
            reason=f"{_items_phrase(never)} not answered; "
            f"{'it' if len(never) == 1 else 'they'} may never be missing",
        )
    if len(blank) > scale.missing.max:
        listed = f" ({_items_phrase(blank)})" if len(blank) <= 5 else ""
        allowed = (
            f"at most {scale.missing.max} allowed" if scale.missing.max else "none may be missing"
        )
        return _Outcome(None, reason=f"{_count(len(blank), 'item')} missing{listed}; {allowed}")

    answered = [n for n in applicable if answers[n] is not None]
    total = sum(_reversed(scale, n, answers[n]) for n in answered)
    notes = []
    if not_applicable:
        lowest, highest = _sum_range(instrument, scale, applicable)
        notes.append(
            f"{_items_phrase(not_applicable)} not applicable, so the score is the "
            f"{scale.method.replace('_', ' ')} of {_items_phrase(applicable)} "
            f"(range {lowest}-{highest})"
        )
    if blank:
        notes.append(
            f"{_items_phrase(blank)} missing; scored from the mean of the {len(answered)} answered"
        )

    if scale.method == "table":
        value: Fraction | float = scale.table[total]
    elif scale.method in ("sum", "sum_x2"):
        factor = 2 if scale.method == "sum_x2" else 1
        # Prorating replaces each missing item by the mean of the answered ones.
        value = Fraction(total * len(applicable) * factor, len(answered))
    else:
        factor = 10 if scale.method == "mean_x10" else 1
        value = Fraction(total * factor, len(answered))
    return _Outcome(value, note="; ".join(notes), prorated=len(blank))


def _score_any(scale: Scale, answers: dict[int, Answer]) -> _Outcome:
    # Three-valued: one "yes" answer settles it even when other items are blank.
    if any(answers[n] in scale.yes[n] for n in scale.items):
        return _Outcome(Fraction(1))
    blank = [n for n in scale.items if answers[n] is None]
    if blank:
        return _Outcome(
            None, reason=f"{_items_phrase(blank)} not answered and no answer given says yes"
        )
    return _Outcome(Fraction(0))


def _reversed(scale: Scale, number: int, value: int) -> int:
    return scale.reversed.apply(number, value) if scale.reversed else value


def _sum_range(instrument: Instrument, scale: Scale, numbers: list[int]) -> tuple[str, str]:
    """The range a scale spans over some of its items (when the others are not applicable)."""
    if scale.method not in ("sum", "sum_x2"):
        return _fmt(scale.range_min), _fmt(scale.range_max)
    factor = 2 if scale.method == "sum_x2" else 1
    items = [instrument.item(n) for n in numbers]
    return (
        _fmt(sum(item.min_value for item in items) * factor),
        _fmt(sum(item.max_value for item in items) * factor),
    )


def _fmt(value) -> str:
    return f"{value:g}"


def _round(value: Fraction | float) -> float:
    if isinstance(value, float):
        return value
    # Half up, on the exact value, so a hand calculation always agrees with the product.
    return math.floor(value * 100 + Fraction(1, 2)) / 100


def _risk_hits(instrument: Instrument, answers: dict[int, Answer]) -> tuple[RiskHit, ...]:
    hits: dict[int, RiskHit] = {}
    for rule in instrument.risk_rules:
        value = answers[rule.item]
        if value is None:
            if instrument.risk_unanswered is None:
                continue
            hit = RiskHit(
                item=rule.item,
                severity=instrument.risk_unanswered,
                answer=None,
                reason=f"risk item {rule.item} left unanswered",
            )
        elif isinstance(value, int) and value >= rule.at_least:
            hit = RiskHit(
                item=rule.item,
                severity=rule.severity,
                answer=value,
                reason=f"item {rule.item} answered {value} ({rule.at_least} or more)"
                + (f": {rule.note}" if rule.note else ""),
            )
        else:
            continue
        earlier = hits.get(rule.item)
        if earlier is None or _SEVERITY_ORDER[hit.severity] < _SEVERITY_ORDER[earlier.severity]:
            hits[rule.item] = hit
    return tuple(sorted(hits.values(), key=lambda h: (_SEVERITY_ORDER[h.severity], h.item)))


def _diagnosis(instrument: Instrument, answers: dict[int, Answer]) -> str | None:
    rule = instrument.diagnosis
    if rule is None:
        return None
    values = {n: answers[n] for n in rule.needed_items}
    if any(not isinstance(v, int) for v in values.values()):
        return None
    endorsed = {n for n, v in values.items() if v >= rule.endorsed_at}
    for outcome in rule.outcomes:
        if all(any(n in endorsed for n in group) for group in outcome.groups):
            return outcome.key
    return rule.none_key
