"""Bundles to download from the participant and cohort pages (signed-in staff)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from accounts.audit import record_access
from accounts.scope import Can, get_scoped_or_404
from dashboards.access import dashboard_cohort_or_404, require_export
from participants.models import Participant

from . import bundles, r4


def _download(bundle, filename: str) -> HttpResponse:
    response = HttpResponse(bundles.to_json(bundle), content_type=r4.CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@login_required
def participant_bundle(request, pk: int):
    """The participant's record as FHIR: for clinicians of their service, as identifiable
    exports are (accounts.scope: EXPORT_IDENTIFIABLE)."""
    participant = get_scoped_or_404(
        request.user, Participant.objects.all(), can=Can.EXPORT_IDENTIFIABLE, pk=pk
    )
    response = _download(bundles.participant_bundle(participant), f"participant-{pk}-fhir.json")
    record_access([participant], where="Exported in the participant's FHIR bundle")
    return response


@require_GET
@login_required
def cohort_research_bundle(request, pk: int):
    """The cohort under research pseudonyms: as the research CSV, so managers too. Names
    nobody, so only the cohort has an access entry (dashboards.export_views)."""
    cohort = dashboard_cohort_or_404(request.user, pk)
    require_export(request.user, cohort.service_id, research=True)
    response = _download(
        bundles.cohort_research_bundle(cohort), f"cohort-{cohort.pk}-research-fhir.json"
    )
    record_access([cohort], where="Exported in the cohort research FHIR bundle")
    return response
