"""The dashboards in real Chromium: charts draw under the strict CSP and pages pass WCAG 2.2 AA."""

import datetime

import pytest
from django.urls import reverse

from dashboards import warm
from dashboards.cache import cache
from tests.browser.axe import assert_accessible
from tests.conftest import sign_in
from tests.dashboards.builders import make_cohort, populate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _empty_cache():
    # The service's figures are cached by service id, and ids repeat between tests.
    cache.clear()
    yield
    cache.clear()


def _signed_in_page(new_page, live_server, client, user):
    sign_in(client, user)
    page = new_page()
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    errors = []
    # Script errors and CSP refusals; a missing resource is caught by its response instead,
    # leaving out the browser's own favicon request.
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    return page, errors


def test_dashboards_draw_charts_and_are_accessible(
    service, clinician, manager, live_server, new_page, screenshot, client
):
    # One test for both personas: a transactional test empties the database afterwards,
    # default programmes included.
    cohort = make_cohort(service, sessions=12, start=datetime.date(2024, 1, 8))
    populate(cohort, 6)
    for who, user in (("clinician", clinician), ("manager", manager)):
        _check_pages(who, user, cohort, service, live_server, new_page, screenshot, client)


def _check_pages(who, user, cohort, service, live_server, new_page, screenshot, client):
    page, errors = _signed_in_page(new_page, live_server, client, user)
    for name, url in (
        ("cohort", reverse("dashboards:cohort", args=[cohort.pk])),
        ("service", reverse("dashboards:service", args=[service.pk])),
    ):
        page.goto(live_server.url + url)
        page.wait_for_load_state("networkidle")
        screenshot(page, f"{who}-{name}")
        drawn = page.evaluate(
            "() => [...document.querySelectorAll('canvas')].filter(c => Chart.getChart(c)).length"
        )
        assert drawn == page.locator("canvas").count() > 0
        assert page.locator("table caption").count() >= page.locator("canvas").count()
        assert errors == []
        # The sections added for the corrected figures: the headline summary (each link
        # reaching its section) and which SD each measure's reliable change index uses.
        assert page.locator("#summary table tbody tr").count() >= 5
        for href in page.locator("#summary a").evaluate_all("l => l.map(a => a.hash)"):
            assert page.locator(href).count() == 1
        assert page.locator("#rci-basis table tbody tr").count() >= 1
        assert_accessible(page)


def test_every_timepoint_sections_are_accessible_with_their_numbers_in_tables(
    service, clinician, manager, live_server, new_page, screenshot, client
):
    """The mixed model, completers and LOCF, on the cohort page and per arm on the service
    page: tables of numbers with captions and column groups, and WCAG 2.2 AA within them."""
    full = make_cohort(service, key="cfgp-52", sessions=12, start=datetime.date(2024, 1, 8))
    usual = make_cohort(service, key="peg-usual-care", sessions=12, start=datetime.date(2024, 1, 8))
    populate(full, 6)
    populate(usual, 3, seed=2)  # an arm whose counts are all suppressed
    warm.refresh_stale()  # the models are fitted in the background, as beat does every minute
    for who, user, name, url, arms in (
        ("clinician", clinician, "cohort", reverse("dashboards:cohort", args=[full.pk]), 0),
        ("manager", manager, "service", reverse("dashboards:service", args=[service.pk]), 2),
    ):
        page, errors = _signed_in_page(new_page, live_server, client, user)
        page.goto(live_server.url + url)
        page.wait_for_load_state("networkidle")
        section = page.locator("#every-timepoint")
        section.scroll_into_view_if_needed()
        screenshot(page, f"{who}-{name}-every-timepoint")
        assert errors == []
        assert section.locator("h3" if arms else "h3 + div table").count() >= max(arms, 1)
        tables = section.locator("table")
        assert tables.count() >= 1
        assert tables.count() == section.locator("table caption").count()
        assert section.locator("canvas").count() == 0  # numbers only, no chart without them
        header = section.locator("table").first.locator("thead th[scope=colgroup]")
        assert header.all_inner_texts() == [
            "Mixed model (everyone's scores)",
            "Completers",
            "Last observation carried forward",
        ]
        assert "missing at random" in section.inner_text()
        assert_accessible(page, include="#every-timepoint")
        assert_accessible(page)
