from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.audit import record_access
from accounts.models import Service
from accounts.scope import Can, get_scoped_or_404, roles_by_service, service_ids, user_can
from participants.forms import add_service_errors
from programmes import calendar, selectors, services
from programmes.cohort_edit import cohort_update
from programmes.forms import (
    CohortEditForm,
    CohortForm,
    CohortStartMoveDecisionsForm,
    CohortStartMoveForm,
    EnrolForm,
    EnrolmentEndForm,
    EnrolmentInErrorForm,
    MakeUpSessionForm,
    ProgrammeCopyForm,
    ProgrammeEditForm,
    RegisterForm,
    SessionCancelForm,
    SessionMoveForm,
    SessionReinstateForm,
)
from programmes.models import Cohort, Enrolment, GroupSession, Programme
from programmes.panels import cohort_page, session_page


def _require_any(user, can: Can) -> list[int]:
    ids = service_ids(user, can)
    if not ids:
        raise PermissionDenied
    return ids


def _record_access(participants, where: str) -> None:
    """Pages listing participants by name log one access row each, in one query."""
    record_access(participants, where=where)


# Cohorts ------------------------------------------------------------------------------


@login_required
def cohort_list(request):
    _require_any(request.user, Can.VIEW_CLINICAL)
    cohorts = list(selectors.cohorts_for(request.user))
    return render(
        request,
        "programmes/cohort_list.html",
        {"cohorts": cohorts, "today": timezone.localdate()},
    )


@login_required
def cohort_detail(request, pk):
    cohort = get_scoped_or_404(
        request.user,
        Cohort.objects.select_related("service", "programme"),
        can=Can.VIEW_CLINICAL,
        pk=pk,
    )
    overview = selectors.cohort_overview(cohort)
    _record_access(
        [row.enrolment.participant for row in overview.rows], "Viewed on the cohort page"
    )
    return render(
        request,
        "programmes/cohort_detail.html",
        {
            "cohort": cohort,
            "overview": overview,
            "facilitators": list(cohort.facilitators.all()),
            "can_change": user_can(request.user, Can.CHANGE_CLINICAL, cohort.service_id),
            "panels": cohort_page.render_context(request, cohort),
            "today": timezone.localdate(),
        },
    )


@login_required
def cohort_create(request):
    ids = _require_any(request.user, Can.CHANGE_CLINICAL)
    service_list = list(Service.objects.filter(pk__in=ids).order_by("name"))
    programmes = Programme.objects.filter(
        Q(service__isnull=True) | Q(service__in=ids), is_current=True
    ).order_by("name")
    form = CohortForm(request.POST or None, services=service_list, programmes=programmes)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            cohort = services.cohort_create(
                service=data["service"],
                programme=data["programme"],
                name=data["name"],
                start_date=data["start_date"],
                start_time=data["start_time"],
                venue=data["venue"],
                capacity=data["capacity"],
                weekday=data["weekday"],
                facilitators=data["facilitators"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Cohort created and its sessions laid out.")
            return redirect(cohort)
    return render(request, "programmes/cohort_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def cohort_edit(request, pk):
    cohort = get_scoped_or_404(
        request.user, Cohort.objects.select_related("service"), can=Can.CHANGE_CLINICAL, pk=pk
    )
    form = CohortEditForm(request.POST or None, cohort=cohort)
    if request.method == "POST" and form.is_valid():
        try:
            edit = cohort_update(cohort=cohort, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, edit.summary())
            return redirect(cohort)
    return render(request, "programmes/cohort_edit.html", {"form": form, "cohort": cohort})


@login_required
@require_http_methods(["GET", "POST"])
def cohort_move_start(request, pk):
    """Two steps: the new date, then the resulting calendar to decide on and confirm.

    The date alone (a GET with it in the query string, or a POST of the date form) only
    shows the preview; a POST with "confirm" applies it.
    """
    cohort = get_scoped_or_404(request.user, Cohort, can=Can.CHANGE_CLINICAL, pk=pk)
    sent = request.GET if "new_start_date" in request.GET else None
    if request.method == "POST":
        sent = request.POST
    form = CohortStartMoveForm(sent, initial={"new_start_date": cohort.start_date})
    if sent is None or not form.is_valid():
        return _move_start_page(request, cohort, form)
    new_start_date = form.cleaned_data["new_start_date"]
    preview = calendar.cohort_start_move_preview(cohort=cohort, new_start_date=new_start_date)
    if not preview.sessions and preview.errors:
        # A date no choice can make work (the same date, years away) is answered on the
        # date form; a clash is shown on the calendar, where choices may resolve it.
        add_service_errors(form, ValidationError(preview.errors))
        return _move_start_page(request, cohort, form)

    confirming = request.method == "POST" and "confirm" in request.POST
    decisions_form = CohortStartMoveDecisionsForm(
        request.POST if confirming else None, preview=preview
    )
    if confirming and decisions_form.is_valid():
        decisions = decisions_form.decisions()
        done = preview.with_decisions(decisions)
        try:
            services.cohort_start_move(
                cohort=cohort, new_start_date=new_start_date, decisions=decisions, by=request.user
            )
        except ValidationError as exc:
            add_service_errors(decisions_form, exc)
        else:
            messages.success(request, done.summary())
            return redirect(cohort)
    return render(
        request,
        "programmes/cohort_move_start_preview.html",
        {
            "cohort": cohort,
            "preview": preview,
            "form": decisions_form,
            "clashes": [] if decisions_form.is_bound else preview.errors.get("new_start_date", []),
        },
    )


def _move_start_page(request, cohort, form):
    return render(request, "programmes/cohort_move_start.html", {"form": form, "cohort": cohort})


# Sessions -----------------------------------------------------------------------------


def _session(request, pk, can=Can.CHANGE_CLINICAL) -> GroupSession:
    return get_scoped_or_404(
        request.user,
        GroupSession.objects.select_related("cohort", "cohort__service", "phase"),
        can=can,
        via="cohort__service",
        pk=pk,
    )


@login_required
def session_move(request, pk):
    session = _session(request, pk)
    form = SessionMoveForm(
        request.POST or None,
        initial={"new_date": session.date, "start_time": session.start_time},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.session_move(
                session=session,
                new_date=data["new_date"],
                start_time=data["start_time"],
                reason=data["reason"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Session {session.number} moved.")
            return redirect(session.cohort)
    return render(
        request,
        "programmes/session_change.html",
        {"form": form, "session": session, "action": "Move"},
    )


@login_required
def session_cancel(request, pk):
    session = _session(request, pk)
    form = SessionCancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.session_cancel(session=session, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Session {session.number} cancelled.")
            return redirect(session.cohort)
    return render(
        request,
        "programmes/session_change.html",
        {"form": form, "session": session, "action": "Cancel"},
    )


@login_required
@require_http_methods(["GET", "POST"])
def session_reinstate(request, pk):
    session = _session(request, pk)
    form = SessionReinstateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.session_reinstate(session=session, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Session {session.number} reinstated.")
            return redirect(session.cohort)
    return render(
        request,
        "programmes/session_change.html",
        {"form": form, "session": session, "action": "Reinstate"},
    )


@login_required
@require_http_methods(["GET", "POST"])
def session_make_up(request, pk):
    cohort = get_scoped_or_404(request.user, Cohort, can=Can.CHANGE_CLINICAL, pk=pk)
    form = MakeUpSessionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            session = services.session_make_up_add(
                cohort=cohort,
                date=data["date"],
                start_time=data["start_time"],
                reason=data["reason"],
                theme=data["theme"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Make-up session {session.number} added.")
            return redirect(cohort)
    return render(request, "programmes/session_make_up.html", {"form": form, "cohort": cohort})


@login_required
@require_http_methods(["GET", "POST"])
def register(request, pk):
    session = _session(request, pk)
    rows = selectors.register_rows(session)
    form = RegisterForm(
        request.POST or None,
        rows=rows,
        initial={"group_note": session.group_note},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.attendance_record(
                session=session,
                statuses=form.statuses(),
                group_note=form.cleaned_data["group_note"],
                by=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Register for session {session.number} saved.")
            return redirect(session.cohort)
    _record_access([enrolment.participant for enrolment, _ in rows], "Viewed on the register")
    return render(
        request,
        "programmes/register.html",
        {
            "form": form,
            "session": session,
            "cohort": session.cohort,
            "is_future": session.date > timezone.localdate(),
            "panels": session_page.render_context(request, session),
        },
    )


# Enrolments ---------------------------------------------------------------------------


@login_required
def enrol(request, pk):
    cohort = get_scoped_or_404(request.user, Cohort, can=Can.CHANGE_CLINICAL, pk=pk)
    form = EnrolForm(request.POST or None, cohort=cohort)
    full = False
    elsewhere = []
    if request.method == "POST" and form.is_valid():
        participant = form.cleaned_data["participant"]
        try:
            services.enrolment_create(
                cohort=cohort,
                participant=participant,
                enrolled_on=form.cleaned_data["enrolled_on"],
                also_active_reason=form.confirmed_reason(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
            full = getattr(exc, "code", None) == services.COHORT_FULL
            elsewhere = services.active_elsewhere(participant=participant, cohort=cohort)
        else:
            messages.success(request, "Participant enrolled.")
            return redirect(cohort)
    elif form.is_bound and getattr(form, "cleaned_data", {}).get("participant"):
        # Asked again (the confirmation was not ticked): keep showing what needs confirming.
        elsewhere = services.active_elsewhere(
            participant=form.cleaned_data["participant"], cohort=cohort
        )
    # The picker lists every participant of the service by name.
    _record_access(
        form.fields["participant"].queryset.only("pk", "reference"), "Viewed in the enrol picker"
    )
    return render(
        request,
        "programmes/enrol.html",
        {"form": form, "cohort": cohort, "full": full, "elsewhere": elsewhere},
    )


@login_required
def enrolment_end(request, pk):
    enrolment = get_scoped_or_404(
        request.user,
        Enrolment.objects.select_related("cohort", "participant"),
        can=Can.CHANGE_CLINICAL,
        via="cohort__service",
        pk=pk,
    )
    form = EnrolmentEndForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.enrolment_end(
                enrolment=enrolment,
                status=data["status"],
                ended_on=data["ended_on"],
                reason=data["reason"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Enrolment ended.")
            return redirect(enrolment.cohort)
    _record_access([enrolment.participant], "Viewed on the end-of-enrolment page")
    return render(request, "programmes/enrolment_end.html", {"form": form, "enrolment": enrolment})


@login_required
@require_http_methods(["GET", "POST"])
def enrolment_in_error(request, pk):
    enrolment = get_scoped_or_404(
        request.user,
        Enrolment.objects.select_related("cohort", "participant"),
        can=Can.CHANGE_CLINICAL,
        via="cohort__service",
        pk=pk,
    )
    form = EnrolmentInErrorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.enrolment_mark_in_error(
                enrolment=enrolment, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                "The enrolment is marked as entered in error. It is kept in the record, and "
                "counts in no figure or export.",
            )
            return redirect("participants:participant_detail", pk=enrolment.participant_id)
    _record_access([enrolment.participant], "Viewed on the entered-in-error page")
    return render(
        request, "programmes/enrolment_in_error.html", {"form": form, "enrolment": enrolment}
    )


# Programmes ---------------------------------------------------------------------------


@login_required
def programme_list(request):
    if not roles_by_service(request.user):
        raise PermissionDenied
    programmes = list(selectors.programmes_visible_to(request.user).prefetch_related("phases"))
    return render(
        request,
        "programmes/programme_list.html",
        {
            "programmes": programmes,
            "manageable": set(service_ids(request.user, Can.MANAGE_SERVICE)),
        },
    )


@login_required
def programme_edit(request, pk):
    programme = _programme_for_edit(request.user, pk)
    form = ProgrammeEditForm(request.POST or None, programme=programme)
    if request.method == "POST" and form.is_valid():
        try:
            new = services.programme_revise(
                programme=programme,
                by=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                phase_names=form.phase_names(),
                themes=form.themes(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"Saved as version {new.version}. Cohorts already running keep their version.",
            )
            return redirect("programmes:programme_list")
    return render(request, "programmes/programme_edit.html", {"form": form, "programme": programme})


def _programme_for_edit(user, pk) -> Programme:
    """A service's own programme, by its administrators. The shared defaults are read-only
    to every service (403): the list offers a copy instead."""
    programme = selectors.programmes_visible_to(user).filter(pk=pk).first()
    if programme is None:
        from django.http import Http404

        raise Http404
    if programme.service_id is None or not user_can(user, Can.MANAGE_SERVICE, programme.service_id):
        raise PermissionDenied
    return programme


@login_required
def programme_copy(request, pk):
    """Copy a shared programme into one of the user's services, to change it there."""
    programme = (
        selectors.programmes_visible_to(request.user)
        .filter(pk=pk, service__isnull=True, is_current=True)
        .first()
    )
    if programme is None:
        from django.http import Http404

        raise Http404
    ids = _require_any(request.user, Can.MANAGE_SERVICE)
    form = ProgrammeCopyForm(
        request.POST or None,
        programme=programme,
        services=Service.objects.filter(pk__in=ids).order_by("name"),
    )
    if request.method == "POST" and form.is_valid():
        try:
            copy = services.programme_copy(
                programme=programme,
                service=form.cleaned_data["service"],
                name=form.cleaned_data["name"],
                by=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Copied into {copy.service.name}. Change it here.")
            return redirect("programmes:programme_edit", pk=copy.pk)
    return render(request, "programmes/programme_copy.html", {"form": form, "programme": programme})
