"""Loaded early (`-p tests.xdist_worker_env` in pyproject's addopts), before Django reads its
settings: under pytest-xdist, each worker gets a Redis database of its own.

pytest-django already gives each worker its own test database (test_<name>_gw0, ...). Redis
needs the same: the tests empty the cache (FLUSHDB) and start real Celery workers on the
broker, and two test workers sharing one Redis database would empty each other's cache and
take each other's tasks. Worker gwN uses database number (the one REDIS_URL names) + N + 1.
"""

import os
import re

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
_url = os.environ.get("REDIS_URL", "")
if _worker.startswith("gw") and _url:
    _match = re.fullmatch(r"(redis://[^/]+)(?:/(\d+))?", _url)
    if _match is None:
        raise RuntimeError(
            "REDIS_URL must look like redis://host:port/N to run the tests in parallel"
        )
    _base = int(_match.group(2) or 0)
    os.environ["REDIS_URL"] = f"{_match.group(1)}/{_base + int(_worker[2:]) + 1}"
