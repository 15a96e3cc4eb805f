"""The huddle page of a group session, and the "contacted" note against a person on it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.audit import record_access
from accounts.scope import Can, get_scoped_or_404, user_can
from measures import services
from measures.forms import HuddleContactForm
from measures.huddle import session_huddle
from participants.forms import add_service_errors
from programmes.models import GroupSession
from programmes.selectors import enrolments_open_at


def _session(request, pk, can):
    return get_scoped_or_404(
        request.user,
        GroupSession.objects.select_related("cohort", "phase"),
        can=can,
        via="cohort__service",
        pk=pk,
    )


def _page(request, session, form=None, status=200):
    huddle = session_huddle(session)
    record_access(
        [row.enrolment.participant for row in huddle.rows], where="Viewed on the session huddle"
    )
    today = timezone.localdate()
    return render(
        request,
        "measures/huddle.html",
        {
            "session": session,
            "cohort": session.cohort,
            "huddle": huddle,
            "counts": huddle.counts,
            "form": form,
            "posted_enrolment": form.data.get("enrolment") if form is not None else None,
            "can_change": user_can(request.user, Can.CHANGE_CLINICAL, session.cohort.service_id),
            "is_past": session.date < today,
            "today": today,
        },
        status=status,
    )


@login_required
def huddle(request, pk):
    return _page(request, _session(request, pk, Can.VIEW_CLINICAL))


@login_required
@require_POST
def huddle_contact(request, pk):
    session = _session(request, pk, Can.CHANGE_CLINICAL)
    on_register = {e.pk: e for e in enrolments_open_at(session)}
    form = HuddleContactForm(request.POST, enrolment_ids=list(on_register))
    if form.is_valid():
        enrolment = on_register[form.cleaned_data["enrolment"]]
        try:
            services.huddle_contact_record(
                session=session,
                enrolment=enrolment,
                note=form.cleaned_data["note"],
                by=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Contact noted.")
            return redirect("measures:huddle", pk=session.pk)
    return _page(request, session, form)
