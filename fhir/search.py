"""Search parameters the API understands, parsed strictly: anything else is a 400."""

import datetime
import re
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from measures.definitions import all_instruments

from .identity import scale_system
from .observations import scale_code
from .outcomes import Refusal

# Parameters every search takes; _format only as JSON. _offset is this server's paging
# parameter, which the "next" and "previous" links of a searchset carry.
COMMON = frozenset({"_format", "_count", "_offset"})
DEFAULT_COUNT = 100
MAX_COUNT = 500
JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})
DATE = re.compile(
    r"^(?P<prefix>eq|gt|lt|ge|le)?"
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(?P<tz>Z|[+-]\d{2}:\d{2}))?)?)?$"
)


@dataclass(frozen=True)
class Parsed:
    patient_id: int | None
    filters: Q


def check_names(query, allowed: frozenset[str]) -> None:
    unknown = sorted(set(query) - allowed - COMMON)
    if unknown:
        raise Refusal(400, f"Unknown search parameter: {', '.join(unknown)}.")
    for value in query.getlist("_format"):
        if value not in JSON_FORMATS:
            raise Refusal(400, "Only JSON is served (_format=json).")


def _whole(query, name: str, default: int, lowest: int, highest: int | None) -> int:
    values = query.getlist(name)
    if not values:
        return default
    if len(values) > 1 or not values[0].isdigit():
        raise Refusal(400, f"{name} must be one whole number.")
    number = int(values[0])
    if number < lowest or (highest is not None and number > highest):
        limit = f"{lowest} to {highest}" if highest is not None else f"{lowest} or more"
        raise Refusal(400, f"{name} must be {limit}.")
    return number


def paging(query) -> tuple[int, int]:
    """(_count, _offset): a page of at most MAX_COUNT resources."""
    return (
        _whole(query, "_count", DEFAULT_COUNT, 1, MAX_COUNT),
        _whole(query, "_offset", 0, 0, None),
    )


def patient_id(query, name: str = "patient") -> int | None:
    values = query.getlist(name)
    if not values:
        return None
    if len(values) > 1 or "," in values[0]:
        raise Refusal(400, f"{name}: give one patient.")
    value = values[0].removeprefix("Patient/")
    if not value.isdigit():
        raise Refusal(404, "No such patient.")
    return int(value)


def _bounds(value: str) -> tuple[str, datetime.datetime, datetime.datetime]:
    match = DATE.match(value)
    if not match:
        raise Refusal(
            400, f"Malformed date {value!r}: use YYYY, YYYY-MM, YYYY-MM-DD or a dateTime."
        )
    parts = match.groupdict()
    try:
        year = int(parts["year"])
        if parts["time"]:
            start = datetime.datetime.fromisoformat(
                f"{year:04d}-{parts['month']}-{parts['day']}T{parts['time']}"
                + ("+00:00" if parts["tz"] == "Z" else parts["tz"])
            )
            return parts["prefix"] or "eq", start, start + datetime.timedelta(seconds=1)
        if parts["day"]:
            first = datetime.date(year, int(parts["month"]), int(parts["day"]))
            after = first + datetime.timedelta(days=1)
        elif parts["month"]:
            month = int(parts["month"])
            first = datetime.date(year, month, 1)
            after = datetime.date(year + month // 12, month % 12 + 1, 1)
        else:
            first, after = datetime.date(year, 1, 1), datetime.date(year + 1, 1, 1)
    except ValueError:
        raise Refusal(400, f"Malformed date {value!r}: no such day.") from None
    zone = timezone.get_current_timezone()
    return (
        parts["prefix"] or "eq",
        datetime.datetime.combine(first, datetime.time(), zone),
        datetime.datetime.combine(after, datetime.time(), zone),
    )


def dates(query, name: str, field: str) -> Q:
    """Each value narrows the range (FHIR: repeated date parameters are ANDed)."""
    q = Q()
    for value in query.getlist(name):
        prefix, start, end = _bounds(value)
        q &= {
            "eq": Q(**{f"{field}__gte": start, f"{field}__lt": end}),
            "ge": Q(**{f"{field}__gte": start}),
            "gt": Q(**{f"{field}__gte": end}),
            "le": Q(**{f"{field}__lt": end}),
            "lt": Q(**{f"{field}__lt": start}),
        }[prefix]
    return q


def _scale_codes() -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(system, code) -> [(instrument, scale)] for Safeground's codes and verified LOINC."""
    found: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for instrument in all_instruments():
        for scale in instrument.scales:
            pair = (instrument.code, scale.key)
            found.setdefault((scale_system(), scale_code(*pair)), []).append(pair)
            for code in scale.codes:
                if code.verified:
                    found.setdefault((code.system, code.code), []).append(pair)
    return found


def observation_codes(query, prefix: str = "administration__") -> Q | None:
    """code=[system|]code[,...]: scales matched by Safeground's or LOINC's code."""
    values = [v for raw in query.getlist("code") for v in raw.split(",")]
    if not values:
        return None
    known = _scale_codes()
    pairs = set()
    for value in values:
        system, _, code = value.rpartition("|")
        if not code:
            raise Refusal(400, f"Malformed code {value!r}: use [system|]code.")
        for (known_system, known_code), matched in known.items():
            if known_code == code and (not system or system == known_system):
                pairs.update(matched)
    q = Q(pk__in=[])
    for instrument_code, scale in sorted(pairs):
        q |= Q(**{f"{prefix}instrument_code": instrument_code, "scale": scale})
    return q
