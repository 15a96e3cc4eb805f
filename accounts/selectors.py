"""Reads for the staff and audit trail pages."""

from collections import defaultdict
from dataclasses import dataclass

from allauth.mfa.models import Authenticator
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from accounts.audit import access_where, clinical_values_of
from accounts.models import Membership, User
from accounts.records import linked_rows
from accounts.scope import Can, service_ids

# What a hidden value reads as in the trail.
HIDDEN = "hidden"


def service_users(service_ids: list[int]) -> QuerySet:
    return (
        User.objects.filter(memberships__service_id__in=service_ids).distinct().order_by("username")
    )


def staff_with_details(service_ids: list[int]) -> QuerySet:
    """The staff of these services for the staff page, in three queries whatever their
    number: each with `memberships_here` (their memberships in these services only, with the
    service), `has_second_factor` (a TOTP authenticator) and `elsewhere` (also a member of a
    service outside these, which the page does not name)."""
    here = Membership.objects.filter(service_id__in=service_ids).select_related("service")
    return (
        service_users(service_ids)
        .annotate(
            has_second_factor=Exists(
                Authenticator.objects.filter(user=OuterRef("pk"), type=Authenticator.Type.TOTP)
            ),
            elsewhere=Exists(
                Membership.objects.filter(user=OuterRef("pk")).exclude(service_id__in=service_ids)
            ),
        )
        .prefetch_related(Prefetch("memberships", queryset=here, to_attr="memberships_here"))
    )


def audit_entries_for_participant(participant) -> QuerySet:
    """Entries about the participant and about every row linked to them."""
    by_model: dict[type, set] = {type(participant): {participant.pk}}
    for model, row in linked_rows(participant):
        by_model.setdefault(model, set()).add(row.pk)
    content_types = ContentType.objects.get_for_models(*by_model)
    condition = Q()
    for model, pks in by_model.items():
        condition |= Q(content_type=content_types[model], object_pk__in=[str(pk) for pk in pks])
    return _entries().filter(condition)


def audit_entries_by_users(users: QuerySet) -> QuerySet:
    return _entries().filter(actor__in=users)


def _entries() -> QuerySet:
    return LogEntry.objects.select_related("actor", "content_type").order_by("-timestamp", "-pk")


@dataclass(frozen=True)
class Change:
    field: str
    old: str
    new: str
    hidden: bool = False
    label: str = ""  # the field as the forms and pages name it ("Opted out of messages")


def field_label(content_type, field: str) -> str:
    """A model field's label, as its forms show it; the name itself for one since removed."""
    model = content_type.model_class()
    try:
        name = model._meta.get_field(field).verbose_name if model else field
    except Exception:
        name = field.replace("_", " ")
    return str(name).capitalize()


@dataclass(frozen=True)
class AuditRow:
    entry: LogEntry
    action: str  # "create", "update"... or, for a view, where it was: "Viewed in ..."
    changes: list[Change]


def audit_rows(entries, user) -> list[AuditRow]:
    """A page of entries as `user` may read them: identifying and clinical values
    (accounts.audit.CLINICAL_VALUES) only for records of services where the user holds
    VIEW_CLINICAL. At most one query per kind of clinical record on the page, and none for
    a user who is clinical nowhere."""
    entries = list(entries)
    clinical = set(service_ids(user, Can.VIEW_CLINICAL))
    services = _services_of(entries) if clinical else {}
    rows = []
    for entry in entries:
        policy = clinical_values_of(entry.content_type)
        service_id = services.get((entry.content_type_id, entry.object_pk))
        readable = policy is None or service_id in clinical
        changes = [
            Change(field, old, new, label=field_label(entry.content_type, field))
            if readable or not policy.hides(field)
            else Change(
                field, HIDDEN, HIDDEN, hidden=True, label=field_label(entry.content_type, field)
            )
            for field, (old, new) in _pairs(entry.changes_dict)
        ]
        action = (
            access_where(entry)
            if entry.action == LogEntry.Action.ACCESS
            else entry.get_action_display()
        )
        rows.append(AuditRow(entry=entry, action=action, changes=changes))
    return rows


def _pairs(changes: dict):
    """(field, (old, new)) for each change; a many-to-many change has no old value."""
    for field, value in (changes or {}).items():
        if isinstance(value, list | tuple) and len(value) == 2:
            yield field, (str(value[0]), str(value[1]))
        else:
            objects = value.get("objects", value) if isinstance(value, dict) else value
            yield field, ("", str(objects))


def _services_of(entries) -> dict[tuple[int, str], int]:
    """(content type id, object pk) -> the service of each clinical record the entries are
    about. A record since deleted has none, so its values stay hidden."""
    pks_by_type = defaultdict(set)
    types = {}
    for entry in entries:
        if clinical_values_of(entry.content_type) is not None:
            pks_by_type[entry.content_type_id].add(entry.object_pk)
            types[entry.content_type_id] = entry.content_type
    found = {}
    for type_id, pks in pks_by_type.items():
        content_type = types[type_id]
        model = content_type.model_class()
        if model is None:
            continue
        lookup = f"{clinical_values_of(content_type).service}_id"
        rows = model._default_manager.filter(pk__in=_valid_pks(model, pks)).values_list(
            "pk", lookup
        )
        found.update({(type_id, str(pk)): service_id for pk, service_id in rows})
    return found


def _valid_pks(model, pks) -> list:
    valid = []
    for pk in pks:
        try:
            valid.append(model._meta.pk.to_python(pk))
        except ValidationError:  # not a key of this model: there is no such row
            continue
    return valid
