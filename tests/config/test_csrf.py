"""Participant pages send no referrer, so browsers post `Origin: null` from them."""

from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret
from django.test import RequestFactory

from config.csrf import ParticipantAwareCsrfViewMiddleware


def _view(request):
    raise AssertionError("not called")


def _post(path, *, origin, with_token=True):
    secret = _get_new_csrf_string()
    data = {"csrfmiddlewaretoken": _mask_cipher_secret(secret)} if with_token else {}
    request = RequestFactory().post(path, data, HTTP_ORIGIN=origin)
    request.COOKIES["csrftoken"] = secret
    return request


def _verdict(request):
    middleware = ParticipantAwareCsrfViewMiddleware(lambda r: None)
    middleware.process_request(request)
    return middleware.process_view(request, _view, (), {})


def test_null_origin_with_a_valid_token_is_accepted_on_participant_pages():
    assert _verdict(_post("/q/start/", origin="null")) is None


def test_null_origin_still_needs_the_csrf_token_on_participant_pages():
    assert _verdict(_post("/q/start/", origin="null", with_token=False)).status_code == 403


def test_null_origin_is_refused_on_staff_pages():
    assert _verdict(_post("/participants/new/", origin="null")).status_code == 403


def test_another_sites_origin_is_refused_on_participant_pages():
    assert _verdict(_post("/q/start/", origin="https://evil.example")).status_code == 403
