"""Pages a participant reaches from the link in a message. No staff sign-in is involved.

The raw token appears in one address only, the landing page, which changes nothing (mail
scanners open links). Its "Start" button posts the token in the request body; the exchange
then puts the link's id and the administrations it covers in the session, and every later
page has an address without the token.

The way through is as short as it can be: Start goes straight to the first questionnaire;
saving its last page with nothing missing sends it and goes straight on to the next one; the
check page appears only when something is unanswered; the last one sent ends on the
thank-you page. PHQ-9 and GAD-7 take seven requests from the link to the thank-you page.
"""

import logging
import time
from functools import wraps

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.core import is_ratelimited

from accounts.models import Service
from measures import catalogue, links, services
from measures.definitions import get_instrument
from measures.forms import QuestionnairePageForm
from measures.models import Administration, Response
from measures.selectors import (
    due_among,
    participant_due_now,
    participant_session_administrations,
    public_service,
    saved_answers,
)

logger = logging.getLogger(__name__)

SESSION_KEY = "questionnaire"
# A participant session ends after this long whatever happens; the link starts a new one.
SESSION_MAX_SECONDS = 3 * 60 * 60
# ...and after this long without a page (the staff idle time). The session is written at
# most once in SEEN_REFRESH_SECONDS to keep this, not on every request.
SESSION_IDLE_SECONDS = settings.SESSION_COOKIE_AGE
SEEN_REFRESH_SECONDS = 5 * 60
# Unknown tokens tried from one address (a valid token is never counted or refused).
LINK_PAGE_RATE = "30/10m"
LINK_RATE_GROUP = "questionnaire-link"
UNAVAILABLE_STATUS = 404
# The page's script posts with this field to save as answers are chosen (no redirect).
AUTOSAVE_FIELD = "autosave"
BREAK_ACTION = "break"


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


def _live_link(request, raw_token: str):
    """(link, service, due, refusal): refusal is a response when the token cannot start.

    Only a token that matches no link is counted against its address's limit (the address
    is the client's, read behind TRUSTED_PROXY_COUNT proxies): a household or a hostel's wifi
    sharing an address is never refused a genuine link because someone else guessed.
    """
    found = links.link_lookup(raw_token)
    if found is None:
        if is_ratelimited(
            request, group=LINK_RATE_GROUP, key="ip", rate=LINK_PAGE_RATE, increment=True
        ):
            return None, None, [], _limited(request)
        return None, None, [], _unavailable(request)
    service = found.participant.service
    link = found if links.link_is_live(found) else None
    due = participant_due_now(participant_id=link.participant_id) if link else []
    if not due:
        return None, service, [], _unavailable(request, service)
    return link, service, due, None


def _minutes(adms) -> int:
    return sum(get_instrument(adm.instrument_code).minutes for adm in adms)


@participant_page
@require_GET
def landing(request, token):
    _link, service, due, refusal = _live_link(request, token)
    if refusal:
        return refusal
    return render(
        request,
        "questionnaire/start.html",
        {
            "token": token,
            "public_name": _public_name(service),
            "count": len(due),
            "minutes": _minutes(due),
        },
    )


@participant_page
@require_POST
def start(request):
    link, service, due, refusal = _live_link(request, request.POST.get("token", ""))
    if refusal:
        return refusal
    links.link_mark_used(link=link)
    if request.session.session_key:
        # A session that came with the request gets a new key (no fixation); a new one
        # is created with its data at the end of the request, in one insert.
        request.session.cycle_key()
    now = time.time()
    request.session[SESSION_KEY] = {
        "link": link.pk,
        "participant": link.participant_id,
        "service": service.pk,
        "administrations": [adm.pk for adm in due],
        "started": now,
        "seen": now,
    }
    # The database row lasts as long as the participant session may; idle time is kept in
    # "seen" (staff sessions keep Django's own idle expiry).
    request.session.set_expiry(SESSION_MAX_SECONDS)
    return redirect(_continue_url(due[0]))


def _session(request) -> tuple[dict | None, list[Administration]]:
    """The participant session and its administrations as they are now, or (None, []) once
    it is too old, idle, or its link is dead.

    A link revoked or expired ends every session opened from it at its next request: its
    liveness is read with the session's administrations, in the one query every page needs.
    """
    data = request.session.get(SESSION_KEY)
    if not data:
        return None, []
    now = time.time()
    too_old = now - data.get("started", 0) > SESSION_MAX_SECONDS
    idle = now - data.get("seen", 0) > SESSION_IDLE_SECONDS
    rows, live = [], False
    if not too_old and not idle:
        rows, live = participant_session_administrations(
            participant_id=data.get("participant"),
            ids=data.get("administrations") or [],
            link_id=data.get("link"),
        )
    if not live:
        del request.session[SESSION_KEY]
        return None, []
    if now - data["seen"] > SEEN_REFRESH_SECONDS:
        data["seen"] = now
        request.session.modified = True
    return data, rows


def needs_participant_session(view):
    """The view runs only for a live participant session; it finds the session in
    `request.questionnaire` and its administrations, as read, in `request.questionnaire_rows`."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        data, rows = _session(request)
        if data is None:
            return render(request, "questionnaire/session_ended.html", {"public_name": None})
        request.questionnaire = data
        request.questionnaire_rows = rows
        return view(request, *args, **kwargs)

    return wrapped


def _service(request) -> Service | None:
    return Service.objects.filter(pk=request.questionnaire["service"]).first()


def _listed(adm) -> dict:
    instrument = get_instrument(adm.instrument_code)
    return {
        "administration": adm,
        "name": instrument.participant_name,
        "items": len(instrument.items),
        "minutes": instrument.minutes,
    }


@participant_page
@needs_participant_session
@require_GET
def home(request):
    rows = request.questionnaire_rows
    due = due_among(rows)
    service = public_service(rows[0]) if rows else _service(request)
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
            "questionnaires": [_listed(adm) for adm in due],
            "minutes": _minutes(due),
        },
    )


def _load(request, pk: int):
    """The administration, its instrument (with the service's wording), its saved answers,
    and how many of the session's questionnaires are done, from the session's
    administrations as the session check read them (and one query for wording where the
    licence needs it). They are kept on it (`session_rows`), so what is left to answer is
    worked out from them rather than read again."""
    ids = request.questionnaire["administrations"]
    if pk not in ids:
        raise Http404
    rows = request.questionnaire_rows
    adm = next((row for row in rows if row.pk == pk), None)
    if adm is None:
        raise Http404
    adm.session_rows = rows
    adm.session_done = sum(row.status == Administration.Status.COMPLETED for row in rows)
    adm.session_total = len(ids)
    wordings = catalogue.wordings_for(adm.service_id, [adm.instrument_code])
    instrument = catalogue.instrument_for(adm.instrument_code, wordings.get(adm.instrument_code))
    answers = saved_answers(adm)
    placeholder = bool(
        wordings.get(adm.instrument_code) and wordings[adm.instrument_code].is_placeholder
    )
    return adm, instrument, answers, placeholder


def _answerable(adm) -> bool:
    return adm.status in services.ANSWERABLE and adm.closes_on >= timezone.localdate()


def _closed_page(request, adm):
    service = public_service(adm)
    if adm.status == Administration.Status.COMPLETED:
        return redirect("questionnaire:done", pk=adm.pk)
    return render(
        request,
        "questionnaire/closed.html",
        {"public_name": service.public_name, "phone": service.phone},
    )


def _unanswered(instrument, answers) -> list[tuple[int, object]]:
    """(page number, item) for every item with no answer yet; "I'd rather not answer" is an
    answer (stored as None)."""
    return [
        (index, item)
        for index, page in enumerate(instrument.pages(), start=1)
        for item in page
        if str(item.number) not in answers
    ]


def _continue_url(adm, answers: dict | None = None) -> str:
    """Where a questionnaire carries on: its first page with something unanswered, else its
    last page. Answers are read when not given and there is more than one page (one query):
    a one-page questionnaire carries on at its page whatever has been answered."""
    instrument = get_instrument(adm.instrument_code)
    if len(instrument.pages()) == 1:
        return reverse("questionnaire:page", args=[adm.pk, 1])
    if answers is None:
        answers = (
            Response.objects.filter(administration_id=adm.pk).values_list("answers", flat=True)
        ).first() or {}
    missing = _unanswered(instrument, answers)
    number = missing[0][0] if missing else len(instrument.pages())
    return reverse("questionnaire:page", args=[adm.pk, number])


@participant_page
@needs_participant_session
@require_GET
def resume(request, pk):
    adm, _instrument, answers, _ = _load(request, pk)
    if not _answerable(adm):
        return _closed_page(request, adm)
    return redirect(_continue_url(adm, answers))


def _submit_and_go_on(request, adm, answers: dict | None = None):
    """Send a questionnaire (with its last page's answers), then straight on to the next one
    due, or the thank-you page."""
    try:
        outcome = services.response_submit(administration_id=adm.pk, answers=answers)
    except services.AdministrationClosed:
        adm.refresh_from_db()
        return _closed_page(request, adm)
    # What is left: the session's administrations as this request read them, this one now
    # completed (the next page checks its own again before taking answers).
    adm.status = outcome.administration.status
    remaining = due_among(adm.session_rows)
    if remaining:
        return redirect(_continue_url(remaining[0]))
    return redirect("questionnaire:done", pk=adm.pk)


def _take_a_break(request, adm):
    """Answers are saved; the session ends (a shared phone shows nothing more) and the page
    says how to come back."""
    del request.session[SESSION_KEY]
    service = public_service(adm)
    return render(
        request,
        "questionnaire/break.html",
        {"public_name": service.public_name, "phone": service.phone, "closes_on": adm.closes_on},
    )


@participant_page
@needs_participant_session
@require_http_methods(["GET", "POST"])
def page(request, pk, number):
    adm, instrument, answers, placeholder = _load(request, pk)
    if not _answerable(adm):
        if request.POST.get(AUTOSAVE_FIELD):
            return HttpResponse(status=409)
        return _closed_page(request, adm)
    pages = instrument.pages()
    if not 1 <= number <= len(pages):
        raise Http404
    items = pages[number - 1]
    form = QuestionnairePageForm(
        request.POST if request.method == "POST" else None,
        instrument=instrument,
        items=items,
        answers=answers,
    )
    if request.method == "POST":
        valid = form.is_valid()
        given = form.answers()
        autosave = bool(request.POST.get(AUTOSAVE_FIELD))
        merged = {**answers, **{str(n): v for n, v in given.items()}}
        if (
            valid
            and not autosave
            and request.POST.get("action") != BREAK_ACTION
            and number == len(pages)
            and not _unanswered(instrument, merged)
        ):
            # The last page, nothing missing: saved and sent in one transaction.
            return _submit_and_go_on(request, adm, answers=given)
        if given:
            try:
                services.response_save(administration_id=adm.pk, answers=given)
            except services.AdministrationClosed:
                adm.refresh_from_db()
                if request.POST.get(AUTOSAVE_FIELD):
                    return HttpResponse(status=409)
                return _closed_page(request, adm)
            answers = merged
        if autosave:
            # The page's script saving as answers are chosen: nothing else happens.
            return HttpResponse(status=204)
        if request.POST.get("action") == BREAK_ACTION:
            return _take_a_break(request, adm)
        if valid:
            if number < len(pages):
                return redirect("questionnaire:page", pk=pk, number=number + 1)
            return redirect("questionnaire:check", pk=pk)
    questions = form.questions()
    previous = (
        reverse("questionnaire:page", args=[pk, number - 1])
        if number > 1
        else reverse("questionnaire:home")
    )
    service = public_service(adm)
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
            "last_page": number == len(pages),
            "show_instructions": number == 1 or bool(form.errors),
            "show_progress": number == 1 and adm.session_done > 0,
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
    missing = [
        {
            "number": item.number,
            "url": reverse("questionnaire:page", args=[pk, page_number]) + f"#item-{item.number}",
        }
        for page_number, item in _unanswered(instrument, answers)
    ]
    page_count = len(instrument.pages())
    return render(
        request,
        "questionnaire/check.html",
        {
            "public_name": public_service(adm).public_name,
            "administration": adm,
            "instrument": instrument,
            "missing": missing,
            "page_count": page_count,
            "previous_url": reverse("questionnaire:page", args=[pk, page_count]),
        },
    )


@participant_page
@needs_participant_session
@require_POST
def submit(request, pk):
    """ "Send as it is" from the check page: unanswered items count as missing."""
    adm, _, _, _ = _load(request, pk)
    if adm.status == Administration.Status.COMPLETED:
        return redirect("questionnaire:done", pk=pk)
    if request.POST.get("action") == BREAK_ACTION:
        return _take_a_break(request, adm)
    return _submit_and_go_on(request, adm)


@participant_page
@needs_participant_session
@require_GET
def done(request, pk):
    adm, _, _, _ = _load(request, pk)
    if adm.status != Administration.Status.COMPLETED:
        return redirect("questionnaire:resume", pk=pk)
    remaining = due_among(adm.session_rows)
    service = public_service(adm)
    return render(
        request,
        "questionnaire/done.html",
        {
            "public_name": service.public_name,
            "phone": service.phone,
            "remaining": len(remaining),
        },
    )
