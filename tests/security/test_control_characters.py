"""NUL and the other C0 control characters, in query parameters, form fields and cookies.

PostgreSQL refuses NUL in text, so a NUL that reached a query was a server error (the
participant search was one). config.control_characters.ControlCharacterMiddleware removes them from
every query parameter and form field before any view or form sees them; tab, line feed and
carriage return stay in form fields, where notes span lines.
"""

import re

import pytest
import time_machine
from django.test import RequestFactory
from django.urls import reverse

from config.control_characters import ControlCharacterMiddleware
from tests.security.matrix_table import TABLE
from tests.security.matrix_world import NOW, OBJECTS
from tests.security.test_view_fuzz import field_names, own_page

C0_BUT_WHITESPACE = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r")
CONTROLS = {
    "nul": "\x00",
    "nul-inside": "Canary\x00zzyzx",
    "every-c0": C0_BUT_WHITESPACE,
    "escape-sequence": "\x1b[31mred\x1b[0m",
    "whitespace-controls": "a\tb\nc\rd",
}
STAFF_GET_URLS = sorted(
    name for name, rule in TABLE.items() if rule.kind == "staff" and rule.method == "GET"
)


def _through_middleware(request):
    seen = {}

    def view(request):
        seen["GET"], seen["POST"] = request.GET, request.POST
        return None

    ControlCharacterMiddleware(view)(request)
    return seen


def test_controls_are_removed_from_query_parameters_and_their_names():
    request = RequestFactory().get("/", {"q": "Canary\x00zzyzx\x1f", "a\x07b": "c\td\ne"})
    seen = _through_middleware(request)
    assert seen["GET"]["q"] == "Canaryzzyzx"
    # A query parameter is never multi-line, so tab and line breaks go too.
    assert seen["GET"]["ab"] == "cde"
    assert "a\x07b" not in seen["GET"]


def test_controls_are_removed_from_form_fields_but_line_breaks_and_tabs_stay():
    request = RequestFactory().post(
        "/", {"note": ["first\r\nsecond\tthird\x00\x0b", "x\x1by"], "n\x00ame": "v"}
    )
    seen = _through_middleware(request)
    assert seen["POST"].getlist("note") == ["first\r\nsecond\tthird", "xy"]
    assert seen["POST"]["name"] == "v"


def test_a_clean_request_keeps_its_own_query_dicts():
    request = RequestFactory().post("/?page=2", {"note": "line one\nline two"})
    get, post = request.GET, request.POST
    seen = _through_middleware(request)
    assert seen["GET"] is get
    assert seen["POST"] is post


def test_cleaned_query_dicts_stay_immutable_like_djangos():
    seen = _through_middleware(RequestFactory().get("/", {"q": "\x00"}))
    with pytest.raises(AttributeError):
        seen["GET"]["q"] = "changed"


def test_controls_are_removed_from_cookies():
    request = RequestFactory().get("/")
    request.COOKIES = {"sessionid": "abcdefgh\x00ijk", "csrftoken": "plain"}
    seen = {}

    def view(request):
        seen.update(request.COOKIES)

    ControlCharacterMiddleware(view)(request)
    assert seen == {"sessionid": "abcdefghijk", "csrftoken": "plain"}


@pytest.mark.django_db
def test_a_nul_in_the_session_cookie_is_a_new_session_not_a_server_error(client):
    # A quoted cookie value may spell NUL as an octal escape, and Django decodes it.
    client.cookies.load('sessionid="aaaaaaaaaaaa\\000bbbb"')
    assert "\x00" in client.cookies["sessionid"].value
    response = client.get(reverse("account_login"))
    assert response.status_code == 200


@pytest.mark.django_db
def test_nul_in_the_participant_search_is_an_ordinary_search(clinician_client):
    response = clinician_client.get(reverse("participants:participant_list"), {"q": "\x00"})
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("name", STAFF_GET_URLS)
def test_every_staff_page_answers_controls_in_every_query_parameter(world, name):
    url, client = own_page(world, name)
    with time_machine.travel(NOW, tick=True):
        html = client.get(url).content.decode(errors="replace")
        names = {*field_names(html), *re.findall(r"[?&;]([a-z_]+)=", html), "q", "page", "view"}
        statuses = {
            label: client.get(url, dict.fromkeys(sorted(names), value)).status_code
            for label, value in CONTROLS.items()
        }
    assert all(status < 500 for status in statuses.values()), statuses


@pytest.mark.django_db
@pytest.mark.parametrize("label", sorted(CONTROLS))
def test_participant_pages_answer_controls_in_the_token_and_the_answers(world, label):
    value = CONTROLS[label]
    anonymous = world.clients["anonymous"]
    participant = world.clients["participant"]
    page = OBJECTS["questionnaire_page"](world, "own")
    with time_machine.travel(NOW, tick=True):
        start = anonymous.post(reverse("questionnaire:start"), {"token": value})
        landing = anonymous.get(
            reverse("questionnaire:landing", args=[world.own.token]), {"x": value}
        )
        form = participant.get(reverse("questionnaire:page", kwargs=page))
        names = field_names(form.content.decode(errors="replace"))
        answered = participant.post(
            reverse("questionnaire:page", kwargs=page), dict.fromkeys(names, value)
        )
    assert start.status_code < 500
    assert landing.status_code < 500
    assert answered.status_code < 500


@pytest.mark.django_db
@pytest.mark.parametrize("label", sorted(CONTROLS))
@pytest.mark.parametrize(
    ("url_name", "fields"),
    [
        ("account_login", ("login", "password")),
        ("account_reset_password", ("email",)),
    ],
)
def test_sign_in_pages_answer_controls_with_a_form_error(
    client, fresh_cache, url_name, fields, label
):
    response = client.post(reverse(url_name), dict.fromkeys(fields, CONTROLS[label]))
    assert response.status_code in {200, 302}
