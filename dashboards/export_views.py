from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from accounts.audit import record_access
from dashboards import exports
from dashboards.access import dashboard_cohort_or_404, dashboard_service_or_404, require_export
from participants.models import Participant
from programmes.models import Enrolment

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
VARIANTS = ("identifiable", "research")


def _record(record, enrolments, *, variant: str, dataset: str, fmt: str) -> None:
    """One access entry for the cohort or service and, in an identifiable export, one for
    each person in it, in one insert: "Exported in the cohort CSV (scores)". A research
    export names nobody, so only the cohort or service has an entry."""
    people = []
    if variant == "identifiable":
        people = Participant.objects.filter(pk__in=enrolments.values("participant_id")).only(
            "pk", "reference"
        )
    kind = "research " if variant == "research" else ""
    where = f"Exported in the {record._meta.model_name} {kind}{fmt.upper()} ({dataset})"
    record_access([record, *people], where=where)


def _respond(dataset, fmt, variant, enrolments, filename_stem):
    if dataset not in exports.DATASETS or fmt not in CONTENT_TYPES or variant not in VARIANTS:
        raise Http404
    columns, rows = exports.build(dataset, enrolments, research=variant == "research")
    if fmt == "csv":
        body = exports.to_csv(columns, rows)
    else:
        body = exports.to_xlsx(columns, rows, title=dataset)
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    filename = f"{filename_stem}-{dataset}-{variant}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@login_required
def cohort_export(request, pk: int, variant: str, dataset: str, fmt: str):
    cohort = dashboard_cohort_or_404(request.user, pk)
    require_export(request.user, cohort.service_id, research=variant == "research")
    enrolments = Enrolment.objects.counted().filter(cohort=cohort)
    response = _respond(dataset, fmt, variant, enrolments, f"cohort-{cohort.pk}")
    _record(cohort, enrolments, variant=variant, dataset=dataset, fmt=fmt)
    return response


@require_GET
@login_required
def service_export(request, pk: int, variant: str, dataset: str, fmt: str):
    service = dashboard_service_or_404(request.user, pk)
    require_export(request.user, service.pk, research=variant == "research")
    enrolments = Enrolment.objects.counted().filter(cohort__service=service)
    response = _respond(dataset, fmt, variant, enrolments, f"service-{service.pk}")
    _record(service, enrolments, variant=variant, dataset=dataset, fmt=fmt)
    return response
