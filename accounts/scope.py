"""The one place that scopes clinical data by the signed-in user's memberships.

Every view that reads or changes clinical data goes through `scoped` (lists) or
`get_scoped_or_404` (one object). Outside the user's services an object does not exist
(404); inside, a role without the needed capability gets 403.
"""

from enum import StrEnum

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from accounts.models import Membership

Role = Membership.Role


class Can(StrEnum):
    VIEW_CLINICAL = "view_clinical"  # names and records of participants
    CHANGE_CLINICAL = "change_clinical"  # registers, enrolments, questionnaires, alerts
    VIEW_DASHBOARD = "view_dashboard"  # service aggregates
    MANAGE_SERVICE = "manage_service"  # programmes, wording, message templates, staff
    EXPORT_IDENTIFIABLE = "export_identifiable"  # names on dashboards, identifiable exports
    EXPORT_RESEARCH = "export_research"  # pseudonymised exports


CAPABILITIES: dict[str, frozenset[Can]] = {
    Role.CLINICIAN: frozenset(
        {
            Can.VIEW_CLINICAL,
            Can.CHANGE_CLINICAL,
            Can.VIEW_DASHBOARD,
            Can.EXPORT_IDENTIFIABLE,
            Can.EXPORT_RESEARCH,
        }
    ),
    Role.MANAGER: frozenset({Can.VIEW_CLINICAL, Can.VIEW_DASHBOARD, Can.EXPORT_RESEARCH}),
    Role.ADMIN: frozenset({Can.MANAGE_SERVICE, Can.VIEW_DASHBOARD}),
}


def roles_by_service(user) -> dict[int, str]:
    """Service id -> role, cached on the user object for the request."""
    if not user.is_authenticated or not user.is_active:
        return {}
    cached = getattr(user, "_safeground_roles", None)
    if cached is None:
        cached = dict(Membership.objects.filter(user=user).values_list("service_id", "role"))
        user._safeground_roles = cached
    return cached


def service_ids(user, can: Can | None = None) -> list[int]:
    roles = roles_by_service(user)
    return [sid for sid, role in roles.items() if can is None or can in CAPABILITIES[role]]


def user_can(user, can: Can, service_id: int) -> bool:
    role = roles_by_service(user).get(service_id)
    return role is not None and can in CAPABILITIES[role]


def scoped(user, queryset: QuerySet, *, can: Can, via: str = "service") -> QuerySet:
    """Only the rows in services where the user holds `can`. `via` is the path to Service."""
    return queryset.filter(**{f"{via}__in": service_ids(user, can)})


def get_scoped_or_404(user, queryset, *, can: Can, via: str = "service", **lookup) -> Model:
    """Fetch one object inside the user's services; 404 outside them, 403 without `can`."""
    if isinstance(queryset, type):
        queryset = queryset._default_manager.all()
    visible = queryset.filter(**{f"{via}__in": service_ids(user)})
    try:
        obj = visible.get(**lookup)
    except (visible.model.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if not user_can(user, can, _service_id(obj, via)):
        raise PermissionDenied
    return obj


def require(user, can: Can, service_id: int) -> None:
    if not user_can(user, can, service_id):
        raise PermissionDenied


def _service_id(obj: Model, via: str) -> int:
    target = obj
    parts = via.split("__")
    for part in parts[:-1]:
        target = getattr(target, part)
    return getattr(target, f"{parts[-1]}_id")
