"""What a subject access export contains: sections that each app contributes.

accounts sits below the app that holds participants, so it never imports them. Instead:
- a generic section, built here by model introspection (apps.get_model, not an import),
  holds the participant's own fields and every row that points at them, followed down
  through foreign keys (enrolments, then attendance; administrations, then responses...);
- any app may register a curated section (scores with their meaning, for instance) in its
  AppConfig.ready() with `sections.register(Section(...))`.

Fields that hold secrets (token hashes and the like) are left out: they are not personal
data about the participant and would help nobody but an attacker.
"""

import datetime
import decimal
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.db import models

# Field names never exported: credentials and their hashes.
SECRET_FIELD_MARKERS = ("token", "hash", "secret", "password")
# How far the generic section follows rows that point at rows that point at the participant.
MAX_DEPTH = 3


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    collect: Callable  # (participant) -> list[dict] of records, each {field label: value}
    order: int = 100


class SectionRegistry:
    def __init__(self):
        self._sections: dict[str, Section] = {}

    def register(self, section: Section) -> None:
        self._sections[section.key] = section

    def keys(self) -> list[str]:
        return sorted(self._sections)

    def collect(self, participant) -> list[dict]:
        gathered = []
        for section in sorted(self._sections.values(), key=lambda s: (s.order, s.key)):
            records = section.collect(participant)
            gathered.append({"key": section.key, "title": section.title, "records": records})
        return gathered


sections = SectionRegistry()


def participant_model():
    return apps.get_model("participants", "Participant")


def plain(value):
    """A value as JSON can carry it."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


def is_secret(field) -> bool:
    return any(marker in field.name.lower() for marker in SECRET_FIELD_MARKERS)


def record_of(obj) -> dict:
    """Every concrete, non-secret field of `obj`, labelled as people read it."""
    record = {}
    for field in obj._meta.concrete_fields:
        if is_secret(field):
            continue
        if field.is_relation:
            related = getattr(obj, field.name)
            value = None if related is None else str(related)
        elif field.choices:
            value = getattr(obj, f"get_{field.name}_display")()
        else:
            value = plain(field.value_from_object(obj))
        record[str(field.verbose_name)] = plain(value)
    return record


def _rows_pointing_at(obj, depth, seen_models):
    """(model label, record) for each row linked to obj by a foreign key, then theirs."""
    if depth > MAX_DEPTH:
        return []
    found = []
    for relation in obj._meta.related_objects:
        model = relation.related_model
        if not (relation.one_to_many or relation.one_to_one) or model in seen_models:
            continue
        if model._meta.app_label in {"auditlog", "contenttypes", "sessions", "admin"}:
            continue
        rows = model._default_manager.filter(**{relation.field.name: obj}).order_by("pk")
        for row in rows:
            found.append((model, row))
            found.extend(_rows_pointing_at(row, depth + 1, seen_models | {model}))
    return found


def linked_rows(participant) -> list[tuple[type[models.Model], models.Model]]:
    return _rows_pointing_at(participant, 1, {type(participant)})


def _participant_record(participant) -> list[dict]:
    return [record_of(participant)]


def _linked_records(participant) -> list[dict]:
    return [
        {"kind": str(model._meta.verbose_name).capitalize(), **record_of(row)}
        for model, row in linked_rows(participant)
    ]


sections.register(
    Section(key="participant", title="Your details", collect=_participant_record, order=0)
)
sections.register(
    Section(
        key="linked",
        title="Everything recorded about your care and questionnaires",
        collect=_linked_records,
        order=10,
    )
)


def export(participant) -> dict:
    """The whole export as a JSON-ready dict."""
    return {
        "format": "safeground-subject-access/1",
        "participant_reference": participant.reference,
        "sections": sections.collect(participant),
    }
