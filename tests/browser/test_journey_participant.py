"""A participant's journey on a phone: the invitation the worker really sent, answering in
the browser, losing the connection part-way, finishing, and the crisis routes at the end.
Also: the same questionnaires answered with the keyboard alone, and read at 200% zoom."""

import datetime
import json
import re

import pytest
from django.core.cache import caches
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError

from measures import links
from measures.models import Administration, Response, Score
from programmes.services import cohort_create, enrolment_create
from reminders.models import Message, ReminderPolicy
from tests.browser.journey_support import LINK, wait_for, worker_log
from tests.factories import ParticipantFactory, ServiceFactory, default_programme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
# 360 CSS pixels at 200% zoom lay out like a 180-pixel-wide window.
PHONE_AT_200 = {
    "viewport": {"width": 180, "height": 370},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}

# Baseline, answerable online, in the order the participant is given them: CORE-10 (one
# page), DASS-21 (three pages of seven) and the occupation questions (one page).
CORE10 = {n: (0 if n == 6 else 1) for n in range(1, 11)}  # item 6 is the risk item
DASS21_PAGES = [
    {n: 1 for n in range(1, 8)},
    {n: 2 for n in range(8, 15)},
    {n: 0 for n in range(15, 22)},
]
OCCUPATION = {1: 2, 2: 0, 3: 0, 4: 1}  # part-time work, volunteering
# Worked by hand from the scoring rules (MEASURES.md):
# CORE-10: items 2 and 3 reversed (4 - 1 = 3 each): 7 x 1 + 2 x 3 + item 6 at 0 = 13.
# DASS-21, sum x 2: depression 3,5,10,13,16,17,21 = 1+1+2+2+0+0+0 = 6 -> 12;
# anxiety 2,4,7,9,15,19,20 = 1+1+1+2+0+0+0 = 5 -> 10; stress 1,6,8,11,12,14,18 = 10 -> 20.
EXPECTED_SCORES = {
    ("core10", "total"): 13,
    ("dass21", "depression"): 12,
    ("dass21", "anxiety"): 10,
    ("dass21", "stress"): 20,
    ("occupation", "employed"): 1,
    ("occupation", "education_or_training"): 0,
    ("occupation", "volunteering"): 1,
    ("occupation", "engaged"): 1,
}
CRISIS_ROUTES = ("999", "NHS 111 and choose option 2", "Samaritans", "116 123")


def enrolled_participant(*, quiet_all_day_but_a_second=False):
    """Someone in a group that began a week ago: the baseline questionnaires are open.

    Enrolling plans their messages at once, so a reminder policy must exist before it.
    """
    service = ServiceFactory(name="Riverside Team", public_name="Riverside Wellbeing Team")
    start = timezone.localdate() - datetime.timedelta(days=7)
    programme = default_programme()
    if quiet_all_day_but_a_second:
        # Quiet for one second a day, so the test does not depend on the hour it runs at.
        ReminderPolicy.objects.create(
            programme=programme,
            quiet_from=datetime.time(23, 59, 59),
            quiet_until=datetime.time(0, 0, 0),
        )
    cohort = cohort_create(
        service=service,
        programme=programme,
        name="Thursday group",
        start_date=start,
        weekday=start.weekday(),
        start_time=datetime.time(10, 0),
        venue="Room 2",
        capacity=10,
        facilitators=[],
    )
    participant = ParticipantFactory(
        service=service, mobile="+447700900123", preferred_channel="sms"
    )
    enrolment_create(cohort=cohort, participant=participant, enrolled_on=start)
    return participant, programme


def administrations(participant) -> dict[str, Administration]:
    return {
        adm.instrument_code: adm
        for adm in Administration.objects.filter(
            enrolment__participant=participant, timepoint__key="baseline"
        )
    }


def fits_without_sideways_scrolling(page) -> bool:
    # Against the window's own width: a mobile browser zooms out to fit wider content,
    # after which window.innerWidth grows with it and would hide the overflow.
    width = page.viewport_size["width"]
    return page.evaluate(
        "(width) => document.documentElement.scrollWidth <= width && window.innerWidth <= width",
        width,
    )


def wider_than_the_window(page) -> list[str]:
    """The elements that stick out to the right, and the widths, for the failure message."""
    return page.evaluate(
        """(width) => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 1)
            .slice(0, 8)
            .map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className + ' '
                 + Math.round(e.getBoundingClientRect().right))
            .concat([`scrollWidth ${document.documentElement.scrollWidth}`,
                     `innerWidth ${window.innerWidth}`])""",
        page.viewport_size["width"],
    )


def tap_answers(page, answers: dict[int, int]) -> None:
    for item, value in answers.items():
        page.locator(f"label[for='item-{item}-{value}']").tap()


def assert_scores(participant) -> None:
    adms = administrations(participant)
    for code in ("core10", "dass21", "occupation"):
        assert adms[code].status == Administration.Status.COMPLETED, code
        assert adms[code].source == Administration.Source.ONLINE, code
    stored = {
        (score.administration.instrument_code, score.scale): score.value
        for score in Score.objects.filter(
            administration__in=[adms[c] for c in ("core10", "dass21", "occupation")]
        ).select_related("administration")
    }
    assert stored == EXPECTED_SCORES


def test_participant_answers_on_a_phone_from_the_text_the_worker_sent_and_survives_going_offline(
    live_server, new_page, journey, real_worker
):
    participant, _ = enrolled_participant(quiet_all_day_but_a_second=True)

    trip = journey("participant")
    # What the beat schedule does every minute: the worker opens windows, plans the
    # messages, claims what is due and sends it.
    from reminders.tasks import dispatch_due

    dispatch_due.delay()
    sent = wait_for(
        lambda: Message.objects.filter(
            participant=participant, kind="invitation", status="sent"
        ).first(),
        timeout=60,
    )
    assert sent is not None, f"the worker sent no invitation:\n{worker_log(real_worker)}"
    assert sent.channel == "sms"
    text = json.loads((real_worker.tmp / "outbox" / "sms" / f"{sent.reference}.json").read_text())
    assert text["to"] == "+447700900123"
    link = LINK.search(text["body"]).group(0)
    assert link.startswith(live_server.url + "/q/")

    page = new_page(**PHONE)
    context = page.context

    def step(name):
        trip.step(page, name)
        assert fits_without_sideways_scrolling(page), (
            f"{name} scrolls sideways at 360 px: {wider_than_the_window(page)}"
        )

    page.goto(link)
    step("landing")
    page.locator("#start-button").tap()
    page.wait_for_url(re.compile(r"/q/$"))
    step("questionnaires")
    assert page.locator("#questionnaire-list li").count() == 3

    # Questionnaire 1, CORE-10: one page.
    page.locator("#open-1").tap()
    step("core10-page-1")
    tap_answers(page, CORE10)
    page.locator("#next-button").tap()
    page.wait_for_url(re.compile(r"/check/$"))
    step("core10-check")
    page.locator("#submit-button").tap()
    page.wait_for_url(re.compile(r"/done/$"))
    step("core10-done")

    # Questionnaire 2, DASS-21: the first page of three.
    page.locator("#next-questionnaire").tap()
    page.locator("#open-1").tap()  # the list now starts at the unanswered ones
    page.wait_for_url(re.compile(r"/page/1/$"))
    step("dass21-page-1")
    assert page.locator("#progress-label").inner_text() == "Page 1 of 3"
    tap_answers(page, DASS21_PAGES[0])
    page.locator("#next-button").tap()
    page.wait_for_url(re.compile(r"/page/2/$"))
    step("dass21-page-2")
    dass21 = administrations(participant)["dass21"]
    saved_before = dict(Response.objects.get(administration=dass21).answers)
    assert saved_before == {str(n): v for n, v in DASS21_PAGES[0].items()}

    # The connection drops while page 2 is being answered: the save fails, visibly, and
    # nothing half-sent reaches the server.
    tap_answers(page, DASS21_PAGES[1])
    context.set_offline(True)
    with (
        pytest.raises(PlaywrightError, match="ERR_INTERNET_DISCONNECTED"),
        page.expect_navigation(),
    ):
        page.locator("#next-button").tap()
    page.wait_for_load_state()
    trip.step(page, "offline-save-failed", accessible=False)
    # Chromium's own "No internet" page, not a page that looks as if the answers went.
    assert "ERR_INTERNET_DISCONNECTED" in page.content()
    assert page.locator("#next-button").count() == 0
    assert not page.evaluate("navigator.onLine")
    assert dict(Response.objects.get(administration=dass21).answers) == saved_before

    # Back online, the participant opens the same link again, as the first page told them
    # they could, and carries on where the saved answers end: page 2.
    context.set_offline(False)
    page.goto(link)
    page.locator("#start-button").tap()
    page.wait_for_url(re.compile(r"/q/$"))
    assert page.locator("#questionnaire-list").inner_text().count("Started") == 1
    step("questionnaires-again")
    page.locator("#open-1").tap()
    page.wait_for_url(re.compile(r"/page/2/$"))
    step("dass21-page-2-again")
    tap_answers(page, DASS21_PAGES[1])
    page.locator("#next-button").tap()
    page.wait_for_url(re.compile(r"/page/3/$"))
    step("dass21-page-3")
    tap_answers(page, DASS21_PAGES[2])
    page.locator("#next-button").tap()
    page.locator("#submit-button").tap()
    page.wait_for_url(re.compile(r"/done/$"))

    # Questionnaire 3, occupation: one page, then the end.
    page.locator("#next-questionnaire").tap()
    page.locator("#open-1").tap()
    step("occupation-page-1")
    tap_answers(page, OCCUPATION)
    page.locator("#next-button").tap()
    page.locator("#submit-button").tap()
    page.wait_for_url(re.compile(r"/done/$"))
    step("all-done")
    assert page.locator("#thanks").is_visible()
    routes = page.locator("#crisis-routes")
    assert routes.is_visible()
    for route in CRISIS_ROUTES:
        assert route in routes.inner_text()
    assert page.locator("#crisis-routes a[href='tel:999']").is_visible()
    assert page.locator("#crisis-routes a[href='tel:111']").is_visible()
    assert page.locator("#crisis-routes a[href='tel:116123']").is_visible()

    assert_scores(participant)
    trip.finish()


def focused(page) -> dict:
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return {id: e.id, type: e.type || '', name: e.name || ''}; }"
    )


def tab_to(page, element_id: str, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page)["id"] == element_id:
            return
    raise AssertionError(f"#{element_id} cannot be reached with the Tab key on {page.url}")


def enter_and_wait(page) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")


def answer_with_keyboard(page, arrows: dict[int, int] | None = None) -> int:
    """Tab into each question, Space to choose its first answer (and arrow keys to move to
    another), then Enter on "Save and continue". Returns how many questions were answered."""
    arrows = arrows or {}
    answered = set()
    for _ in range(200):
        page.keyboard.press("Tab")
        now = focused(page)
        if now["type"] == "radio" and now["name"] not in answered:
            page.keyboard.press("Space")
            for _ in range(arrows.get(int(now["name"].removeprefix("item_")), 0)):
                page.keyboard.press("ArrowDown")
            answered.add(now["name"])
        elif now["id"] == "next-button":
            enter_and_wait(page)
            return len(answered)
    raise AssertionError(f"never reached the Save and continue button on {page.url}")


def test_participant_completes_every_questionnaire_with_the_keyboard_alone(
    live_server, new_page, journey
):
    caches["ratelimit"].clear()  # the link pages' rate limit counts by address
    participant, _ = enrolled_participant()
    token = links.link_issue(
        participant=participant, expires_at=timezone.now() + datetime.timedelta(days=2)
    )
    trip = journey("participant-keyboard")
    page = new_page(**PHONE)
    page.goto(f"{live_server.url}/q/{token}")
    tab_to(page, "start-button")
    enter_and_wait(page)
    # CORE-10 (question 1 moved one answer down with the arrow key), DASS-21 over three
    # pages, then the occupation questions: everything else is the first answer.
    for pages, questions, arrows in ((1, 10, {1: 1}), (3, 21, {}), (1, 4, {})):
        tab_to(page, "open-1")
        enter_and_wait(page)
        answered = 0
        for _ in range(pages):
            trip.step(page, f"page-{page.url.rstrip('/').split('/')[-1]}")
            answered += answer_with_keyboard(page, arrows)
        assert answered == questions
        assert page.url.endswith("/check/")
        tab_to(page, "submit-button")
        enter_and_wait(page)
        assert page.url.endswith("/done/")
        if pages == 1 and questions == 4:
            break
        tab_to(page, "next-questionnaire")
        enter_and_wait(page)
    trip.step(page, "all-done")
    assert page.locator("#crisis-routes").is_visible()

    adms = administrations(participant)
    assert {adms[c].status for c in ("core10", "dass21", "occupation")} == {"completed"}
    stored = {
        (score.administration.instrument_code, score.scale): score.value
        for score in Score.objects.filter(administration__in=adms.values())
    }
    # By hand: CORE-10 items 2 and 3 reversed (4 - 0 = 4 each) plus item 1 at 1 = 9;
    # every DASS-21 answer 0; "Not in paid work" and "No" throughout.
    assert stored == {
        ("core10", "total"): 9,
        ("dass21", "depression"): 0,
        ("dass21", "anxiety"): 0,
        ("dass21", "stress"): 0,
        ("occupation", "employed"): 0,
        ("occupation", "education_or_training"): 0,
        ("occupation", "volunteering"): 0,
        ("occupation", "engaged"): 0,
    }
    trip.finish()


def test_participant_pages_read_at_200_percent_zoom_without_sideways_scrolling(
    live_server, new_page, journey
):
    caches["ratelimit"].clear()  # the link pages' rate limit counts by address
    participant, _ = enrolled_participant()
    token = links.link_issue(
        participant=participant, expires_at=timezone.now() + datetime.timedelta(days=2)
    )
    trip = journey("participant-zoom-200")
    page = new_page(**PHONE_AT_200)

    def step(name):
        trip.step(page, name)
        assert fits_without_sideways_scrolling(page), (
            f"{name} scrolls sideways at 200% zoom: {wider_than_the_window(page)}"
        )

    page.goto(f"{live_server.url}/q/not-a-real-link")
    assert page.evaluate("window.innerWidth") == 180  # the pages' viewport meta holds
    step("unavailable")
    page.goto(f"{live_server.url}/q/{token}")
    step("landing")
    page.locator("#start-button").tap()
    step("questionnaires")
    page.locator("#open-1").tap()
    step("core10")
    page.locator("#next-button").tap()  # nothing answered
    step("core10-errors")
    assert page.locator("#error-summary").is_visible()
    tap_answers(page, CORE10)
    page.locator("#next-button").tap()
    step("check")
    page.locator("#submit-button").tap()
    step("done")
    page.locator("#next-questionnaire").tap()
    page.locator("#open-1").tap()
    step("dass21")
    assert administrations(participant)["core10"].status == Administration.Status.COMPLETED
    trip.finish()
