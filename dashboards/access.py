"""Who may see which dashboard and which export; built on accounts.scope."""

from django.http import Http404

from accounts.models import Service
from accounts.scope import Can, get_scoped_or_404, require, service_ids, user_can
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
    """Names appear on dashboards only with the capability for identifiable data."""
    return user_can(user, Can.EXPORT_IDENTIFIABLE, service_id)


def export_capability(*, research: bool) -> Can:
    return Can.EXPORT_RESEARCH if research else Can.EXPORT_IDENTIFIABLE


def require_export(user, service_id: int, *, research: bool) -> None:
    """Identifiable exports for the service's clinicians; research ones for managers too."""
    require(user, export_capability(research=research), service_id)


def export_links(user, service_id: int) -> dict[str, bool]:
    """Which export variants the dashboards offer this user for this service."""
    return {
        variant: user_can(user, export_capability(research=variant == "research"), service_id)
        for variant in ("identifiable", "research")
    }
