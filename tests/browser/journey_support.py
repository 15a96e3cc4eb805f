"""Shared pieces for the end-to-end journeys: step recording, timing, and the real worker.

Each journey calls `journey.step(page, "name")` after every action a person takes: the step
is photographed, and the page is checked with axe-core. The journey's wall-clock time goes
to test-artifacts/journeys.jsonl when it finishes, so the figures can be quoted.
"""

import json
import os
import re
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from tests.browser.axe import assert_accessible

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"  # where conftest's screenshot fixture writes
JOURNEYS = ARTIFACTS / "journeys.jsonl"
# The worker's link in the text message: the landing address, token included.
LINK = re.compile(r"https?://\S+/q/[A-Za-z0-9_\-]+")


class Journey:
    def __init__(self, name: str, folder: Path, screenshot):
        self.name = name
        self.folder = folder
        self.screenshot = screenshot
        self.started = time.perf_counter()
        self.pages_checked: list[str] = []

    def step(self, page, name: str, *, accessible: bool = True) -> None:
        self.screenshot(page, name)
        if accessible:
            assert_accessible(page)
            self.pages_checked.append(page.url.split("?")[0])

    def finish(self, **extra) -> float:
        seconds = round(time.perf_counter() - self.started, 2)
        JOURNEYS.parent.mkdir(parents=True, exist_ok=True)
        with JOURNEYS.open("a") as out:
            out.write(
                json.dumps(
                    {
                        "journey": self.name,
                        "seconds": seconds,
                        "screenshots_dir": str(self.folder),
                        "pages_checked": len(self.pages_checked),
                        "at": timezone.now().isoformat(timespec="seconds"),
                        **extra,
                    }
                )
                + "\n"
            )
        return seconds


@pytest.fixture
def journey(request, screenshot):
    """journey("clinician") starts the clock; .step() after each action; .finish() at the end."""

    def _start(name: str) -> Journey:
        return Journey(name, SCREENSHOTS / request.node.name, screenshot)

    return _start


def worker_requirements() -> str:
    """Why the real worker cannot run here, or "" when it can."""
    if not settings.REDIS_URL:
        return "needs a real Redis for the worker: set REDIS_URL (CI does)"
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        return "needs PostgreSQL shared with the worker process: set DATABASE_URL (CI does)"
    return ""


@pytest.fixture
def real_worker(tmp_path, live_server):
    """A Celery worker process on the test database and REDIS_URL, writing texts to files.

    Uses the reminders tests' Stack (the same environment and process handling). The worker
    builds links on the live server's address and its text-message backend is the file
    outbox the service uses when no provider is configured, under tmp_path.
    Skips without Redis and PostgreSQL, except in CI, where it fails.
    """
    reason = worker_requirements()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"The participant journey must run in CI: {reason}")
        pytest.skip(reason)
    from tests.reminders.test_worker import Stack, _flush

    _flush(settings.REDIS_URL)
    stack = Stack(
        tmp_path,
        settings.REDIS_URL,
        SITE_URL=live_server.url,
        SMS_BACKEND="reminders.channels.sms.FileSmsBackend",
    )
    stack.start_worker()
    try:
        yield stack
    finally:
        stack.stop_all()
        _flush(settings.REDIS_URL)


def worker_log(stack) -> str:
    return "\n".join(p.read_text() for p in sorted(stack.tmp.glob("worker-*.log")))


def wait_for(condition, *, timeout: float, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()
