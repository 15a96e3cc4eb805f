from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render

from accounts.audit import record_access, record_view
from accounts.models import Service
from accounts.scope import Can, get_scoped_or_404, scoped, service_ids, user_can
from participants.forms import ParticipantForm, add_service_errors
from participants.models import Participant
from participants.panels import participant_page
from participants.services import EDITABLE_FIELDS, participant_create, participant_update

PAGE_SIZE = 50


def _services_with(user, can: Can):
    ids = service_ids(user, can)
    if not ids:
        raise PermissionDenied
    return Service.objects.filter(pk__in=ids).order_by("name")


@login_required
def participant_list(request):
    _services_with(request.user, Can.VIEW_CLINICAL)
    query = request.GET.get("q", "").strip()[:80]
    participants = scoped(
        request.user, Participant.objects.select_related("service"), can=Can.VIEW_CLINICAL
    ).order_by("family_name", "given_name", "pk")
    if query:
        participants = participants.filter(
            Q(reference__icontains=query)
            | Q(given_name__icontains=query)
            | Q(family_name__icontains=query)
            | Q(nhs_number=query.replace(" ", ""))
        )
    page = Paginator(participants, PAGE_SIZE).get_page(request.GET.get("page"))
    # Names on a list are identifiable data too: one access row each, in one query.
    record_access(page, where="Viewed in the participant list")
    return render(request, "participants/participant_list.html", {"page": page, "query": query})


@login_required
def participant_create_view(request):
    services = _services_with(request.user, Can.CHANGE_CLINICAL)
    form = ParticipantForm(request.POST or None, services=services)
    if request.method == "POST" and form.is_valid():
        try:
            participant = participant_create(
                service=form.cleaned_data["service"], **form.service_kwargs()
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Participant added.")
            return redirect("participants:participant_detail", pk=participant.pk)
    return render(
        request, "participants/participant_form.html", {"form": form, "participant": None}
    )


@login_required
def participant_detail(request, pk):
    participant = get_scoped_or_404(
        request.user, Participant.objects.select_related("service"), can=Can.VIEW_CLINICAL, pk=pk
    )
    record_view(participant, where="Viewed on the participant page")
    return render(
        request,
        "participants/participant_detail.html",
        {
            "participant": participant,
            "panels": participant_page.render_context(request, participant),
            "can_request_subject_access": user_can(
                request.user, Can.CHANGE_CLINICAL, participant.service_id
            ),
        },
    )


@login_required
def participant_edit(request, pk):
    participant = get_scoped_or_404(
        request.user, Participant.objects.select_related("service"), can=Can.CHANGE_CLINICAL, pk=pk
    )
    initial = {field: getattr(participant, field) for field in EDITABLE_FIELDS}
    initial["mobile"] = participant.mobile.as_national if participant.mobile else ""
    form = ParticipantForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            participant_update(participant=participant, **form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Participant details saved.")
            return redirect("participants:participant_detail", pk=participant.pk)
    record_view(participant, where="Viewed on the participant's edit page")
    return render(
        request,
        "participants/participant_form.html",
        {"form": form, "participant": participant},
    )
