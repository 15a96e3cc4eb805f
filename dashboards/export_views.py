from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from accounts.audit import record_view
from dashboards import exports
from dashboards.access import dashboard_cohort_or_404, dashboard_service_or_404, require_export
from programmes.models import Enrolment

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
VARIANTS = ("identifiable", "research")


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
    response = _respond(
        dataset, fmt, variant, Enrolment.objects.filter(cohort=cohort), f"cohort-{cohort.pk}"
    )
    # One access record per export, naming the cohort, never the data.
    record_view(cohort)
    return response


@require_GET
@login_required
def service_export(request, pk: int, variant: str, dataset: str, fmt: str):
    service = dashboard_service_or_404(request.user, pk)
    require_export(request.user, service.pk, research=variant == "research")
    response = _respond(
        dataset,
        fmt,
        variant,
        Enrolment.objects.filter(cohort__service=service),
        f"service-{service.pk}",
    )
    record_view(service)
    return response
