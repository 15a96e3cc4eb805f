"""Pages a participant reaches from the link in a message. No staff sign-in is involved.

The raw token appears in one address only, the landing page, which changes nothing (mail
scanners open links). Its "Start" button posts the token in the request body; the exchange
then puts the link's id and the administrations it covers in the session, and every later
page has an address without the token.
"""

import logging
import time
from functools import wraps

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from accounts.models import Service
from measures import catalogue, links, services
from measures.definitions import NOT_APPLICABLE
from measures.models import Administration, Response
from measures.selectors import participant_due_administrations

logger = logging.getLogger(__name__)

SESSION_KEY = "questionnaire"
# A participant session ends after this long whatever happens; the link starts a new one.
SESSION_MAX_SECONDS = 3 * 60 * 60
LINK_PAGE_RATE = "30/10m"
UNAVAILABLE_STATUS = 404
LARGEST_COUNT = 9999


def participant_page(view):
    """Every participant page: no referrer leaves it and no cache keeps it."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        response["Cache-Control"] = "no-store"
        return response

    return wrapped


def _unavailable(request, service: Service | None = None):
    """One calm page for unknown, expired, revoked and used-up links alike."""
    return render(
        request,
        "questionnaire/unavailable.html",
        {"phone": service.phone if service else "", "public_name": _public_name(service)},
        status=UNAVAILABLE_STATUS,
    )


def _public_name(service: Service | None) -> str:
    return service.public_name if service else "Your NHS team"


def _limited(request):
    logger.warning("Questionnaire link pages: rate limit reached for one address")
    return render(request, "questionnaire/limited.html", {"public_name": None}, status=429)


def _live_link(raw_token: str):
    """(link, service); link is None when the token cannot start a session now."""
    found = links.link_lookup(raw_token)
    service = found.participant.service if found else None
    link = links.link_find(raw_token) if found else None
    if link is None or not participant_due_administrations(participant_id=link.participant_id):
        return None, service
    return link, service


@participant_page
@ratelimit(key="ip", rate=LINK_PAGE_RATE, block=False)
@require_GET
def landing(request, token):
    if getattr(request, "limited", False):
        return _limited(request)
    link, service = _live_link(token)
    if link is None:
        return _unavailable(request, service)
    return render(
        request,
        "questionnaire/start.html",
        {"token": token, "public_name": _public_name(service)},
    )


@participant_page
@ratelimit(key="ip", rate=LINK_PAGE_RATE, block=False)
@require_POST
def start(request):
    if getattr(request, "limited", False):
        return _limited(request)
    link, service = _live_link(request.POST.get("token", ""))
    if link is None:
        return _unavailable(request, service)
    due = participant_due_administrations(participant_id=link.participant_id)
    links.link_mark_used(link=link)
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "link": link.pk,
        "participant": link.participant_id,
        "service": service.pk,
        "administrations": [adm.pk for adm in due],
        "started": time.time(),
    }
    return redirect("questionnaire:home")


def _session(request) -> dict | None:
    data = request.session.get(SESSION_KEY)
    if not data:
        return None
    if time.time() - data.get("started", 0) > SESSION_MAX_SECONDS:
        del request.session[SESSION_KEY]
        return None
    return data


def needs_participant_session(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        data = _session(request)
        if data is None:
            return render(request, "questionnaire/session_ended.html", {"public_name": None})
        request.questionnaire = data
        return view(request, *args, **kwargs)

    return wrapped


def _service(request) -> Service | None:
    return Service.objects.filter(pk=request.questionnaire["service"]).first()


@participant_page
@needs_participant_session
@require_GET
def home(request):
    data = request.questionnaire
    due = participant_due_administrations(
        participant_id=data["participant"], ids=set(data["administrations"])
    )
    service = _service(request)
    if not due:
        return render(
            request,
            "questionnaire/all_done.html",
            {"public_name": _public_name(service), "phone": service.phone if service else ""},
        )
    return render(
        request,
        "questionnaire/home.html",
        {
            "public_name": _public_name(service),
            "questionnaires": [
                {"administration": adm, "name": f"Questionnaire {index}", "number": index}
                for index, adm in enumerate(due, start=1)
            ],
        },
    )


class _Closed(Exception):
    pass


def _load(request, pk: int):
    """The administration, its instrument (with the service's wording) and its answers."""
    if pk not in request.questionnaire["administrations"]:
        raise Http404
    adm = (
        Administration.objects.select_related("enrolment__cohort__service")
        .filter(pk=pk, enrolment__participant_id=request.questionnaire["participant"])
        .first()
    )
    if adm is None:
        raise Http404
    wordings = catalogue.wordings_for(adm.enrolment.cohort.service_id, [adm.instrument_code])
    instrument = catalogue.instrument_for(adm.instrument_code, wordings.get(adm.instrument_code))
    response = Response.objects.filter(administration=adm).first()
    answers = dict(response.answers) if response else {}
    placeholder = bool(
        wordings.get(adm.instrument_code) and wordings[adm.instrument_code].is_placeholder
    )
    return adm, instrument, answers, placeholder


def _answerable(adm) -> bool:
    return adm.status in services.ANSWERABLE and adm.closes_on >= timezone.localdate()


def _closed_page(request, adm):
    service = adm.enrolment.cohort.service
    if adm.status == Administration.Status.COMPLETED:
        return redirect("questionnaire:done", pk=adm.pk)
    return render(
        request,
        "questionnaire/closed.html",
        {"public_name": service.public_name, "phone": service.phone},
    )


def _first_unanswered_page(instrument, answers) -> int | None:
    for index, page in enumerate(instrument.pages(), start=1):
        if any(str(item.number) not in answers for item in page):
            return index
    return None


@participant_page
@needs_participant_session
@require_GET
def resume(request, pk):
    adm, instrument, answers, _ = _load(request, pk)
    if not _answerable(adm):
        return _closed_page(request, adm)
    page = _first_unanswered_page(instrument, answers)
    if page is None:
        return redirect("questionnaire:check", pk=pk)
    return redirect("questionnaire:page", pk=pk, number=page)


def _parse(item, raw: str | None):
    """(value, error) for one item's posted answer."""
    if raw is None or raw.strip() == "":
        if item.count:
            return None, "Enter a number. Enter 0 if there were none."
        return None, "Choose an answer for this question."
    raw = raw.strip()
    if raw == NOT_APPLICABLE and item.allows_na:
        return NOT_APPLICABLE, None
    try:
        value = int(raw)
    except ValueError:
        return None, "Enter a whole number, like 3." if item.count else "Choose one of the answers."
    if item.count:
        if not 0 <= value <= LARGEST_COUNT:
            return None, f"Enter a whole number from 0 to {LARGEST_COUNT}."
        return value, None
    if value not in item.option_values:
        return None, "Choose one of the answers."
    return value, None


def _questions(page_items, answers, posted=None, errors=None):
    questions = []
    for item in page_items:
        key = str(item.number)
        if posted is not None and f"item_{key}" in posted:
            current = posted.get(f"item_{key}")
        else:
            current = answers.get(key)
        current = "" if current is None else str(current)
        options = [
            {"value": str(o.value), "label": o.display_label, "checked": current == str(o.value)}
            for o in item.options
        ]
        if item.allows_na:
            options.append(
                {
                    "value": NOT_APPLICABLE,
                    "label": "Does not apply to me",
                    "checked": current == "na",
                }
            )
        error = (errors or {}).get(item.number)
        first = f"item-{key}-input" if item.count else f"item-{key}-{options[0]['value']}"
        questions.append(
            {
                "number": item.number,
                "text": item.text,
                "preamble": item.preamble,
                "count": item.count,
                "value": current,
                "options": options,
                "error": error,
                "anchor": first,
            }
        )
    return questions


@participant_page
@needs_participant_session
@require_http_methods(["GET", "POST"])
def page(request, pk, number):
    adm, instrument, answers, placeholder = _load(request, pk)
    if not _answerable(adm):
        return _closed_page(request, adm)
    pages = instrument.pages()
    if not 1 <= number <= len(pages):
        raise Http404
    items = pages[number - 1]
    errors: dict[int, str] = {}
    posted = None
    if request.method == "POST":
        posted = request.POST
        valid = {}
        for item in items:
            value, error = _parse(item, posted.get(f"item_{item.number}"))
            if error:
                errors[item.number] = error
            else:
                valid[item.number] = value
        if valid:
            try:
                services.response_save(administration_id=adm.pk, answers=valid)
            except services.AdministrationClosed:
                adm.refresh_from_db()
                return _closed_page(request, adm)
        if not errors:
            if number < len(pages):
                return redirect("questionnaire:page", pk=pk, number=number + 1)
            return redirect("questionnaire:check", pk=pk)
    questions = _questions(items, answers, posted, errors)
    previous = (
        reverse("questionnaire:page", args=[pk, number - 1])
        if number > 1
        else reverse("questionnaire:home")
    )
    service = adm.enrolment.cohort.service
    return render(
        request,
        "questionnaire/page.html",
        {
            "public_name": service.public_name,
            "administration": adm,
            "instrument": instrument,
            "placeholder": placeholder,
            "placeholder_label": catalogue.PLACEHOLDER_LABEL,
            "questions": questions,
            "errors": [q for q in questions if q["error"]],
            "page_number": number,
            "page_count": len(pages),
            "show_instructions": number == 1 or bool(errors),
            "previous_url": previous,
        },
    )


@participant_page
@needs_participant_session
@require_GET
def check(request, pk):
    adm, instrument, answers, _ = _load(request, pk)
    if not _answerable(adm):
        return _closed_page(request, adm)
    missing_page = _first_unanswered_page(instrument, answers)
    page_count = len(instrument.pages())
    return render(
        request,
        "questionnaire/check.html",
        {
            "public_name": adm.enrolment.cohort.service.public_name,
            "administration": adm,
            "missing_page": missing_page,
            "page_count": page_count,
            "previous_url": reverse("questionnaire:page", args=[pk, page_count]),
        },
    )


@participant_page
@needs_participant_session
@require_POST
def submit(request, pk):
    adm, instrument, answers, _ = _load(request, pk)
    if adm.status == Administration.Status.COMPLETED:
        return redirect("questionnaire:done", pk=pk)
    if _first_unanswered_page(instrument, answers) is not None:
        return redirect("questionnaire:resume", pk=pk)
    try:
        services.response_submit(administration_id=adm.pk)
    except services.AdministrationClosed:
        adm.refresh_from_db()
        return _closed_page(request, adm)
    return redirect("questionnaire:done", pk=pk)


@participant_page
@needs_participant_session
@require_GET
def done(request, pk):
    adm, _, _, _ = _load(request, pk)
    if adm.status != Administration.Status.COMPLETED:
        return redirect("questionnaire:resume", pk=pk)
    data = request.questionnaire
    remaining = participant_due_administrations(
        participant_id=data["participant"], ids=set(data["administrations"])
    )
    service = adm.enrolment.cohort.service
    return render(
        request,
        "questionnaire/done.html",
        {
            "public_name": service.public_name,
            "phone": service.phone,
            "remaining": len(remaining),
        },
    )
