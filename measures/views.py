"""Staff pages for questionnaires: risk alerts, paper entry, participant links, wording."""

import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import record_access, record_view
from accounts.models import Service
from accounts.scope import Can, get_scoped_or_404, require, service_ids, user_can
from measures import catalogue, links, selectors, services
from measures.definitions import all_instruments, get_instrument
from measures.entry_checks import missing_items
from measures.forms import (
    AcknowledgeForm,
    AdministrationCorrectForm,
    AdministrationEntryForm,
    AdministrationVoidForm,
    WordingImportForm,
)
from measures.models import Administration, InstrumentWording, Response, RiskAlert
from participants.forms import add_service_errors
from participants.models import Participant

ADMIN_SCOPE = "enrolment__cohort__service"


def _participant_url(participant) -> str | None:
    try:
        return reverse("participants:participant_detail", args=[participant.pk])
    except Exception:
        return None


# --------------------------------------------------------------------------- risk alerts


@login_required
def alert_list(request):
    if not service_ids(request.user, Can.VIEW_CLINICAL):
        raise PermissionDenied
    alerts = list(selectors.open_alerts_for(request.user))
    for alert in alerts:
        alert.instrument_name = get_instrument(alert.administration.instrument_code).name
    # Each row carries the participant's record number.
    record_access(
        {a.administration.enrolment.participant for a in alerts},
        where="Viewed in the risk alert list",
    )
    return render(request, "measures/alert_list.html", {"alerts": alerts})


def _alert(request, pk, can):
    return get_scoped_or_404(
        request.user,
        RiskAlert.objects.select_related(
            "administration__timepoint",
            "administration__enrolment__participant",
            "administration__enrolment__cohort",
            "acknowledged_by",
        ),
        can=can,
        via=selectors.ALERT_SCOPE,
        pk=pk,
    )


def _alert_page(request, alert, form, can_acknowledge):
    participant = alert.administration.enrolment.participant
    record_view(participant, where="Viewed on a risk alert")
    return render(
        request,
        "measures/alert_detail.html",
        {
            "alert": alert,
            "participant": participant,
            "participant_url": _participant_url(participant),
            "detail": selectors.alert_detail(alert),
            "form": form,
            "can_acknowledge": can_acknowledge,
        },
    )


@login_required
def alert_detail(request, pk):
    alert = _alert(request, pk, Can.VIEW_CLINICAL)
    service_id = alert.administration.enrolment.cohort.service_id
    can_acknowledge = user_can(request.user, Can.CHANGE_CLINICAL, service_id)
    return _alert_page(request, alert, AcknowledgeForm(), can_acknowledge)


@login_required
@require_POST
def alert_acknowledge(request, pk):
    alert = _alert(request, pk, Can.CHANGE_CLINICAL)
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        return _alert_page(request, alert, form, can_acknowledge=True)
    services.risk_alert_acknowledge(alert=alert, user=request.user, note=form.cleaned_data["note"])
    messages.success(request, "The alert is acknowledged.")
    return redirect("measures:alert_list")


# --------------------------------------------------------------------------- paper entry


def _administration(request, pk, can=Can.CHANGE_CLINICAL) -> Administration:
    return get_scoped_or_404(
        request.user,
        Administration.objects.select_related(
            "timepoint", "enrolment__participant", "enrolment__cohort"
        ),
        can=can,
        via=ADMIN_SCOPE,
        pk=pk,
    )


def _instrument(adm):
    wording = catalogue.wordings_for(adm.enrolment.cohort.service_id, [adm.instrument_code])
    return catalogue.instrument_for(adm.instrument_code, wording.get(adm.instrument_code))


def _blank_items_stop(form, instrument):
    """The blank items and what the instrument's rule does with them, unless the clerk has
    already seen that and chosen "Save as it is". Scoring errors go on the form."""
    if form.cleaned_data.get("save_as_it_is"):
        return None
    try:
        found = missing_items(instrument, form.answers())
    except ValueError as exc:
        form.add_error(None, str(exc))
        return None
    return found or None


@login_required
@require_http_methods(["GET", "POST"])
def administration_enter(request, pk):
    adm = _administration(request, pk)
    participant = adm.enrolment.participant
    record_view(participant, where="Viewed on paper questionnaire entry")
    instrument = _instrument(adm)
    staff_completed = adm.instrument_code in catalogue.STAFF_COMPLETED
    closed = adm.status in (
        Administration.Status.COMPLETED,
        Administration.Status.CANCELLED,
        Administration.Status.SUPERSEDED,
        Administration.Status.VOIDED,
    )
    form = AdministrationEntryForm(
        request.POST or None,
        instrument=instrument,
        initial={"completed_on": timezone.localdate()},
    )
    blank = None
    if request.method == "POST" and not closed and form.is_valid():
        blank = _blank_items_stop(form, instrument)
        if blank is None and form.is_valid():
            try:
                services.administration_enter(
                    administration=adm,
                    answers=form.answers(),
                    entered_by=request.user,
                    completed_at=form.completed_at(),
                    source=(
                        Administration.Source.STAFF
                        if staff_completed
                        else Administration.Source.PAPER
                    ),
                    outside_window_reason=form.window_reason(),
                )
            except services.AdministrationClosed:
                closed = True
            except ValidationError as exc:
                add_service_errors(form, exc)
            except ValueError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "The answers are saved and scored.")
                return redirect("measures:participant_questionnaires", pk=participant.pk)
    return render(
        request,
        "measures/administration_enter.html",
        {
            "administration": adm,
            "participant": participant,
            "instrument": instrument,
            "form": form,
            "closed": closed,
            "staff_completed": staff_completed,
            "blank": blank,
        },
        status=409 if closed and request.method == "POST" else 200,
    )


def _initial_answers(adm) -> dict:
    response = Response.objects.filter(administration=adm).first()
    answers = response.answers if response else {}
    return {f"item_{k}": "" if v is None else str(v) for k, v in answers.items()}


@login_required
@require_http_methods(["GET", "POST"])
def administration_correct(request, pk):
    adm = _administration(request, pk)
    participant = adm.enrolment.participant
    record_view(participant, where="Viewed on questionnaire correction")
    instrument = _instrument(adm)
    refusal = None
    try:
        services.correction_allowed(adm)
    except ValidationError as exc:
        refusal = " ".join(exc.messages)
    initial = {
        "completed_on": timezone.localdate(adm.completed_at) if adm.completed_at else None,
        "outside_window": bool(adm.outside_window_reason),
        "outside_window_reason": adm.outside_window_reason,
        **_initial_answers(adm),
    }
    form = AdministrationCorrectForm(request.POST or None, instrument=instrument, initial=initial)
    blank = None
    if request.method == "POST" and form.is_valid():
        blank = _blank_items_stop(form, instrument)
        if blank is None and form.is_valid():
            try:
                services.administration_correct(
                    administration=adm,
                    answers=form.answers(),
                    completed_at=form.completed_at(),
                    reason=form.cleaned_data["reason"],
                    by=request.user,
                    outside_window_reason=form.window_reason(),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            except ValueError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    "The correction is saved and scored; the original is kept, marked superseded.",
                )
                return redirect("measures:participant_questionnaires", pk=participant.pk)
    return render(
        request,
        "measures/administration_correct.html",
        {
            "administration": adm,
            "participant": participant,
            "instrument": instrument,
            "form": form,
            "refusal": refusal,
            "blank": blank,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def administration_void(request, pk):
    adm = _administration(request, pk)
    participant = adm.enrolment.participant
    record_view(participant, where="Viewed on questionnaire void")
    form = AdministrationVoidForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.administration_void(
                administration=adm, reason=form.cleaned_data["reason"], by=request.user
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "The questionnaire is voided; it is kept with its reason.")
            return redirect("measures:participant_questionnaires", pk=participant.pk)
    return render(
        request,
        "measures/administration_void.html",
        {
            "administration": adm,
            "participant": participant,
            "instrument": get_instrument(adm.instrument_code),
            "form": form,
        },
    )


# --------------------------------------------------------------------------- participant


def _participant(request, pk, can):
    return get_scoped_or_404(request.user, Participant, can=can, pk=pk)


@login_required
def participant_questionnaires(request, pk):
    participant = _participant(request, pk, Can.VIEW_CLINICAL)
    record_view(participant, where="Viewed on the questionnaires page")
    administrations = selectors.participant_administrations(participant)
    wordings = catalogue.wordings_for(
        participant.service_id, {adm.instrument_code for adm in administrations}
    )
    rows = [
        {
            "administration": adm,
            "instrument": get_instrument(adm.instrument_code),
            "online": catalogue.answerable_online(adm.instrument_code, wordings),
            "staff_completed": adm.instrument_code in catalogue.STAFF_COMPLETED,
            "no_wording_message": (
                ""
                if adm.instrument_code in catalogue.STAFF_COMPLETED
                or catalogue.answerable_online(adm.instrument_code, wordings)
                else catalogue.no_wording_message(adm.instrument_code)
            ),
        }
        for adm in administrations
    ]
    return render(
        request,
        "measures/participant_questionnaires.html",
        {
            "participant": participant,
            "participant_url": _participant_url(participant),
            "rows": rows,
            "links": selectors.participant_links(participant),
            "can_change": user_can(request.user, Can.CHANGE_CLINICAL, participant.service_id),
            "now": timezone.now(),
        },
    )


@login_required
@require_POST
def link_new(request, pk):
    participant = _participant(request, pk, Can.CHANGE_CLINICAL)
    due = selectors.participant_due_now(participant_id=participant.pk)
    if not due:
        messages.error(
            request,
            "There is nothing this person can answer online now, so no link was made.",
        )
        return redirect("measures:participant_questionnaires", pk=participant.pk)
    last_close = max(adm.closes_on for adm in due)
    expires_at = timezone.make_aware(
        datetime.datetime.combine(last_close + datetime.timedelta(days=1), datetime.time.min)
    )
    raw_token = links.link_issue(participant=participant, expires_at=expires_at)
    record_view(participant, where="Viewed when a new link was made")
    url = settings.SITE_URL.rstrip("/") + reverse("questionnaire:landing", args=[raw_token])
    response = render(
        request,
        "measures/link_new.html",
        {"participant": participant, "url": url, "expires_at": expires_at},
    )
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@login_required
@require_POST
def links_revoke(request, pk):
    participant = _participant(request, pk, Can.CHANGE_CLINICAL)
    count = links.links_revoke_for_participant(participant=participant, revoked_by=request.user)
    messages.success(
        request,
        f"{count} link{'s' if count != 1 else ''} revoked." if count else "No live links.",
    )
    return redirect("measures:participant_questionnaires", pk=participant.pk)


# --------------------------------------------------------------------------- wording


def _managed_service(request, pk) -> Service:
    if pk not in service_ids(request.user):
        raise Http404
    require(request.user, Can.MANAGE_SERVICE, pk)
    return Service.objects.get(pk=pk)


@login_required
def wording_list(request):
    managed = service_ids(request.user, Can.MANAGE_SERVICE)
    if not managed:
        raise PermissionDenied
    services_ = list(Service.objects.filter(pk__in=managed))
    rows = {
        (w.service_id, w.instrument_code): w
        for w in InstrumentWording.objects.filter(service__in=services_)
    }
    needing = [i for i in all_instruments() if not i.ships_wording]
    return render(
        request,
        "measures/wording_list.html",
        {
            "sections": [
                {
                    "service": service,
                    "rows": [
                        {"instrument": i, "wording": rows.get((service.pk, i.code))}
                        for i in needing
                    ],
                }
                for service in services_
            ],
            "shipped": [i for i in all_instruments() if i.ships_wording],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def wording_import(request, service_pk, code):
    service = _managed_service(request, service_pk)
    try:
        instrument = get_instrument(code)
    except ValueError:
        raise Http404 from None
    if instrument.ships_wording:
        raise Http404
    form = WordingImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        parsed = form.cleaned_data["file"]
        try:
            services.wording_import(
                service=service,
                instrument_code=code,
                items=parsed["items"],
                option_labels=parsed["option_labels"],
                instructions=parsed["instructions"],
                imported_by=request.user,
            )
        except ValueError as exc:
            form.add_error("file", str(exc))
        else:
            messages.success(request, f"Wording for {instrument.name} is loaded.")
            return redirect("measures:wording_list")
    return render(
        request,
        "measures/wording_import.html",
        {"service": service, "instrument": instrument, "form": form},
    )
