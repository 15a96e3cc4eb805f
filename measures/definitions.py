"""Instrument definitions: loaded from measures/instruments/*.json, validated, frozen.

The JSON files are the single source of truth for items, options, scales, scoring rules, bands,
cut-offs, reliable-change values, risk rules and licences (see MEASURES.md). A definition that
breaks any rule below stops the loader with an error naming the file and the field, so a typo
can never reach a participant or a score.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

INSTRUMENTS_DIR = Path(__file__).resolve().parent / "instruments"
_REPO_ROOT = Path(__file__).resolve().parent.parent

SEVERITIES = ("urgent", "review")
DIRECTIONS = ("worse", "better")
METHODS = ("sum", "sum_x2", "mean", "mean_x10", "table", "any")
PRORATE_RULES = ("mean_of_answered",)
# What a paper form prints beside each answer of a reversed item: the score it counts for
# (CORE-10, CORE-OM: "4 3 2 1 0" on positively worded items) or the answer's own value, the
# reversal left to scoring (SCS-SF prints 1-5 on every item).
PRINTED = ("scored", "answer")
NOT_APPLICABLE = "na"
# An instrument up to this many items is answered on one page; a longer one is split into
# pages of its items_per_page (and at its section starts).
ONE_PAGE_ITEMS = 25
# The time estimate a participant is shown (and their invitation repeats): reading the
# instructions, then a few seconds an item, rounded up to whole minutes.
SECONDS_TO_READ_INSTRUCTIONS = 20
SECONDS_PER_ITEM = 8


class InstrumentDefinitionError(ValueError):
    """An instrument's JSON definition breaks a rule; the message names the file and field."""


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class Option:
    value: int
    label: str | None

    @property
    def display_label(self) -> str:
        return self.label if self.label is not None else str(self.value)


@dataclass(frozen=True)
class Item:
    number: int
    text: str | None
    options: tuple[Option, ...]
    allows_na: bool = False
    # A count item takes any whole number from 0 up (service use) instead of fixed options.
    count: bool = False
    scored: bool = True
    section_start: bool = False
    preamble: str | None = None

    @property
    def option_values(self) -> tuple[int, ...]:
        return tuple(option.value for option in self.options)

    @property
    def min_value(self) -> int:
        return 0 if self.count else min(self.option_values)

    @property
    def max_value(self) -> int | None:
        return None if self.count else max(self.option_values)

    def accepts(self, value: object) -> bool:
        """True for a value this item can hold (None, i.e. blank, included)."""
        if value is None:
            return True
        if value == NOT_APPLICABLE and isinstance(value, str):
            return self.allows_na
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        if self.count:
            return value >= 0
        return value in self.option_values

    def describe_allowed(self) -> str:
        if self.count:
            allowed = ["a whole number 0 or more"]
        else:
            allowed = [str(value) for value in self.option_values]
        if self.allows_na:
            allowed.append('"na" (not applicable)')
        allowed.append("None (left blank)")
        return ", ".join(allowed)


@dataclass(frozen=True)
class Band:
    key: str
    label: str
    lower: float
    # Upper bounds are as printed in the source and only describe the band: a score belongs to
    # the highest band whose lower bound it reaches, so prorated scores between printed bands
    # (e.g. PHQ-9 9.5) still land in exactly one band.
    upper: float | None


@dataclass(frozen=True)
class Reversal:
    items: tuple[int, ...]
    subtract_from: int
    printed: str = "answer"

    @property
    def formula(self) -> str:
        return f"{self.subtract_from} - answer"

    def apply(self, item: int, value: int) -> int:
        return self.subtract_from - value if item in self.items else value


@dataclass(frozen=True)
class MissingRule:
    max: int
    never: tuple[int, ...]
    prorate: str | None


@dataclass(frozen=True)
class ReliableChange:
    """A scale's reliable change index: a fixed value, or computed from an SD and reliability."""

    value: float | None
    computed: bool
    reliability: float | None
    norm_sd: float | None
    source: str


@dataclass(frozen=True)
class ScaleCode:
    """A standard terminology code for a scale's score (LOINC), and whether it has been
    checked against the terminology's own entry (False keeps it out of clinical exchange)."""

    system: str
    code: str
    display: str
    verified: bool


@dataclass(frozen=True)
class Scale:
    key: str
    label: str
    items: tuple[int, ...]
    method: str
    reversed: Reversal | None
    missing: MissingRule
    range_min: float
    range_max: float | None
    higher_is: str
    bands: tuple[Band, ...]
    cutoff: float | None
    rci: ReliableChange | None
    table: Mapping[int, float] | None = None
    yes: Mapping[int, frozenset[int]] | None = None
    codes: tuple[ScaleCode, ...] = ()

    def band_for(self, value: float) -> Band | None:
        found = None
        for band in self.bands:
            if value >= band.lower:
                found = band
        return found

    def is_case(self, value: float) -> bool | None:
        """At or beyond the cut-off, in the scale's bad direction; None without a cut-off."""
        if self.cutoff is None:
            return None
        if self.higher_is == "worse":
            return value >= self.cutoff
        return value <= self.cutoff


@dataclass(frozen=True)
class RiskRule:
    item: int
    at_least: int
    severity: str
    note: str | None


@dataclass(frozen=True)
class DiagnosisOutcome:
    key: str
    label: str
    groups: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class DiagnosisRule:
    """Outcomes are tried in order and the first whose every group has an endorsed item wins."""

    endorsed_at: int
    outcomes: tuple[DiagnosisOutcome, ...]
    none_key: str
    none_label: str

    @property
    def needed_items(self) -> tuple[int, ...]:
        return tuple(sorted({item for o in self.outcomes for group in o.groups for item in group}))

    def label_for(self, key: str | None) -> str | None:
        if key is None:
            return None
        if key == self.none_key:
            return self.none_label
        return next(o.label for o in self.outcomes if o.key == key)


@dataclass(frozen=True)
class Licence:
    ships_wording: bool
    name: str
    attribution: str | None
    link: str | None


@dataclass(frozen=True)
class Unverified:
    """A value still to be checked against its source before clinical release."""

    path: str
    note: str


@dataclass(frozen=True)
class UnverifiedValue:
    code: str
    path: str
    note: str


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    full_name: str
    version: str
    instructions: str | None
    items_per_page: int | None
    licence: Licence
    items: tuple[Item, ...]
    scales: tuple[Scale, ...]
    risk_rules: tuple[RiskRule, ...]
    risk_unanswered: str | None
    diagnosis: DiagnosisRule | None
    unverified: tuple[Unverified, ...]
    source: str
    wording_from_service: bool = False
    # The name a participant reads, in plain words ("Worry and anxiety", not "GAD-7").
    plain_name: str | None = None
    # Items a calm warning goes before (MEASURES.md, "Sensitive items"); sensitive_all puts
    # one warning before the whole questionnaire instead.
    sensitive_items: tuple[int, ...] = ()
    sensitive_all: bool = False
    # The instructions refer to the answers by number (DASS-21), so the options show them.
    show_numbers: bool = False

    @property
    def participant_name(self) -> str:
        return self.plain_name or self.full_name

    @property
    def minutes(self) -> int:
        seconds = SECONDS_TO_READ_INSTRUCTIONS + SECONDS_PER_ITEM * len(self.items)
        return max(1, math.ceil(seconds / 60))

    def item(self, number: int) -> Item:
        for item in self.items:
            if item.number == number:
                return item
        raise ValueError(
            f"{self.code}: item {number!r} does not exist; items are "
            f"{self.items[0].number}-{self.items[-1].number}"
        )

    def scale(self, key: str) -> Scale:
        for scale in self.scales:
            if scale.key == key:
                return scale
        raise ValueError(
            f"{self.code}: unknown scale {key!r}; scales are {', '.join(self.scale_keys)}"
        )

    @property
    def item_numbers(self) -> tuple[int, ...]:
        return tuple(item.number for item in self.items)

    @property
    def scale_keys(self) -> tuple[str, ...]:
        return tuple(scale.key for scale in self.scales)

    @property
    def ships_wording(self) -> bool:
        return self.licence.ships_wording

    @property
    def has_wording(self) -> bool:
        """Whether every item has text, shipped or loaded by the service: ready to send."""
        return all(item.text for item in self.items)

    @property
    def wording_verified(self) -> bool:
        return not any(
            entry.path == "items" or entry.path.startswith("items.") for entry in self.unverified
        )

    def printed_value(self, number: int, value: int) -> int:
        """The number a paper form prints beside `value` on item `number`.

        Answers are stored and scored as the answer's own value; a clerk copying a reversed
        item's printed score needs it mapped back, or enters the opposite answer.
        """
        for scale in self.scales:
            reversal = scale.reversed
            if reversal and reversal.printed == "scored" and number in reversal.items:
                return reversal.apply(number, value)
        return value

    @property
    def risk_items(self) -> tuple[int, ...]:
        return tuple(sorted({rule.item for rule in self.risk_rules}))

    def is_verified(self, path: str) -> bool:
        """False where `path` or anything above it is marked unverified."""
        return not any(
            path == entry.path or path.startswith(entry.path + ".") for entry in self.unverified
        )

    def pages(self) -> tuple[tuple[Item, ...], ...]:
        """Items split for the participant UI: one page up to ONE_PAGE_ITEMS items; a longer
        instrument gets a new page at each section start or when a page is full."""
        if len(self.items) <= ONE_PAGE_ITEMS:
            return (self.items,)
        pages: list[list[Item]] = []
        for item in self.items:
            if not pages or item.section_start or len(pages[-1]) >= self.items_per_page:
                pages.append([])
            pages[-1].append(item)
        return tuple(tuple(page) for page in pages)


# --------------------------------------------------------------------------- validation


class _Reader:
    """Walks raw JSON, building error messages of the form `file: field.path: problem`."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, path: str, problem: str) -> InstrumentDefinitionError:
        where = f"{self.source}: {path}: " if path else f"{self.source}: "
        return InstrumentDefinitionError(where + problem)

    def obj(
        self, data: Any, path: str, required: Iterable[str], optional: Iterable[str] = ()
    ) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(path, f"must be an object, not {type(data).__name__}")
        required = tuple(required)
        allowed = set(required) | set(optional)
        for key in required:
            if key not in data:
                raise self.fail(_join(path, key), "is required")
        for key in data:
            if key not in allowed:
                raise self.fail(_join(path, key), "is not a known field")
        return data

    def string(self, data: Any, path: str, *, nullable: bool = False) -> str | None:
        if data is None and nullable:
            return None
        if not isinstance(data, str) or not data.strip():
            raise self.fail(path, "must be a non-empty string")
        return data

    def integer(self, data: Any, path: str, *, minimum: int | None = None) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise self.fail(path, f"must be a whole number, not {data!r}")
        if minimum is not None and data < minimum:
            raise self.fail(path, f"must be {minimum} or more, not {data}")
        return data

    def number(self, data: Any, path: str, *, nullable: bool = False) -> float | None:
        if data is None and nullable:
            return None
        if isinstance(data, bool) or not isinstance(data, int | float) or not math.isfinite(data):
            raise self.fail(path, f"must be a number, not {data!r}")
        return data

    def boolean(self, data: Any, path: str) -> bool:
        if not isinstance(data, bool):
            raise self.fail(path, f"must be true or false, not {data!r}")
        return data

    def array(self, data: Any, path: str, *, non_empty: bool = True) -> list[Any]:
        if not isinstance(data, list):
            raise self.fail(path, f"must be a list, not {type(data).__name__}")
        if non_empty and not data:
            raise self.fail(path, "must not be empty")
        return data

    def choice(self, data: Any, path: str, choices: Iterable[str], *, nullable=False):
        choices = tuple(choices)
        if data is None and nullable:
            return None
        if data not in choices:
            raise self.fail(path, f"must be one of {', '.join(choices)}, not {data!r}")
        return data

    def item_numbers(self, data: Any, path: str, known: Mapping[int, Item], *, non_empty=True):
        numbers = []
        for index, raw in enumerate(self.array(data, path, non_empty=non_empty)):
            number = self.integer(raw, f"{path}[{index}]")
            if number not in known:
                raise self.fail(path, f"item {number} does not exist")
            if number in numbers:
                raise self.fail(path, f"item {number} is listed twice")
            numbers.append(number)
        return tuple(numbers)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _parse_options(r: _Reader, data: Any, path: str, ships_wording: bool) -> tuple[Option, ...]:
    options = []
    for index, raw in enumerate(r.array(data, path)):
        opath = f"{path}[{index}]"
        raw = r.obj(raw, opath, ("value", "label"))
        value = r.integer(raw["value"], f"{opath}.value")
        label = r.string(raw["label"], f"{opath}.label", nullable=True)
        if label is not None and not ships_wording:
            raise r.fail(f"{opath}.label", "must be null: this instrument ships no wording")
        if options and value != options[-1].value + 1:
            raise r.fail(f"{opath}.value", "option values must run upward in steps of 1")
        options.append(Option(value=value, label=label))
    return tuple(options)


def _parse_items(r: _Reader, raw: dict[str, Any], ships_wording: bool) -> tuple[Item, ...]:
    option_sets = r.obj(raw["option_sets"], "option_sets", (), raw["option_sets"] or ())
    parsed_sets = {
        name: _parse_options(r, value, f"option_sets.{name}", ships_wording)
        for name, value in option_sets.items()
    }
    items = []
    for index, data in enumerate(r.array(raw["items"], "items")):
        path = f"items[{index}]"
        data = r.obj(
            data,
            path,
            ("number", "text"),
            ("options", "allows_na", "count", "scored", "section_start", "preamble"),
        )
        number = r.integer(data["number"], f"{path}.number")
        if number != index + 1:
            raise r.fail(
                f"{path}.number", f"items must be numbered 1, 2, 3...; expected {index + 1}"
            )
        text = r.string(data["text"], f"{path}.text", nullable=True)
        preamble = r.string(data.get("preamble"), f"{path}.preamble", nullable=True)
        if ships_wording and text is None:
            raise r.fail(f"{path}.text", "is required: this instrument ships its wording")
        if not ships_wording and (text is not None or preamble is not None):
            field = "text" if text is not None else "preamble"
            raise r.fail(f"{path}.{field}", "must be null: this instrument ships no wording")
        count = r.boolean(data.get("count", False), f"{path}.count")
        allows_na = r.boolean(data.get("allows_na", False), f"{path}.allows_na")
        if count:
            if "options" in data:
                raise r.fail(f"{path}.options", "a count item takes no options")
            if allows_na:
                raise r.fail(f"{path}.allows_na", "a count item cannot be not applicable")
            options: tuple[Option, ...] = ()
        else:
            if "options" not in data:
                raise r.fail(f"{path}.options", "is required (or set count: true)")
            ref = data["options"]
            if isinstance(ref, str):
                if ref not in parsed_sets:
                    raise r.fail(f"{path}.options", f"option set {ref!r} does not exist")
                options = parsed_sets[ref]
            else:
                options = _parse_options(r, ref, f"{path}.options", ships_wording)
        items.append(
            Item(
                number=number,
                text=text,
                options=options,
                allows_na=allows_na,
                count=count,
                scored=r.boolean(data.get("scored", True), f"{path}.scored"),
                section_start=r.boolean(data.get("section_start", False), f"{path}.section_start"),
                preamble=preamble,
            )
        )
    return tuple(items)


def _expected_range(method: str, items: list[Item]) -> tuple[float, float | None]:
    lows = [item.min_value for item in items]
    highs = [item.max_value for item in items]
    unbounded = any(high is None for high in highs)
    if method in ("sum", "sum_x2"):
        factor = 2 if method == "sum_x2" else 1
        return sum(lows) * factor, None if unbounded else sum(highs) * factor
    factor = 10 if method == "mean_x10" else 1
    return min(lows) * factor, None if unbounded else max(highs) * factor


def _parse_scale(r: _Reader, data: Any, path: str, items: Mapping[int, Item]) -> Scale:
    data = r.obj(
        data,
        path,
        (
            "key",
            "label",
            "items",
            "method",
            "reversed",
            "missing",
            "range",
            "higher_is",
            "bands",
            "cutoff",
            "rci",
        ),
        ("table", "yes", "codes"),
    )
    key = r.string(data["key"], f"{path}.key")
    if not key.isidentifier() or key != key.lower():
        raise r.fail(f"{path}.key", f"must be a lower-case identifier, not {key!r}")
    label = r.string(data["label"], f"{path}.label")
    numbers = r.item_numbers(data["items"], f"{path}.items", items)
    scale_items = [items[n] for n in numbers]
    for item in scale_items:
        if not item.scored:
            raise r.fail(f"{path}.items", f"item {item.number} is marked scored: false")
    method = r.choice(data["method"], f"{path}.method", METHODS)
    if method != "sum" and any(item.count for item in scale_items):
        raise r.fail(f"{path}.method", "count items can only be summed")
    if method not in ("sum", "sum_x2") and any(item.allows_na for item in scale_items):
        # Leaving a not-applicable item out is only defined for sums (e.g. WSAS item 1).
        raise r.fail(f"{path}.method", "items allowing not applicable can only be summed")

    reversal = None
    if data["reversed"] is not None:
        rpath = f"{path}.reversed"
        raw = r.obj(data["reversed"], rpath, ("items", "subtract_from", "printed"))
        reversed_items = r.item_numbers(raw["items"], f"{rpath}.items", items)
        subtract_from = r.integer(raw["subtract_from"], f"{rpath}.subtract_from")
        for number in reversed_items:
            if number not in numbers:
                raise r.fail(f"{rpath}.items", f"item {number} is not in this scale")
            item = items[number]
            if item.count or subtract_from != item.min_value + item.max_value:
                raise r.fail(
                    f"{rpath}.subtract_from",
                    f"{subtract_from} - answer does not map item {number}'s options onto "
                    "themselves",
                )
        reversal = Reversal(
            items=reversed_items,
            subtract_from=subtract_from,
            printed=r.choice(raw["printed"], f"{rpath}.printed", PRINTED),
        )

    mpath = f"{path}.missing"
    raw = r.obj(data["missing"], mpath, ("max", "never", "prorate"))
    max_missing = r.integer(raw["max"], f"{mpath}.max", minimum=0)
    if max_missing >= len(numbers):
        raise r.fail(f"{mpath}.max", "must be less than the number of items in the scale")
    never = r.item_numbers(raw["never"], f"{mpath}.never", items, non_empty=False)
    for number in never:
        if number not in numbers:
            raise r.fail(f"{mpath}.never", f"item {number} is not in this scale")
    prorate = r.choice(raw["prorate"], f"{mpath}.prorate", PRORATE_RULES, nullable=True)
    if max_missing and prorate is None:
        raise r.fail(f"{mpath}.prorate", "is required when items may be missing")
    if not max_missing and prorate is not None:
        raise r.fail(f"{mpath}.prorate", "must be null when no item may be missing")
    if method in ("table", "any") and max_missing:
        raise r.fail(f"{mpath}.max", f"must be 0 for method {method}")
    missing = MissingRule(max=max_missing, never=never, prorate=prorate)

    table = None
    yes = None
    if method == "table":
        if "table" not in data:
            raise r.fail(f"{path}.table", "is required for method table")
        raw_table = r.obj(data["table"], f"{path}.table", (), data["table"] or ())
        low, high = _expected_range("sum", scale_items)
        wanted = {str(n) for n in range(int(low), int(high) + 1)}
        if set(raw_table) != wanted:
            raise r.fail(f"{path}.table", f"must have exactly one entry per raw sum {low}-{high}")
        table = MappingProxyType(
            {int(k): float(r.number(v, f"{path}.table.{k}")) for k, v in raw_table.items()}
        )
        expected = (min(table.values()), max(table.values()))
    elif method == "any":
        if "yes" not in data:
            raise r.fail(f"{path}.yes", "is required for method any")
        raw_yes = r.obj(data["yes"], f"{path}.yes", (), data["yes"] or ())
        if set(raw_yes) != {str(n) for n in numbers}:
            raise r.fail(f"{path}.yes", "must give the yes answers for every item in the scale")
        parsed_yes = {}
        for k, values in raw_yes.items():
            item = items[int(k)]
            chosen = frozenset(
                r.integer(v, f"{path}.yes.{k}[{i}]")
                for i, v in enumerate(r.array(values, f"{path}.yes.{k}"))
            )
            if not chosen <= set(item.option_values):
                raise r.fail(f"{path}.yes.{k}", f"values must be among {item.option_values}")
            parsed_yes[int(k)] = chosen
        yes = MappingProxyType(parsed_yes)
        expected = (0, 1)
    else:
        for extra in ("table", "yes"):
            if extra in data:
                raise r.fail(f"{path}.{extra}", f"is not used by method {method}")
        expected = _expected_range(method, scale_items)

    range_raw = r.array(data["range"], f"{path}.range")
    if len(range_raw) != 2:
        raise r.fail(f"{path}.range", "must be [lowest, highest]")
    range_min = r.number(range_raw[0], f"{path}.range[0]")
    range_max = r.number(range_raw[1], f"{path}.range[1]", nullable=True)
    if (range_min, range_max) != expected:
        raise r.fail(
            f"{path}.range",
            f"{[range_min, range_max]} does not match the items and method, which give "
            f"{list(expected)}",
        )

    higher_is = r.choice(data["higher_is"], f"{path}.higher_is", DIRECTIONS)
    bands = _parse_bands(r, data["bands"], f"{path}.bands", range_min, range_max)
    cutoff = r.number(data["cutoff"], f"{path}.cutoff", nullable=True)
    if cutoff is not None and not (
        range_min <= cutoff and (range_max is None or cutoff <= range_max)
    ):
        raise r.fail(f"{path}.cutoff", f"{cutoff} is outside the scale's range")
    rci = _parse_rci(r, data["rci"], f"{path}.rci")
    codes = _parse_codes(r, data.get("codes", []), f"{path}.codes")
    return Scale(
        key=key,
        label=label,
        items=numbers,
        method=method,
        reversed=reversal,
        missing=missing,
        range_min=range_min,
        range_max=range_max,
        higher_is=higher_is,
        bands=bands,
        cutoff=cutoff,
        rci=rci,
        table=table,
        yes=yes,
        codes=codes,
    )


def _parse_codes(r: _Reader, data: Any, path: str) -> tuple[ScaleCode, ...]:
    codes = []
    for index, entry in enumerate(r.array(data, path, non_empty=False)):
        cpath = f"{path}[{index}]"
        entry = r.obj(entry, cpath, ("system", "code", "display", "verified"))
        codes.append(
            ScaleCode(
                system=r.string(entry["system"], f"{cpath}.system"),
                code=r.string(entry["code"], f"{cpath}.code"),
                display=r.string(entry["display"], f"{cpath}.display"),
                verified=r.boolean(entry["verified"], f"{cpath}.verified"),
            )
        )
    return tuple(codes)


def _parse_bands(r: _Reader, data: Any, path: str, low: float, high: float | None):
    if data is None:
        return ()
    bands: list[Band] = []
    for index, raw in enumerate(r.array(data, path)):
        bpath = f"{path}[{index}]"
        raw = r.obj(raw, bpath, ("key", "label", "lower", "upper"))
        key = r.string(raw["key"], f"{bpath}.key")
        if not key.isidentifier() or key != key.lower():
            raise r.fail(f"{bpath}.key", f"must be a lower-case identifier, not {key!r}")
        if any(b.key == key for b in bands):
            raise r.fail(f"{bpath}.key", f"band {key!r} appears twice")
        lower = r.number(raw["lower"], f"{bpath}.lower")
        upper = r.number(raw["upper"], f"{bpath}.upper", nullable=True)
        if index == 0 and lower != low:
            raise r.fail(
                f"{bpath}.lower", f"the first band must start at the scale's lowest, {low}"
            )
        if bands and lower <= bands[-1].lower:
            raise r.fail(f"{bpath}.lower", "bands must be in ascending order")
        if bands and bands[-1].upper is not None and bands[-1].upper >= lower:
            raise r.fail(
                f"{bpath}.lower", f"overlaps the band before, which ends at {bands[-1].upper}"
            )
        if bands and bands[-1].upper is None:
            raise r.fail(f"{path}[{index - 1}].upper", "only the last band may be open-ended")
        if upper is not None and upper < lower:
            raise r.fail(f"{bpath}.upper", "is below the band's lower bound")
        bands.append(
            Band(key=key, label=r.string(raw["label"], f"{bpath}.label"), lower=lower, upper=upper)
        )
    if bands[-1].upper is not None and bands[-1].upper != high:
        raise r.fail(
            f"{path}[{len(bands) - 1}].upper",
            f"the last band must end at the scale's highest, {high}",
        )
    return tuple(bands)


def _parse_rci(r: _Reader, data: Any, path: str) -> ReliableChange | None:
    if data is None:
        return None
    if isinstance(data, dict) and data.get("computed"):
        raw = r.obj(data, path, ("computed", "reliability", "norm_sd", "source"))
        reliability = r.number(raw["reliability"], f"{path}.reliability", nullable=True)
        if reliability is not None and not 0 <= reliability < 1:
            raise r.fail(f"{path}.reliability", "must be at least 0 and below 1")
        norm_sd = r.number(raw["norm_sd"], f"{path}.norm_sd", nullable=True)
        if norm_sd is not None and norm_sd <= 0:
            raise r.fail(f"{path}.norm_sd", "must be above 0")
        return ReliableChange(
            value=None,
            computed=True,
            reliability=reliability,
            norm_sd=norm_sd,
            source=r.string(raw["source"], f"{path}.source"),
        )
    raw = r.obj(data, path, ("value", "source"))
    value = r.number(raw["value"], f"{path}.value")
    if value <= 0:
        raise r.fail(f"{path}.value", "must be above 0")
    return ReliableChange(
        value=value,
        computed=False,
        reliability=None,
        norm_sd=None,
        source=r.string(raw["source"], f"{path}.source"),
    )


def _parse_risk(r: _Reader, data: Any, items: Mapping[int, Item]):
    if data is None:
        return (), None
    data = r.obj(data, "risk", ("rules", "unanswered"))
    rules = []
    for index, raw in enumerate(r.array(data["rules"], "risk.rules")):
        path = f"risk.rules[{index}]"
        raw = r.obj(raw, path, ("item", "at_least", "severity"), ("note",))
        number = r.integer(raw["item"], f"{path}.item")
        if number not in items:
            raise r.fail(f"{path}.item", f"item {number} does not exist")
        item = items[number]
        at_least = r.integer(raw["at_least"], f"{path}.at_least")
        if item.count or at_least not in item.option_values or at_least == item.min_value:
            raise r.fail(
                f"{path}.at_least", f"must be one of item {number}'s answers above its lowest"
            )
        rules.append(
            RiskRule(
                item=number,
                at_least=at_least,
                severity=r.choice(raw["severity"], f"{path}.severity", SEVERITIES),
                note=r.string(raw.get("note"), f"{path}.note", nullable=True),
            )
        )
    unanswered = r.choice(data["unanswered"], "risk.unanswered", SEVERITIES, nullable=True)
    return tuple(rules), unanswered


def _parse_diagnosis(r: _Reader, data: Any, items: Mapping[int, Item]) -> DiagnosisRule | None:
    if data is None:
        return None
    data = r.obj(data, "diagnosis", ("endorsed_at", "outcomes", "none"))
    endorsed_at = r.integer(data["endorsed_at"], "diagnosis.endorsed_at")
    outcomes = []
    for index, raw in enumerate(r.array(data["outcomes"], "diagnosis.outcomes")):
        path = f"diagnosis.outcomes[{index}]"
        raw = r.obj(raw, path, ("key", "label", "groups"))
        groups = tuple(
            r.item_numbers(group, f"{path}.groups[{g}]", items)
            for g, group in enumerate(r.array(raw["groups"], f"{path}.groups"))
        )
        for group in groups:
            for number in group:
                if endorsed_at not in items[number].option_values:
                    raise r.fail("diagnosis.endorsed_at", f"is not an answer of item {number}")
        outcomes.append(
            DiagnosisOutcome(
                key=r.string(raw["key"], f"{path}.key"),
                label=r.string(raw["label"], f"{path}.label"),
                groups=groups,
            )
        )
    none = r.obj(data["none"], "diagnosis.none", ("key", "label"))
    return DiagnosisRule(
        endorsed_at=endorsed_at,
        outcomes=tuple(outcomes),
        none_key=r.string(none["key"], "diagnosis.none.key"),
        none_label=r.string(none["label"], "diagnosis.none.label"),
    )


def _resolve(raw: Any, path: str) -> bool:
    """Whether a dotted path names a field; list segments match an element's key or number."""
    node = raw
    for segment in path.split("."):
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list):
            matches = [
                element
                for element in node
                if isinstance(element, dict)
                and (element.get("key") == segment or str(element.get("number")) == segment)
            ]
            if len(matches) != 1:
                return False
            node = matches[0]
        else:
            return False
    return True


def _parse_unverified(r: _Reader, data: Any, raw: dict[str, Any]) -> tuple[Unverified, ...]:
    entries = []
    for index, entry in enumerate(r.array(data, "unverified", non_empty=False)):
        path = f"unverified[{index}]"
        entry = r.obj(entry, path, ("path", "note"))
        target = r.string(entry["path"], f"{path}.path")
        if not _resolve(raw, target):
            raise r.fail(f"{path}.path", f"{target!r} names no field of this definition")
        if any(e.path == target for e in entries):
            raise r.fail(f"{path}.path", f"{target!r} is listed twice")
        entries.append(Unverified(path=target, note=r.string(entry["note"], f"{path}.note")))
    return tuple(entries)


def parse_instrument(raw: Any, source: str) -> Instrument:
    """Build an Instrument from decoded JSON, raising InstrumentDefinitionError on any fault."""
    r = _Reader(source)
    raw = r.obj(
        raw,
        "",
        (
            "code",
            "name",
            "full_name",
            "version",
            "instructions",
            "items_per_page",
            "licence",
            "option_sets",
            "items",
            "scales",
            "risk",
            "diagnosis",
            "unverified",
        ),
        ("plain_name", "sensitive", "show_numbers"),
    )
    code = r.string(raw["code"], "code")
    if not code.isidentifier() or code != code.lower():
        raise r.fail("code", f"must be a lower-case identifier, not {code!r}")
    version = r.string(raw["version"], "version")

    lic = r.obj(raw["licence"], "licence", ("ships_wording", "name", "attribution", "link"))
    licence = Licence(
        ships_wording=r.boolean(lic["ships_wording"], "licence.ships_wording"),
        name=r.string(lic["name"], "licence.name"),
        attribution=r.string(lic["attribution"], "licence.attribution", nullable=True),
        link=r.string(lic["link"], "licence.link", nullable=True),
    )
    instructions = r.string(raw["instructions"], "instructions", nullable=True)
    if instructions is not None and not licence.ships_wording:
        raise r.fail("instructions", "must be null: this instrument ships no wording")
    items_per_page = raw["items_per_page"]
    if items_per_page is not None:
        items_per_page = r.integer(items_per_page, "items_per_page", minimum=1)

    items = _parse_items(r, raw, licence.ships_wording)
    by_number = {item.number: item for item in items}
    if len(items) > ONE_PAGE_ITEMS and items_per_page is None:
        raise r.fail("items_per_page", f"is required: more than {ONE_PAGE_ITEMS} items")
    if len(items) <= ONE_PAGE_ITEMS and items_per_page is not None:
        raise r.fail("items_per_page", f"must be null: up to {ONE_PAGE_ITEMS} items go on one page")
    sensitive = raw.get("sensitive", [])
    sensitive_all = sensitive == "all"
    sensitive_items = (
        ()
        if sensitive_all
        else tuple(r.item_numbers(sensitive, "sensitive", by_number, non_empty=False))
    )

    scales = []
    for index, data in enumerate(r.array(raw["scales"], "scales")):
        scale = _parse_scale(r, data, f"scales[{index}]", by_number)
        if any(s.key == scale.key for s in scales):
            raise r.fail(f"scales[{index}].key", f"scale {scale.key!r} appears twice")
        scales.append(scale)
    printed: dict[int, str] = {}
    for index, scale in enumerate(scales):
        for number in scale.reversed.items if scale.reversed else ():
            if printed.setdefault(number, scale.reversed.printed) != scale.reversed.printed:
                raise r.fail(
                    f"scales[{index}].reversed.printed",
                    f"item {number} is printed as {printed[number]!r} in another scale",
                )
    diagnosis = _parse_diagnosis(r, raw["diagnosis"], by_number)
    used = {number for scale in scales for number in scale.items}
    used |= set(diagnosis.needed_items if diagnosis else ())
    for index, item in enumerate(items):
        if item.scored and item.number not in used:
            raise r.fail(
                f"items[{index}]",
                f"item {item.number} is in no scale or diagnosis; mark it scored: false",
            )

    risk_rules, risk_unanswered = _parse_risk(r, raw["risk"], by_number)
    return Instrument(
        code=code,
        name=r.string(raw["name"], "name"),
        full_name=r.string(raw["full_name"], "full_name"),
        version=version,
        instructions=instructions,
        items_per_page=items_per_page,
        licence=licence,
        items=items,
        scales=tuple(scales),
        risk_rules=risk_rules,
        risk_unanswered=risk_unanswered,
        diagnosis=diagnosis,
        unverified=_parse_unverified(r, raw["unverified"], raw),
        source=source,
        plain_name=r.string(raw.get("plain_name"), "plain_name", nullable=True),
        sensitive_items=sensitive_items,
        sensitive_all=sensitive_all,
        show_numbers=r.boolean(raw.get("show_numbers", False), "show_numbers"),
    )


def _display_path(path: Path) -> str:
    try:
        return path.resolve().relative_to(_REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def load_instruments(directory: Path | str = INSTRUMENTS_DIR) -> dict[str, Instrument]:
    """Read and validate every *.json in `directory`; each file is named after its code."""
    instruments: dict[str, Instrument] = {}
    for path in sorted(Path(directory).glob("*.json")):
        source = _display_path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InstrumentDefinitionError(f"{source}: not valid JSON: {exc}") from exc
        instrument = parse_instrument(raw, source)
        if instrument.code != path.stem:
            raise InstrumentDefinitionError(
                f"{source}: code: {instrument.code!r} does not match the file name"
            )
        instruments[instrument.code] = instrument
    if not instruments:
        raise InstrumentDefinitionError(f"{_display_path(Path(directory))}: no definitions found")
    return instruments


@functools.cache
def _registry() -> Mapping[str, Instrument]:
    return MappingProxyType(load_instruments())


# --------------------------------------------------------------------------- public helpers


def get_instrument(code: str) -> Instrument:
    registry = _registry()
    if not isinstance(code, str) or code not in registry:
        raise ValueError(f"unknown instrument {code!r}; known: {', '.join(sorted(registry))}")
    return registry[code]


def all_instruments() -> tuple[Instrument, ...]:
    """Every instrument, ordered by code."""
    registry = _registry()
    return tuple(registry[code] for code in sorted(registry))


def instrument_codes() -> tuple[str, ...]:
    return tuple(sorted(_registry()))


def unverified_values() -> tuple[UnverifiedValue, ...]:
    """Every value still to be checked against its source, across all instruments."""
    return tuple(
        UnverifiedValue(code=instrument.code, path=entry.path, note=entry.note)
        for instrument in all_instruments()
        for entry in instrument.unverified
    )


def apply_wording(
    instrument: Instrument,
    wording: Mapping[int | str, str],
    *,
    option_labels: Mapping[int | str, str] | None = None,
    instructions: str | None = None,
) -> Instrument:
    """Return a copy of `instrument` carrying a service's licensed wording.

    `wording` maps every item number (an int, or its digits as text, as stored in JSON) to the
    item's text; `option_labels` optionally maps answer values to labels for every item that
    has that value. Nothing is merged unless every item gets text.
    """
    code = instrument.code
    if instrument.ships_wording:
        raise ValueError(f"{code}: ships its own wording, which must be used unchanged")
    if not isinstance(wording, Mapping):
        raise ValueError(f"{code}: wording must map item numbers to text")
    texts = _by_number(code, wording, instrument.item_numbers, "item")
    missing = [number for number in instrument.item_numbers if number not in texts]
    if missing:
        raise ValueError(
            f"{code}: wording is missing for item{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(str, missing))}; every item must get text"
        )
    values = sorted({value for item in instrument.items for value in item.option_values})
    labels = _by_number(code, option_labels or {}, values, "answer value")
    if instructions is not None and (not isinstance(instructions, str) or not instructions.strip()):
        raise ValueError(f"{code}: instructions must be non-empty text")

    items = tuple(
        dataclasses.replace(
            item,
            text=texts[item.number],
            options=tuple(
                dataclasses.replace(option, label=labels.get(option.value, option.label))
                for option in item.options
            ),
        )
        for item in instrument.items
    )
    return dataclasses.replace(
        instrument,
        items=items,
        instructions=instructions if instructions is not None else instrument.instructions,
        wording_from_service=True,
    )


def _by_number(code: str, mapping: Mapping, known: Iterable[int], what: str) -> dict[int, str]:
    known = tuple(known)
    out: dict[int, str] = {}
    for key, text in mapping.items():
        number = _as_number(key)
        if number is None or number not in known:
            raise ValueError(
                f"{code}: {what} {key!r} does not exist; {what}s are {', '.join(map(str, known))}"
            )
        if number in out:
            raise ValueError(f"{code}: {what} {number} is given twice")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{code}: {what} {number}: text must be non-empty, not {text!r}")
        out[number] = text.strip()
    return out


def _as_number(key: object) -> int | None:
    """An int key, or the canonical digits of one (JSON object keys are always text)."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key
    if isinstance(key, str) and key.isdigit() and key.isascii() and str(int(key)) == key:
        return int(key)
    return None
