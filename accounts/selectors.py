"""Reads for the staff, audit trail and subject access pages."""

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet

from accounts.models import SubjectAccessRequest, User
from accounts.subject_access import linked_rows


def service_users(service_ids: list[int]) -> QuerySet:
    return (
        User.objects.filter(memberships__service_id__in=service_ids).distinct().order_by("username")
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


def subject_access_requests(service_ids: list[int]) -> QuerySet:
    return SubjectAccessRequest.objects.filter(service_id__in=service_ids).select_related(
        "service", "requested_by", "reviewed_by"
    )
