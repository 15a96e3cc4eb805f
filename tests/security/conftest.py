import uuid

import pytest


@pytest.fixture
def fresh_cache(settings):
    """A cache of this test's own, so rate-limit counters never leak between tests."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"security-{uuid.uuid4()}",
        }
    }


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Hundreds of sign-in attempts: the hash's cost is not what these tests are about."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


@pytest.fixture
def client_factory():
    """Several independent browsers in one test."""
    from django.test import Client

    return Client
