# The browser harness's fixtures, for the dashboards' own browser tests.
import pytest
from django.core.cache import cache

from tests.browser.conftest import browser, new_page, screenshot  # noqa: F401


@pytest.fixture(autouse=True)
def _empty_cache():
    # The service's baseline SDs are cached by service id, and ids repeat between tests.
    cache.clear()
    yield
    cache.clear()
