import uuid

import pytest


@pytest.fixture
def fresh_cache(settings):
    """A cache of this test's own, so rate-limit counters never leak between tests."""
    settings.CACHES = {
        alias: {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"security-{alias}-{uuid.uuid4()}",
        }
        for alias in settings.CACHES  # default, ratelimit, dashboards: every one configured
    }


@pytest.fixture
def client_factory():
    """Several independent browsers in one test."""
    from django.test import Client

    return Client


@pytest.fixture
def world(db, fresh_cache):
    """tests/security/matrix_world.py's two services, with a signed-in client per role."""
    import time_machine
    from django.test import Client
    from django.urls import reverse

    from tests.conftest import sign_in
    from tests.security.matrix_world import NOW, ROLES, build_world

    with time_machine.travel(NOW, tick=True):
        world = build_world()
        clients = {}
        for role in ROLES:
            client = Client()
            user = world.personas[role]
            if user is not None:
                sign_in(client, user)
            clients[role] = client
        # The participant persona follows their link and presses Start, as in a message.
        participant = clients["participant"]
        participant.get(reverse("questionnaire:landing", args=[world.own.token]))
        participant.post(reverse("questionnaire:start"), {"token": world.own.token})
        world.clients = clients
        yield world
