"""A password reset for an unknown address sends no mail to it (allauth's default would)."""

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import UserFactory


@pytest.mark.django_db
def test_a_reset_for_an_unknown_address_sends_nothing(client, fresh_cache):
    response = client.post(reverse("account_reset_password"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_reset_for_a_known_address_still_sends_the_link(client, fresh_cache):
    user = UserFactory()
    response = client.post(reverse("account_reset_password"), {"email": user.email})
    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [[user.email]]
