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

# Baseline, answerable online, in the order the participant is given them: CORE-10,
# DASS-21 and the occupation questions, one page each.
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


def tap_answers(page, answers: dict) -> None:
    for item, value in answers.items():
        page.locator(f"label[for='item-{item}-{value}']").tap()


def saved_answers(adm) -> dict:
    response = Response.objects.filter(administration=adm).first()
    return dict(response.answers) if response else {}


def wait_until_saved(adm, expected: dict) -> dict:
    """The page's script saves as answers are chosen; wait for the server to have them."""
    want = {str(n): v for n, v in expected.items()}
    got = wait_for(
        lambda: (lambda now: now if all(now.get(k, "?") == v for k, v in want.items()) else None)(
            saved_answers(adm)
        ),
        timeout=10,
    )
    assert got is not None, f"not saved as chosen: {saved_answers(adm)} lacks {want}"
    return got


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
    # The same estimate as the start page: CORE-10 2, DASS-21 4, occupation 1.
    assert "It takes about 7 minutes" in text["body"]
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
    assert "about 7 minutes in all" in page.locator("main").inner_text()
    # Start goes straight to the first questionnaire: no list, no redirect through one.
    page.locator("#start-button").tap()
    page.wait_for_url(re.compile(r"/page/1/$"))
    step("core10")
    assert page.locator("h1").inner_text() == "How you have been feeling"
    assert page.locator("#sensitive-warning").is_visible()
    tap_answers(page, CORE10)
    page.locator("#next-button").tap()  # nothing missing: sent, and on to the next
    page.wait_for_url(re.compile(r"/page/1/$"))
    page.locator("#done-so-far").wait_for()
    step("dass21")
    assert page.locator("#done-so-far").inner_text().startswith("1 of 3 done. Next: Stress")
    assert administrations(participant)["core10"].status == Administration.Status.COMPLETED
    # DASS-21's instructions ask for a number, so the answers show theirs.
    assert page.locator("label[for='item-1-0']").inner_text().startswith("0 – ")

    # The first seven answers are saved as they are chosen. Then the connection drops:
    # the next seven cannot be saved, and the Save button fails visibly.
    dass21 = administrations(participant)["dass21"]
    tap_answers(page, DASS21_PAGES[0])
    saved_before = wait_until_saved(dass21, DASS21_PAGES[0])
    context.set_offline(True)
    tap_answers(page, DASS21_PAGES[1])
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
    # What was saved as it was chosen is still there (the page's script may yet send the
    # rest when the page is hidden; nothing is ever taken away).
    assert saved_before.items() <= saved_answers(dass21).items()

    # Back online, the participant opens the same link again, as the first page told them
    # they could, and is back on DASS-21 with the saved answers shown.
    context.set_offline(False)
    page.goto(link)
    page.locator("#start-button").tap()
    page.wait_for_url(re.compile(rf"/a/{dass21.pk}/page/1/$"))
    step("dass21-again")
    assert page.locator("#item-7-1").is_checked()
    tap_answers(page, DASS21_PAGES[1] | DASS21_PAGES[2])
    page.locator("#next-button").tap()
    page.wait_for_url(re.compile(r"/page/1/$"))
    page.locator("#done-so-far").wait_for()

    # The occupation questions, then the end.
    step("occupation")
    tap_answers(page, OCCUPATION)
    page.locator("#next-button").tap()
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


def test_participant_skips_an_item_closes_the_tab_unsaved_and_a_revoked_link_ends_the_session(
    live_server, new_page, journey
):
    from measures.models import RiskAlert

    caches["ratelimit"].clear()
    participant, _ = enrolled_participant()
    token = links.link_issue(
        participant=participant, expires_at=timezone.now() + datetime.timedelta(days=2)
    )
    trip = journey("participant-skip-keep-revoke")
    page = new_page(**PHONE)
    context = page.context
    page.goto(f"{live_server.url}/q/{token}")
    page.locator("#start-button").tap()
    page.wait_for_url(re.compile(r"/page/1/$"))
    core10 = administrations(participant)["core10"]

    # The calm warning sits just before the risk item, and says it can be skipped.
    warning = page.locator("#sensitive-warning")
    assert "You can skip it" in warning.inner_text()
    assert warning.bounding_box()["y"] < page.locator("#item-6").bounding_box()["y"]
    assert warning.bounding_box()["y"] > page.locator("#item-5").bounding_box()["y"]
    trip.step(page, "core10-warning")

    # Item 6 skipped ("I'd rather not answer"), item 7 chosen and the tab closed at once,
    # before anything is pressed: both are on the server when the link is opened again.
    answers = {n: 1 for n in range(1, 11) if n not in (6, 7)}
    tap_answers(page, answers)
    page.locator("label[for='item-6-skip']").tap()
    wait_until_saved(core10, answers | {6: None})
    page.locator("label[for='item-7-2']").tap()
    page.close()
    wait_until_saved(core10, {7: 2})

    page = context.new_page()
    page.goto(f"{live_server.url}/q/{token}")
    page.locator("#start-button").tap()
    page.wait_for_url(re.compile(rf"/a/{core10.pk}/page/1/$"))
    trip.step(page, "core10-reopened")
    assert page.locator("#item-7-2").is_checked()
    assert page.locator("#item-6-skip").is_checked()
    # A skipped item is an answer: saving sends it (no check page), and the skipped risk
    # item raises the review alert MEASURES.md asks for.
    page.locator("#next-button").tap()
    page.wait_for_url(re.compile(r"/page/1/$"))
    page.locator("#done-so-far").wait_for()
    core10.refresh_from_db()
    assert core10.status == Administration.Status.COMPLETED
    alert = RiskAlert.objects.get(administration=core10)
    assert (alert.item, alert.severity) == (6, "review")

    # DASS-21 with one question left unanswered: the check page names it.
    dass21 = administrations(participant)["dass21"]
    tap_answers(page, {n: 0 for n in range(1, 21)})
    page.locator("#next-button").tap()
    page.wait_for_url(re.compile(r"/check/$"))
    trip.step(page, "dass21-check")
    assert page.locator("#missing-list").inner_text() == "Question 21"
    page.locator("#missing-link").tap()
    page.wait_for_url(re.compile(r"/page/1/"))
    page.locator("label[for='item-21-1']").tap()
    wait_until_saved(dass21, {21: 1})

    # Staff revoke the link while the page is open: the next save is refused and the page
    # asks for the link again; the revoked link itself opens nothing.
    links.links_revoke_for_participant(participant=participant)
    page.locator("#next-button").tap()
    page.wait_for_load_state()
    trip.step(page, "revoked")
    assert "Please open your link again" in page.locator("main").inner_text()
    dass21.refresh_from_db()
    assert dass21.status == Administration.Status.IN_PROGRESS
    page.goto(f"{live_server.url}/q/{token}")
    assert "This link is not available" in page.locator("main").inner_text()
    trip.finish()


def test_take_a_break_saves_and_says_how_to_come_back(live_server, new_page, journey):
    caches["ratelimit"].clear()
    participant, _ = enrolled_participant()
    token = links.link_issue(
        participant=participant, expires_at=timezone.now() + datetime.timedelta(days=2)
    )
    trip = journey("participant-break")
    page = new_page(**PHONE)
    page.goto(f"{live_server.url}/q/{token}")
    page.locator("#start-button").tap()
    page.wait_for_url(re.compile(r"/page/1/$"))
    core10 = administrations(participant)["core10"]
    page.locator("label[for='item-1-3']").tap()
    page.locator("#break-button").tap()
    page.locator("#break-title").wait_for()
    trip.step(page, "break")
    assert "open the link in your text or email again" in page.locator("main").inner_text()
    assert saved_answers(core10) == {"1": 3}
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
    # CORE-10 (question 1 moved one answer down with the arrow key), DASS-21, then the
    # occupation questions, one page each: everything else is the first answer. Each
    # page's Save sends it and goes straight on.
    for questions, arrows in ((10, {1: 1}), (21, {}), (4, {})):
        trip.step(page, f"page-{questions}")
        assert answer_with_keyboard(page, arrows) == questions
    assert page.url.endswith("/done/")
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
    page.wait_for_url(re.compile(r"/page/1/$"))
    step("core10")
    page.locator("#next-button").tap()  # nothing answered
    page.wait_for_url(re.compile(r"/check/$"))
    step("core10-check")
    page.locator("#missing-link").tap()
    page.wait_for_url(re.compile(r"/page/1/"))
    tap_answers(page, CORE10)
    page.locator("#next-button").tap()
    page.locator("#done-so-far").wait_for()
    step("dass21")
    assert administrations(participant)["core10"].status == Administration.Status.COMPLETED
    page.goto(f"{live_server.url}/q/")
    step("questionnaires")
    trip.finish()
