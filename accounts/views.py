"""The audit trail. (The staff page is accounts.staff_views.)"""

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render

from accounts import selectors
from accounts.forms import AuditFilterForm
from accounts.scope import Can, service_ids, user_can

PAGE_SIZE = 50


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
            # The trail is accounts' own page; the participant it filters by lives a layer
            # up, so it is looked up by name rather than imported.
            participant = (
                apps.get_model("participants", "Participant")
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
