"""One questionnaire save, in-process on the load test's database: its SQL and its time.

    python -m bench.load.profile_save --token TOKEN   (with the load test's environment)

Prints JSON: the number of queries and the milliseconds spent in the save request, and each
query's SQL shape (literals left in, tokens never appear in SQL), so a slow save can be
traced to what it asks the database.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def profile(token: str) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.load import scenario

    class _Adapter:
        """The Django test client behind the scenario's requests-style calls."""

        def __init__(self):
            self.client = Client(SERVER_NAME="127.0.0.1")

        def request(self, method, path, *, name, allow_redirects, data=None):
            if method == "GET":
                response = self.client.get(path)
            else:
                response = self.client.post(path, data or {})
            response.text = response.content.decode()
            return response

    http = _Adapter()
    person = scenario.Participant(token=token)
    while not ("/page/" in person.next_path and person.html_path == person.next_path):
        person.step(http)
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        person.save_page(http)
        elapsed = (time.perf_counter() - started) * 1000
    return {
        "queries": len(queries.captured_queries),
        "ms": round(elapsed, 1),
        "sql": [q["sql"][:300] for q in queries.captured_queries],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--token", required=True)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    print(json.dumps(profile(args.token)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
