"""A stand-in for GOV.UK Notify (texts) and a mail relay (e-mails), for the burst benchmark.

    python bench/fake_provider.py PORT

Every call takes LATENCY seconds and the provider takes at most CAP calls in any one-second
window across both channels (a call past the cap gets Notify's 429 answer, as Notify does
past its limit). It records every accepted reference, so a text or e-mail sent twice shows
as a duplicate. Texts come through the real NotifySmsBackend (NOTIFY_BASE_URL pointed here),
look-ups through its GET by reference, and e-mails through `EmailBackend` below, which
opens one connection for each mail session (one per batch) and counts them.

GET /fake/stats answers with the counts as JSON.
"""

import collections
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LATENCY = 0.05
CAP = 50


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = collections.deque()
        self.accepted: collections.Counter = collections.Counter()
        self.ids: dict[str, str] = {}
        self.rejected = 0
        self.lookups = 0
        self.found = 0
        self.sessions = 0
        self.peak_in_window = 0

    def admit(self) -> bool:
        with self.lock:
            now = time.monotonic()
            while self.calls and self.calls[0] <= now - 1.0:
                self.calls.popleft()
            if len(self.calls) >= CAP:
                self.rejected += 1
                return False
            self.calls.append(now)
            self.peak_in_window = max(self.peak_in_window, len(self.calls))
            return True


STATE = State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _limited(self) -> bool:
        if STATE.admit():
            time.sleep(LATENCY)
            return False
        self._answer(
            429,
            {
                "status_code": 429,
                "errors": [{"error": "RateLimitError", "message": "Exceeded rate limit"}],
            },
        )
        return True

    def do_GET(self):
        if self.path.startswith("/fake/stats"):
            with STATE.lock:
                duplicates = sum(n - 1 for n in STATE.accepted.values() if n > 1)
                self._answer(
                    200,
                    {
                        "accepted": sum(STATE.accepted.values()),
                        "references": len(STATE.accepted),
                        "duplicates": duplicates,
                        "rejected": STATE.rejected,
                        "lookups": STATE.lookups,
                        "found": STATE.found,
                        "sessions": STATE.sessions,
                        "peak_in_one_second": STATE.peak_in_window,
                        "reference_list": list(STATE.accepted),
                    },
                )
            return
        if self._limited():
            return
        from urllib.parse import parse_qs, urlparse

        reference = parse_qs(urlparse(self.path).query).get("reference", [""])[0]
        with STATE.lock:
            STATE.lookups += 1
            known = STATE.ids.get(reference)
            STATE.found += bool(known)
        notifications = (
            [{"id": known, "reference": reference, "status": "delivered", "type": "sms"}]
            if known
            else []
        )
        self._answer(200, {"notifications": notifications, "links": {}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        if self.path.startswith("/fake/session"):
            with STATE.lock:
                STATE.sessions += 1
            self._answer(200, {})
            return
        if self._limited():
            return
        reference = payload.get("reference", "")
        notification_id = str(uuid.uuid4())
        with STATE.lock:
            STATE.accepted[reference] += 1
            STATE.ids.setdefault(reference, notification_id)
        self._answer(201, {"id": notification_id, "reference": reference})


class EmailBackend:
    """A Django mail backend that hands each e-mail to the fake provider over one HTTP
    connection per session, as the SMTP backend holds one SMTP connection."""

    def __init__(self, fail_silently=False, **kwargs):
        import os

        self.base = os.environ["FAKE_PROVIDER_URL"]
        self.connection = None

    def open(self):
        import http.client
        from urllib.parse import urlparse

        if self.connection is None:
            url = urlparse(self.base)
            self.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=20)
            self._post("/fake/session", {})
            return True
        return False

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    def _post(self, path: str, body: dict) -> int:
        data = json.dumps(body).encode()
        self.connection.request(
            "POST", path, body=data, headers={"Content-Type": "application/json"}
        )
        response = self.connection.getresponse()
        response.read()
        return response.status

    def send_messages(self, messages) -> int:
        import smtplib

        opened = self.open()
        try:
            for message in messages:
                reference = message.extra_headers["Message-ID"].strip("<>").split("@")[0]
                status = self._post("/v2/notifications/email", {"reference": reference})
                if status == 429:
                    raise smtplib.SMTPServerDisconnected("rate limited")
        finally:
            if opened:
                self.close()
        return len(messages)


def serve(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
