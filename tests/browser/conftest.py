"""Browser tests: Playwright (from PyPI) driving Debian's Chromium against live_server.

Playwright cannot download its own browser here, so it is pointed at /usr/bin/chromium.
Screenshots of each step go to test-artifacts/screenshots (printed at the end of the run).
"""

import json
import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are still ordinary synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed; .ci/run installs it with apt-get.")
        pytest.skip("Chromium is not installed here (apt-get install chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    contexts = []

    def _new_page(**context_options):
        context = browser.new_context(**context_options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield _new_page
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot(request):
    """screenshot(page, "step-name") saves a PNG under test-artifacts/screenshots/<test>/."""
    folder = ARTIFACTS / request.node.name
    # A fresh folder per run, so the numbered steps are this run's only.
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    counter = {"n": 0}

    def _shot(page, step: str):
        counter["n"] += 1
        path = str(folder / f"{counter['n']:02d}-{step}.png")
        # On a loaded CI machine Chromium can wait a long time for fonts before a full-page
        # capture; the screenshot is evidence, not the behaviour under test, so fall back to
        # the visible area rather than fail the journey.
        try:
            page.screenshot(path=path, full_page=True, timeout=45_000)
        except PlaywrightTimeoutError:
            page.screenshot(path=path, timeout=45_000)

    return _shot


def pytest_sessionstart(session):
    from tests.browser.axe import REPORT

    # Only the accessibility lines this run appends are summarised at the end.
    session.config._axe_report_start = REPORT.stat().st_size if REPORT.exists() else 0


def pytest_terminal_summary(terminalreporter):
    if ARTIFACTS.exists() and any(ARTIFACTS.iterdir()):
        terminalreporter.write_line(f"Browser screenshots: {ARTIFACTS}")
    from tests.browser.axe import REPORT

    start = getattr(terminalreporter.config, "_axe_report_start", None)
    if start is None or not REPORT.exists():
        return
    with REPORT.open() as report:
        report.seek(start)
        checks = [json.loads(line) for line in report if line.strip()]
    if checks:
        terminalreporter.write_line(
            f"Accessibility (axe-core, WCAG 2.2 A/AA): {len(checks)} page checks, "
            f"{len({c['url'] for c in checks})} distinct addresses, "
            f"{max(c['rules_run'] for c in checks)} rules run per page at most, "
            f"{sum(c['violations'] for c in checks)} violations"
        )


# The journeys' fixtures (step recording and timing, the real worker), for every test here.
from tests.browser.journey_support import journey, real_worker  # noqa: E402, F401
