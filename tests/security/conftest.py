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
