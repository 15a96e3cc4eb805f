"""What one row holds, and every row that points at it, found by model introspection.

The subject access export (participants.subject_access) and a participant's audit trail
(accounts.selectors) both follow a participant's rows through the layers above without
importing them: every foreign key to the participant, then to those rows, and so on
(enrolments, then attendance; administrations, then responses...).

Fields that hold secrets (token hashes and the like) are left out: they are not personal
data about the participant and would help nobody but an attacker.
"""

import datetime
import decimal
import uuid

from django.db import models

# Field names never exported: credentials and their hashes.
SECRET_FIELD_MARKERS = ("token", "hash", "secret", "password")
# How far linked_rows follows rows that point at rows that point at the first one.
MAX_DEPTH = 3


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


def linked_rows(obj) -> list[tuple[type[models.Model], models.Model]]:
    return _rows_pointing_at(obj, 1, {type(obj)})


# Readable copies ----------------------------------------------------------------------
# The subject access copy a participant receives: labels, UK dates and plain words, never a
# database id or "True". A row another row points at may say how it should be named there
# with a `subject_access_label()` method (an administration as "CORE-10, Baseline").


def readable(value) -> str:
    """A stored value as a person reads it: UK dates, Yes/No, "Not recorded"."""
    from django.utils import timezone
    from django.utils.formats import date_format

    if value is None or value == "":
        return "Not recorded"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return date_format(value, "j F Y, H:i")
    if isinstance(value, datetime.date):
        return date_format(value, "j F Y")
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M")
    if isinstance(value, list | tuple):
        return ", ".join(readable(v) for v in value) or "None"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {readable(v)}" for k, v in value.items()) or "None"
    return str(value)


def _name_of(related) -> str:
    label = getattr(related, "subject_access_label", None)
    return str(label() if callable(label) else related)


def readable_record_of(obj, *, leave_out: tuple[str, ...] = ()) -> dict:
    """record_of in plain words: no row ids, each linked row by its name, UK dates."""
    record = {}
    for field in obj._meta.concrete_fields:
        if is_secret(field) or field.primary_key or field.name in leave_out:
            continue
        if field.is_relation:
            related = getattr(obj, field.name)
            value = "Not recorded" if related is None else _name_of(related)
        elif field.choices:
            raw = field.value_from_object(obj)
            value = getattr(obj, f"get_{field.name}_display")() if raw not in (None, "") else ""
            value = value or "Not recorded"
        else:
            value = readable(field.value_from_object(obj))
        record[str(field.verbose_name).capitalize()] = value
    return record
