"""Subject access requests: recorded by one clinician, reviewed by a second, then released."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from accounts.audit import record_view
from accounts.scope import Can, get_scoped_or_404, scoped, service_ids, user_can
from participants import services
from participants.forms import SubjectAccessRequestForm
from participants.models import Participant, SubjectAccessRequest
from participants.subject_access import export

PAGE_SIZE = 50
SAR = SubjectAccessRequest


@login_required
def sar_list(request):
    if not service_ids(request.user, Can.VIEW_CLINICAL):
        raise PermissionDenied
    requests = scoped(
        request.user,
        SAR.objects.select_related("service", "requested_by", "reviewed_by"),
        can=Can.VIEW_CLINICAL,
    )
    page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "participants/sar_list.html", {"page": page})


@login_required
def sar_create(request, participant_pk):
    participant = get_scoped_or_404(
        request.user, Participant, can=Can.CHANGE_CLINICAL, pk=participant_pk
    )
    form = SubjectAccessRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        sar = services.subject_access_request_create(
            participant=participant,
            received_on=form.cleaned_data["received_on"],
            note=form.cleaned_data["note"],
            by=request.user,
        )
        messages.success(request, "Request recorded. A second clinician must now review it.")
        return redirect("subject_access:detail", pk=sar.pk)
    return render(request, "participants/sar_form.html", {"form": form, "participant": participant})


def _sar_or_404(user, pk, can: Can) -> SAR:
    return get_scoped_or_404(
        user,
        SAR.objects.select_related("participant", "requested_by", "reviewed_by"),
        can=can,
        pk=pk,
    )


@login_required
def sar_detail(request, pk):
    sar = _sar_or_404(request.user, pk, Can.VIEW_CLINICAL)
    may_review = (
        sar.status == SAR.Status.REQUESTED
        and sar.requested_by_id != request.user.pk
        and user_can(request.user, Can.CHANGE_CLINICAL, sar.service_id)
    )
    data = None
    if may_review:
        data = export(sar.participant)
        record_view(sar.participant, where="Viewed in a subject access review")
    return render(
        request,
        "participants/sar_detail.html",
        {"sar": sar, "participant": sar.participant, "may_review": may_review, "data": data},
    )


@require_POST
@login_required
def sar_approve(request, pk):
    sar = _sar_or_404(request.user, pk, Can.CHANGE_CLINICAL)
    try:
        services.subject_access_request_approve(sar=sar, by=request.user)
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, "Reviewed and approved. It can now be released.")
    return redirect("subject_access:detail", pk=sar.pk)


@require_POST
@login_required
def sar_release(request, pk):
    sar = _sar_or_404(request.user, pk, Can.CHANGE_CLINICAL)
    try:
        services.subject_access_request_release(sar=sar)
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, "Released. Download the copies below to send them.")
    return redirect("subject_access:detail", pk=sar.pk)


@login_required
def sar_download(request, pk, fmt):
    if fmt not in {"html", "json"}:
        raise Http404
    sar = _sar_or_404(request.user, pk, Can.CHANGE_CLINICAL)
    if sar.status != SAR.Status.RELEASED:
        raise Http404
    data = export(sar.participant)
    record_view(sar.participant, where=f"Exported in a subject access download ({fmt.upper()})")
    if fmt == "json":
        body = json.dumps(data, indent=2, ensure_ascii=False)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
    else:
        body = render_to_string("participants/sar_export.html", {"data": data, "sar": sar})
        response = HttpResponse(body, content_type="text/html; charset=utf-8")
    # The file name carries the request's number only, never the participant's details.
    response["Content-Disposition"] = f'attachment; filename="subject-access-{sar.pk}.{fmt}"'
    return response
