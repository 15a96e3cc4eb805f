"""An administrator invites a clinician, who sets a password and a second factor from the
e-mailed link and signs in; the administrator deactivates them and the clinician's open
session ends at its next request."""

import re

import pytest
from django.core import mail

from accounts.demo_mfa import ensure_totp
from accounts.models import Membership, User
from tests.browser.helpers import fresh_totp, sign_in_with_mfa
from tests.factories import MembershipFactory, ServiceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SET_PASSWORD_LINK = re.compile(r"https?://\S+/accounts/password/reset/key/\S+")
NEW_PASSWORD = "willow kettle harbour lantern"


def test_administrator_invites_a_clinician_then_deactivates_them(live_server, new_page, journey):
    service = ServiceFactory(name="Riverside Team")
    admin = MembershipFactory(
        service=service, role=Membership.Role.ADMIN, user__username="a.admin"
    ).user
    url = live_server.url
    trip = journey("staff administration")

    # The administrator invites a clinician.
    office = new_page()
    sign_in_with_mfa(office, url, "a.admin", ensure_totp(admin), trip.screenshot)
    office.get_by_role("link", name="Staff", exact=True).first.click()
    trip.step(office, "staff-list")
    office.get_by_role("link", name="Invite a member of staff").click()
    office.get_by_label("First name").fill("Robin")
    office.get_by_label("Last name").fill("Newstaff")
    office.get_by_label("Work e-mail address").fill("robin.newstaff@example.nhs.uk")
    office.get_by_label("Username").fill("r.newstaff")
    office.get_by_label("Role").select_option(label="Clinician")
    trip.step(office, "invite-form")
    office.get_by_role("button", name="Send the invitation").click()
    office.wait_for_url(re.compile(r"/staff/\d+/$"))
    trip.step(office, "invited")
    assert "Invitation sent" in office.locator("main").inner_text()
    assert "Invited" in office.locator("h1").inner_text()

    # The clinician opens the link from the outbox and sets a password.
    (invitation,) = mail.outbox
    assert invitation.to == ["robin.newstaff@example.nhs.uk"]
    link = SET_PASSWORD_LINK.search(invitation.body).group(0)
    assert link.startswith(url)
    desk = new_page()
    desk.goto(link)
    trip.step(desk, "set-password")
    assert desk.url.endswith("-set-password/")  # allauth takes the key out of the address
    assert desk.get_by_role("heading", name="Set your password").is_visible()
    desk.locator("#id_password1").fill(NEW_PASSWORD)
    desk.locator("#id_password2").fill(NEW_PASSWORD)
    desk.get_by_role("button", name="Set password").click()
    desk.wait_for_url(re.compile(r"/password/reset/key/done/$"))
    trip.step(desk, "password-saved")

    # First sign-in: the password, then a second factor to set up.
    desk.get_by_role("link", name="Sign in").click()
    desk.get_by_label("Username").fill("r.newstaff")
    desk.get_by_label("Password").fill(NEW_PASSWORD)
    desk.get_by_role("button", name=re.compile("sign in", re.I)).click()
    desk.wait_for_load_state()
    if "/reauthenticate/" in desk.url:  # allauth asks for the password before adding a factor
        trip.step(desk, "confirm-password")
        desk.locator("#id_password").fill(NEW_PASSWORD)
        desk.get_by_role("button", name=re.compile("confirm", re.I)).click()
    desk.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/"))
    trip.step(desk, "set-up-second-factor")
    secret = desk.locator("#authenticator_secret").input_value()
    desk.locator("#id_code").fill(fresh_totp(secret))
    desk.get_by_role("button", name="Activate").click()
    desk.wait_for_url(re.compile(r"/accounts/2fa/"))
    trip.step(desk, "second-factor-done")
    desk.goto(f"{url}/")
    trip.step(desk, "clinician-home")
    assert desk.url == f"{url}/"
    assert desk.get_by_role("link", name="Cohorts").first.is_visible()

    # The staff list now shows the clinician active, with a second factor and a sign-in.
    office.get_by_role("link", name="Staff", exact=True).first.click()
    row = office.get_by_role("row").filter(has_text="r.newstaff")
    assert "Active" in row.inner_text()
    assert "Set up" in row.inner_text()
    assert "Never" not in row.inner_text()
    trip.step(office, "staff-list-active")

    # The administrator deactivates them; the clinician's open page signs them out.
    row.get_by_role("link", name=re.compile("Manage")).click()
    office.get_by_role("button", name="Deactivate account").click()
    trip.step(office, "deactivated")
    assert "Account deactivated" in office.locator("main").inner_text()
    assert not User.objects.get(username="r.newstaff").is_active

    desk.get_by_role("link", name="Cohorts").first.click()
    desk.wait_for_url(re.compile(r"/accounts/login/"))
    trip.step(desk, "clinician-signed-out")
    assert desk.get_by_label("Username").is_visible()
    trip.finish()
