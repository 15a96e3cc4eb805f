"""Staff sessions, the audit trail and subject access requests."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.audit import record_view
from accounts.forms import AuditFilterForm, SubjectAccessRequestForm
from accounts.models import Service, SubjectAccessRequest, User
from accounts.scope import Can, get_scoped_or_404, service_ids, user_can
from accounts.subject_access import export, participant_model

PAGE_SIZE = 50


def _services_with(user, can: Can) -> list[int]:
    ids = service_ids(user, can)
    if not ids:
        raise PermissionDenied
    return ids


@login_required
def staff_list(request):
    ids = _services_with(request.user, Can.MANAGE_SERVICE)
    users = selectors.service_users(ids).prefetch_related("memberships__service")
    return render(
        request,
        "accounts/staff_list.html",
        {"users": users, "services": Service.objects.filter(pk__in=ids)},
    )


@require_POST
@login_required
def staff_end_sessions(request, pk):
    target = _staff_member_or_404(request.user, pk)
    services.user_sessions_end(user=target)
    messages.success(request, "Every session of that account has been ended.")
    return redirect("accounts:staff_list")


def _staff_member_or_404(user, pk) -> User:
    """A user sharing a service with `user`: 404 if none, 403 without MANAGE_SERVICE there."""
    shared = set(service_ids(user)) & set(
        User.objects.filter(pk=pk).values_list("memberships__service_id", flat=True)
    )
    if not shared:
        raise Http404
    if not shared & set(service_ids(user, Can.MANAGE_SERVICE)):
        raise PermissionDenied
    return User.objects.get(pk=pk)


@login_required
def audit_list(request):
    """Administrators read who did what to which record and when; clinicians and managers
    read the same, with the values of their own services' records (selectors.audit_rows)."""
    ids = sorted(
        set(service_ids(request.user, Can.MANAGE_SERVICE))
        | set(service_ids(request.user, Can.VIEW_CLINICAL))
    )
    if not ids:
        raise PermissionDenied
    users = selectors.service_users(ids)
    form = AuditFilterForm(request.GET or None, users=users)
    entries = selectors.audit_entries_by_users(users)
    participant = None
    if form.is_valid():
        if form.cleaned_data["participant"]:
            participant = (
                participant_model()
                .objects.filter(service_id__in=ids, pk=form.cleaned_data["participant"])
                .first()
            )
            if participant is None:
                form.add_error("participant", "There is no participant with that number here.")
            else:
                entries = selectors.audit_entries_for_participant(participant)
        if form.cleaned_data["user"]:
            entries = entries.filter(actor=form.cleaned_data["user"])
    if form.errors:
        entries = entries.none()
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "accounts/audit_list.html",
        {
            "form": form,
            "page": page,
            "rows": selectors.audit_rows(page, request.user),
            "participant": participant,
            # The local reference is a record number: identifying, like the values.
            "show_reference": participant is not None
            and user_can(request.user, Can.VIEW_CLINICAL, participant.service_id),
            "query": _query(request),
        },
    )


def _query(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@login_required
def sar_list(request):
    ids = _services_with(request.user, Can.VIEW_CLINICAL)
    page = Paginator(selectors.subject_access_requests(ids), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "accounts/sar_list.html", {"page": page})


@login_required
def sar_create(request, participant_pk):
    participant = get_scoped_or_404(
        request.user, participant_model(), can=Can.CHANGE_CLINICAL, pk=participant_pk
    )
    form = SubjectAccessRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        sar = services.subject_access_request_create(
            service_id=participant.service_id,
            participant_id=participant.pk,
            received_on=form.cleaned_data["received_on"],
            note=form.cleaned_data["note"],
            by=request.user,
        )
        messages.success(request, "Request recorded. A second clinician must now review it.")
        return redirect("accounts:sar_detail", pk=sar.pk)
    return render(request, "accounts/sar_form.html", {"form": form, "participant": participant})


def _sar_and_participant(user, pk, can: Can):
    sar = get_scoped_or_404(
        user,
        SubjectAccessRequest.objects.select_related("requested_by", "reviewed_by"),
        can=can,
        pk=pk,
    )
    participant = participant_model().objects.filter(pk=sar.participant_id).first()
    return sar, participant


@login_required
def sar_detail(request, pk):
    sar, participant = _sar_and_participant(request.user, pk, Can.VIEW_CLINICAL)
    may_review = (
        sar.status == SubjectAccessRequest.Status.REQUESTED
        and sar.requested_by_id != request.user.pk
        and user_can(request.user, Can.CHANGE_CLINICAL, sar.service_id)
    )
    data = None
    if may_review and participant is not None:
        data = export(participant)
        record_view(participant, where="Viewed in a subject access review")
    return render(
        request,
        "accounts/sar_detail.html",
        {"sar": sar, "participant": participant, "may_review": may_review, "data": data},
    )


@require_POST
@login_required
def sar_approve(request, pk):
    sar, _ = _sar_and_participant(request.user, pk, Can.CHANGE_CLINICAL)
    try:
        services.subject_access_request_approve(sar=sar, by=request.user)
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, "Reviewed and approved. It can now be released.")
    return redirect("accounts:sar_detail", pk=sar.pk)


@require_POST
@login_required
def sar_release(request, pk):
    sar, _ = _sar_and_participant(request.user, pk, Can.CHANGE_CLINICAL)
    try:
        services.subject_access_request_release(sar=sar)
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, "Released. Download the copies below to send them.")
    return redirect("accounts:sar_detail", pk=sar.pk)


@login_required
def sar_download(request, pk, fmt):
    if fmt not in {"html", "json"}:
        raise Http404
    sar, participant = _sar_and_participant(request.user, pk, Can.CHANGE_CLINICAL)
    if sar.status != SubjectAccessRequest.Status.RELEASED or participant is None:
        raise Http404
    data = export(participant)
    record_view(participant, where="Exported in a subject access download")
    if fmt == "json":
        body = json.dumps(data, indent=2, ensure_ascii=False)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
    else:
        body = render_to_string("accounts/sar_export.html", {"data": data, "sar": sar})
        response = HttpResponse(body, content_type="text/html; charset=utf-8")
    # The file name carries the request's number only, never the participant's details.
    response["Content-Disposition"] = f'attachment; filename="subject-access-{sar.pk}.{fmt}"'
    return response
