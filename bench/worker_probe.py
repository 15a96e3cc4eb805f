"""Loaded into benchmark workers with `celery worker --include bench.worker_probe`: counts
each pool process's database queries and records its peak memory, in a JSON file per
process under $SAFEGROUND_PROBE_DIR after every task."""

import json
import os
import resource
from pathlib import Path

from celery.signals import task_postrun, worker_process_init

_count = {"queries": 0, "tasks": 0}


def _counter(execute, sql, params, many, context):
    _count["queries"] += 1
    return execute(sql, params, many, context)


@worker_process_init.connect
def _install(**kwargs):
    from django.db import connection

    connection.execute_wrappers.append(_counter)


@task_postrun.connect
def _write(**kwargs):
    _count["tasks"] += 1
    folder = Path(os.environ["SAFEGROUND_PROBE_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    (folder / f"{os.getpid()}.json").write_text(
        json.dumps({**_count, "pid": os.getpid(), "peak_mib": peak_kib / 1024})
    )
