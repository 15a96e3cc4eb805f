import pytest

from tests.browser.axe import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_page_loads_under_strict_csp_and_is_accessible(live_server, new_page, screenshot):
    page = new_page()
    csp_errors = []
    page.on(
        "console", lambda m: csp_errors.append(m.text) if "Content Security" in m.text else None
    )
    page.goto(f"{live_server.url}/accounts/login/")
    screenshot(page, "sign-in")
    assert page.get_by_label("Username").is_visible()
    # Bootstrap's stylesheet is served by the app itself, not a CDN.
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != ""
    assert csp_errors == []
    assert_accessible(page)
