"""The load scenario's requests, free of Locust so a plain test can run each one.

Every step takes an HTTP client with the `requests.Session` interface (Locust's HttpSession is
one) and checks the status it expects: Locust records an unexpected one as a failure, any
other client raises UnexpectedResponse. Redirects are never followed automatically, so each
page type is timed on its own.

Loopback has no TLS, while production marks the session and CSRF cookies Secure. The server
behaves the same whichever scheme carried the request, so the client is told to send Secure
cookies back over plain HTTP, but only to loopback addresses (LoopbackCookiePolicy).
"""

import http.cookiejar
import ipaddress
import random
import re
from dataclasses import dataclass, field
from html import unescape
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

# Page types, as Locust reports them.
LINK = "participant: open link"
START = "participant: start (POST token)"
HOME = "participant: questionnaire list"
RESUME = "participant: open questionnaire"
PAGE = "participant: questionnaire page"
SAVE = "participant: save page (POST answers)"
CHECK = "participant: check page"
SUBMIT = "participant: submit (POST)"
DONE = "participant: done page"
COHORT_LIST = "staff: cohort list"
COHORT_PAGE = "staff: cohort page"
COHORT_DASHBOARD = "staff: cohort dashboard"
SERVICE_DASHBOARD = "staff: service dashboard"
TRIVIAL = "trivial: sign-in page"

TRIVIAL_PATH = "/accounts/login/"

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_RESUME = re.compile(r'href="(/q/a/\d+/)"')
_RADIO = re.compile(r'type="radio" name="(item_\d+)" id="[^"]*" value="([^"]+)"')
_COUNT = re.compile(r'type="number"[^>]* name="(item_\d+)"')


class UnexpectedResponse(AssertionError):
    pass


class LoopbackCookiePolicy(http.cookiejar.DefaultCookiePolicy):
    """Keeps Secure cookies from loopback servers as plain ones, so they go back over HTTP.

    The flag is dropped when the cookie is stored, not when it is sent, because requests
    copies the jar into one with the default policy for every request.
    """

    def set_ok(self, cookie, request):
        if cookie.secure and _is_loopback(urlsplit(request.get_full_url()).hostname):
            cookie.secure = False
        return super().set_ok(cookie, request)


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


class SourceAddressAdapter(HTTPAdapter):
    """Connections leave from one loopback address, as each participant has their own."""

    def __init__(self, source_ip: str, **kwargs):
        self._source = (source_ip, 0)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = self._source
        super().init_poolmanager(*args, **kwargs)


def prepare(session: requests.Session, source_ip: str | None = None) -> requests.Session:
    session.cookies.set_policy(LoopbackCookiePolicy())
    if source_ip:
        session.mount("http://", SourceAddressAdapter(source_ip))
    return session


def participant_source_ip(index: int) -> str:
    """127.0.1.1, 127.0.1.2, ...: link pages are rate limited per address, as in production."""
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


class BaseUrlSession(requests.Session):
    """A plain requests session that takes paths and Locust's `name` keyword."""

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, name=None, **kwargs):
        if url.startswith("/"):
            url = self.base_url + url
        return super().request(method, url, *args, **kwargs)


def _is_locust(client) -> bool:
    return hasattr(client, "request_event")


def call(client, method: str, path: str, *, name: str, expect: tuple[int, ...], data=None):
    """One request, checked against the statuses it should give."""
    kwargs = {"name": name, "allow_redirects": False}
    if data is not None:
        kwargs["data"] = data
    if _is_locust(client):
        with client.request(method, path, catch_response=True, **kwargs) as response:
            if response.status_code in expect:
                response.success()
            else:
                response.failure(f"status {response.status_code}, expected {expect}")
        return response
    response = client.request(method, path, **kwargs)
    if response.status_code not in expect:
        raise UnexpectedResponse(f"{name}: status {response.status_code}, expected {expect}")
    return response


def _location(response) -> str:
    return urlsplit(response.headers.get("Location", "")).path


def _csrf(html: str) -> str:
    found = _CSRF.search(html)
    return unescape(found.group(1)) if found else ""


def page_answers(html: str, rng: random.Random) -> dict[str, str]:
    """An answer for every question on a questionnaire page, chosen as a participant might."""
    options: dict[str, list[str]] = {}
    for name, value in _RADIO.findall(html):
        options.setdefault(name, []).append(unescape(value))
    answers = {name: rng.choice(values) for name, values in options.items()}
    for name in _COUNT.findall(html):
        answers[name] = str(rng.randint(0, 3))
    return answers


# --------------------------------------------------------------------------- participants


@dataclass
class Participant:
    """One participant working through their questionnaires from the link in a message."""

    token: str
    rng: random.Random = field(default_factory=random.Random)
    # The address the browser is at (the last redirect's target) and the page it shows.
    next_path: str = ""
    html: str = ""
    html_path: str = ""
    started: bool = False
    finished: bool = False

    def _go(self, client, method, path, *, name, expect, data=None):
        response = call(client, method, path, name=name, expect=expect, data=data)
        if response.status_code in expect:
            return response
        # A failure (already recorded): start again from the list, as a person would.
        self.next_path = "/q/" if self.started else ""
        self.html = self.html_path = ""
        return None

    def open_link(self, client):
        response = self._go(client, "GET", f"/q/{self.token}", name=LINK, expect=(200,))
        if response is not None:
            self.html, self.html_path = response.text, f"/q/{self.token}"
        return response

    def start(self, client):
        data = {"csrfmiddlewaretoken": _csrf(self.html), "token": self.token}
        response = self._go(client, "POST", "/q/start/", name=START, expect=(302,), data=data)
        if response is not None:
            self.started = True
            self.next_path = _location(response)
        return response

    def open_home(self, client):
        response = self._go(client, "GET", "/q/", name=HOME, expect=(200,))
        if response is not None:
            found = _RESUME.search(response.text)
            self.finished = found is None
            self.next_path = found.group(1) if found else ""
        return response

    def open_questionnaire(self, client):
        """The questionnaire's own address sends the participant to the first unanswered page."""
        response = self._go(client, "GET", self.next_path, name=RESUME, expect=(302,))
        if response is not None:
            self.next_path = _location(response)
        return response

    def open_page(self, client):
        response = self._go(client, "GET", self.next_path, name=PAGE, expect=(200,))
        if response is not None:
            self.html, self.html_path = response.text, self.next_path
        return response

    def save_page(self, client):
        data = {"csrfmiddlewaretoken": _csrf(self.html), **page_answers(self.html, self.rng)}
        response = self._go(client, "POST", self.next_path, name=SAVE, expect=(302,), data=data)
        if response is not None:
            self.next_path = _location(response)
        return response

    def open_check(self, client):
        response = self._go(client, "GET", self.next_path, name=CHECK, expect=(200,))
        if response is not None:
            self.html, self.html_path = response.text, self.next_path
        return response

    def submit(self, client):
        path = self.next_path.replace("/check/", "/submit/")
        data = {"csrfmiddlewaretoken": _csrf(self.html)}
        response = self._go(client, "POST", path, name=SUBMIT, expect=(302,), data=data)
        if response is not None:
            self.next_path = _location(response)
        return response

    def open_done(self, client):
        response = self._go(client, "GET", self.next_path, name=DONE, expect=(200,))
        if response is not None:
            self.next_path = "/q/"
        return response

    def step(self, client):
        """Make the participant's next request, given the page they are on."""
        path = self.next_path
        shown = self.html_path == path
        if not self.started:
            if shown and path:
                return self.start(client)
            self.next_path = f"/q/{self.token}"
            return self.open_link(client)
        if path in ("", "/q/"):
            return self.open_home(client)
        if re.fullmatch(r"/q/a/\d+/", path):
            return self.open_questionnaire(client)
        if "/page/" in path:
            return self.save_page(client) if shown else self.open_page(client)
        if path.endswith("/check/"):
            return self.submit(client) if shown else self.open_check(client)
        if path.endswith("/done/"):
            return self.open_done(client)
        raise UnexpectedResponse(f"participant: no step from {path}")


# --------------------------------------------------------------------------- staff


@dataclass
class Staff:
    """A signed-in clinician or manager looking at their service's cohorts and dashboards."""

    service: int
    cohorts: list[int]
    rng: random.Random = field(default_factory=random.Random)

    def _cohort(self) -> int:
        return self.rng.choice(self.cohorts)

    def cohort_list(self, client):
        return call(client, "GET", "/programmes/cohorts/", name=COHORT_LIST, expect=(200,))

    def cohort_page(self, client):
        path = f"/programmes/cohorts/{self._cohort()}/"
        return call(client, "GET", path, name=COHORT_PAGE, expect=(200,))

    def cohort_dashboard(self, client):
        path = f"/dashboards/cohorts/{self._cohort()}/"
        return call(client, "GET", path, name=COHORT_DASHBOARD, expect=(200,))

    def service_dashboard(self, client):
        path = f"/dashboards/services/{self.service}/"
        return call(client, "GET", path, name=SERVICE_DASHBOARD, expect=(200,))


def trivial(client):
    """The sign-in page, anonymous: the cheapest page the app serves through its middleware."""
    return call(client, "GET", TRIVIAL_PATH, name=TRIVIAL, expect=(200,))
