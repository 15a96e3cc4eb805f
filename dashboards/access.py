"""Who may see which dashboard and which export; built on accounts.scope."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.models import Membership, Service
from accounts.scope import Can, get_scoped_or_404, require, roles_by_service, service_ids
from programmes.models import Cohort


def dashboard_cohort_or_404(user, pk: int) -> Cohort:
    return get_scoped_or_404(
        user,
        Cohort.objects.select_related("programme", "service"),
        can=Can.VIEW_DASHBOARD,
        pk=pk,
    )


def dashboard_service_or_404(user, pk: int) -> Service:
    if pk not in service_ids(user):
        raise Http404
    require(user, Can.VIEW_DASHBOARD, pk)
    return Service.objects.get(pk=pk)


def shows_names(user, service_id: int) -> bool:
    """Names appear on dashboards for the service's clinicians only."""
    return roles_by_service(user).get(service_id) == Membership.Role.CLINICIAN


def require_export(user, service_id: int, *, research: bool) -> None:
    """Clinicians get identifiable and research exports; managers only the research one."""
    role = roles_by_service(user).get(service_id)
    allowed = (
        {Membership.Role.CLINICIAN, Membership.Role.MANAGER}
        if research
        else {Membership.Role.CLINICIAN}
    )
    if role not in allowed:
        raise PermissionDenied
