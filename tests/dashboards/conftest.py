import pytest

from dashboards.cache import cache


@pytest.fixture(autouse=True)
def _empty_cache():
    # The service's baseline SDs are cached by service id, and ids repeat between tests.
    cache.clear()
    yield
    cache.clear()
