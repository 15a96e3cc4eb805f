"""gunicorn.conf.py: a participant's link never reaches the web server's access log.

Starts gunicorn with the repository's configuration on 127.0.0.1 (a port of its own
choosing), against the test database, follows a live participant link and a search for a
name, and reads what gunicorn wrote.
"""

import datetime as dt
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from measures import links
from tests.factories import ParticipantFactory

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    """The test database, for the gunicorn process."""
    s = connection.settings_dict
    auth = quote(s["USER"]) + (f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def gunicorn(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "SAFEGROUND_DATA_DIR": str(tmp_path / "data"),
        "SAFEGROUND_BIND": "127.0.0.1:0",
    }
    if connection.vendor != "postgresql":
        pytest.skip("gunicorn shares the test database only on PostgreSQL: set DATABASE_URL")
    env["DATABASE_URL"] = _database_url()
    access_log = tmp_path / "access.log"
    error_log = tmp_path / "error.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "1",
            "--access-logfile",
            str(access_log),
            "--error-logfile",
            str(error_log),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        address = None
        while address is None and time.monotonic() < deadline:
            assert process.poll() is None, error_log.read_text() if error_log.exists() else ""
            text = error_log.read_text() if error_log.exists() else ""
            found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", text)
            if found and "Booting worker" in text:
                address = found[1]
            else:
                time.sleep(0.2)
        assert address, "gunicorn did not start"
        yield address, access_log, error_log
    finally:
        process.terminate()
        process.wait(timeout=30)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _get(url: str) -> int:
    """One request, one access-log line: redirects are not followed."""
    try:
        with urllib.request.build_opener(_NoRedirects).open(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


# Committed rows, so the gunicorn process sees them; serialized like the other transactional
# tests, so the tables are left as the next one expects.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_access_log_never_holds_a_participant_token_or_a_query(gunicorn):
    address, access_log, error_log = gunicorn
    participant = ParticipantFactory()
    token = links.link_issue(
        participant=participant, expires_at=timezone.now() + dt.timedelta(days=7)
    )
    short = "abc123"  # a cut-off link is still somebody's link
    search = participant.family_name
    statuses = [
        _get(f"{address}/q/{token}"),
        _get(f"{address}/q/{short}"),
        _get(f"{address}/participants/?q={search}"),
        _get(f"{address}/q/start/"),
    ]
    # A live link with nothing due answers "nothing to fill in" (404): served, not failed.
    assert statuses[:2] == [404, 404]
    deadline = time.monotonic() + 10
    while access_log.read_text().count("\n") < len(statuses) and time.monotonic() < deadline:
        time.sleep(0.1)
    written = access_log.read_text()
    lines = written.splitlines()
    assert len(lines) == len(statuses)
    assert '"GET /q/[token] HTTP/1.1" 404' in lines[0]
    assert '"GET /q/[token] HTTP/1.1"' in lines[1]
    assert '"GET /participants/ HTTP/1.1" 302' in lines[2]
    assert '"GET /q/start/ HTTP/1.1" 405' in lines[3]
    everything = written + error_log.read_text()
    assert token not in everything
    assert short not in everything
    assert search not in everything


def test_a_format_asking_for_the_whole_request_line_is_cleaned_too():
    """An operator's own access_log_format (%(r)s, the referrer) still gets no token."""
    namespace = {"__file__": str(ROOT / "gunicorn.conf.py")}
    exec(compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)  # noqa: S102
    token = "x" * 43
    cleaned = namespace["clean"](f"GET /q/{token}?q=Canaryzzyzx HTTP/1.1")
    assert cleaned == "GET /q/[token]?[query] HTTP/1.1"
    assert namespace["clean"]("https://safeground.example/q/start/") == (
        "https://safeground.example/q/start/"
    )
