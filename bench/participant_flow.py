"""The participant's PHQ-9 + GAD-7, link to thank-you page, today's flow beside the last one.

    .venv/bin/python bench/participant_flow.py [--base REV] [--levels 1,10,50]

Makes a detached worktree of REV (default: the commit before this one's first participant
flow change, i.e. HEAD's merge base with main) in a temporary folder, drops and recreates a
PostgreSQL database for each tree (sg_flow_bench_before, sg_flow_bench_after), and migrates
and seeds each with that tree's own code: distinct participants each with PHQ-9 then GAD-7
open (and nothing else), one link each. Then for each tree it collects the static files and
starts gunicorn (4 sync workers, the production settings, Redis db 5 or 6 for the cache and
the rate limits), and walks every participant through their link as a browser would: follow
each redirect; on a questionnaire page post an answer to every question; on a check page
press send; on a done page take "next questionnaire"; on the list open the first; stop at
the thank-you page. At 1, 10 and 50 participants at once, alternating the two trees level by
level. Each simulated participant has its own address (X-Forwarded-For behind one trusted
proxy) so that the link pages' per-address limit counts households, as in production.

Reports, for each tree and level: requests and database queries per questionnaire (queries
from one extra participant walked in-process with the tree's own code, counted by Django),
server CPU seconds per completed questionnaire (user + system of gunicorn's processes, read
before and after), whole-flow p50/p95, errors, the machine's CPU utilisation and load
average while it ran (the machine is shared), and the completed administrations and
submitted responses in the database afterwards. Writes the "Participant flow" section of
BENCHMARKS.md. Everything it started is stopped, and the worktree removed, even on failure.
"""

import argparse
import http.client
import json
import math
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DB_NAME = "sg_flow_bench"
PG_ADMIN_URL = "postgres://root@127.0.0.1:5432/postgres"
# A Redis database a tree (cache, sessions, rate limits, broker): the two trees' databases
# share ids, so they must not share cached rows either.
REDIS_URLS = {"before": "redis://127.0.0.1:6379/5", "after": "redis://127.0.0.1:6379/6"}
WORKERS = 4
# Walked on each server before measuring, so no level pays for the workers' first requests.
WARM_UP = 4
SECTION = "## Participant flow"
BENCHMARKS = ROOT / "BENCHMARKS.md"
PORTS = {"before": 8741, "after": 8742}
FORM = re.compile(r'<form[^>]*id="(page-form|submit-form)"[^>]*>', re.S)
ACTION = re.compile(r'action="([^"]+)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ITEM = re.compile(r'name="(item_\d+)"')
NEXT_LINKS = (
    re.compile(r'href="([^"]+)"[^>]*id="next-questionnaire"'),
    re.compile(r'href="([^"]+)"[^>]*id="open-1"'),
)
THANKS = ("That is everything for now", "There are no questionnaires for you")


def log(message: str) -> None:
    print(f"[participant_flow] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- one participant


class Walk:
    """One participant through their link, as a browser would; counts the requests."""

    def __init__(self, fetch):
        self.fetch = fetch  # (method, path, data) -> (status, location, body)
        self.requests = 0

    def go(self, method, path, data=None):
        self.requests += 1
        return self.fetch(method, path, data)

    def run(self, token: str) -> None:
        status, location, body = self.go("GET", f"/q/{token}", None)
        if status != 200:
            raise RuntimeError(f"landing {status}")
        data = {"token": token, "csrfmiddlewaretoken": CSRF.search(body).group(1)}
        status, location, body = self.go("POST", "/q/start/", data)
        path = "/q/start/"
        for _ in range(60):
            if status == 302:
                path = location
                status, location, body = self.go("GET", path, None)
                continue
            if status != 200:
                raise RuntimeError(f"{path}: {status}")
            if any(words in body for words in THANKS):
                return
            form = FORM.search(body)
            if form:
                action = ACTION.search(form.group(0))
                target = action.group(1) if action else path
                data = {"csrfmiddlewaretoken": CSRF.search(body).group(1)}
                if form.group(1) == "page-form":
                    data |= dict.fromkeys(sorted(set(ITEM.findall(body))), "0")
                path = target
                status, location, body = self.go("POST", target, data)
                continue
            for pattern in NEXT_LINKS:
                found = pattern.search(body)
                if found:
                    path = found.group(1)
                    status, location, body = self.go("GET", path, None)
                    break
            else:
                raise RuntimeError(f"{path}: no way on")
        raise RuntimeError("more than 60 steps")


def http_fetcher(port: int, address: str):
    cookies: dict[str, str] = {}

    def fetch(method, path, data):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Host": "127.0.0.1", "X-Forwarded-For": address}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookies[name] = rest.split(";", 1)[0]
        conn.close()
        location = response.getheader("Location") or ""
        if location.startswith("http"):
            location = urllib.parse.urlsplit(location).path
        return response.status, location, text

    return fetch


# --------------------------------------------------------------------------- in a tree


def seed(count: int, out: str) -> None:
    """Distinct participants, each with PHQ-9 then GAD-7 open and one live link."""
    import datetime

    import django

    django.setup()
    from django.utils import timezone

    from measures import links, services
    from measures.models import Administration
    from tests.factories import CohortFactory, EnrolmentFactory, ServiceFactory

    service = ServiceFactory(name="Bench Team", public_name="Bench Team")
    start = timezone.localdate() - datetime.timedelta(days=2)
    cohort = CohortFactory(service=service, start_date=start)
    tokens = []
    for _ in range(count):
        enrolment = EnrolmentFactory(cohort=cohort, enrolled_on=start)
        services.administrations_lay_out(enrolment=enrolment)
        baseline = Administration.objects.filter(
            enrolment=enrolment, timepoint__key="baseline"
        ).first()
        Administration.objects.filter(enrolment=enrolment).update(
            status=Administration.Status.CANCELLED
        )
        for code in ("phq9", "gad7"):
            Administration.objects.create(
                enrolment=enrolment,
                timepoint=baseline.timepoint,
                instrument_code=code,
                due_on=timezone.localdate(),
                opens_on=timezone.localdate() - datetime.timedelta(days=1),
                closes_on=timezone.localdate() + datetime.timedelta(days=7),
                status=Administration.Status.OPEN,
            )
        tokens.append(
            links.link_issue(
                participant=enrolment.participant,
                expires_at=timezone.now() + datetime.timedelta(days=2),
            )
        )
    Path(out).write_text(json.dumps(tokens))


def count_queries(token: str) -> None:
    """One participant walked in-process with this tree's code; prints requests, queries."""
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_FOR="10.255.0.1")

    def fetch(method, path, data):
        response = client.get(path) if method == "GET" else client.post(path, data or {})
        return response.status_code, response.get("Location", ""), response.content.decode()

    walk = Walk(fetch)
    with CaptureQueriesContext(connection) as queries:
        walk.run(token)
    print(json.dumps({"requests": walk.requests, "queries": len(queries)}))


def completed(ids_from: str) -> None:
    import django

    django.setup()
    from measures.models import Administration, Response

    print(
        json.dumps(
            {
                "completed": Administration.objects.filter(
                    status="completed", instrument_code__in=("phq9", "gad7")
                ).count(),
                "submitted": Response.objects.filter(submitted_at__isnull=False).count(),
            }
        )
    )


# --------------------------------------------------------------------------- the run


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text().split() if (task / "children").exists() else []
        found += [int(child) for child in text]
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of gunicorn's master and its workers, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for proc in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def machine_busy() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields), idle


def run_level(port: int, tokens: list[str], first_address: int, pid: int) -> dict:
    durations, errors, requests = [], [], []
    lock = threading.Lock()

    def one(index, token):
        address = f"10.{(first_address + index) // 250 % 250}.{(first_address + index) % 250}.9"
        walk = Walk(http_fetcher(port, address))
        began = time.perf_counter()
        try:
            walk.run(token)
        except Exception as exc:  # counted and reported
            with lock:
                errors.append(str(exc)[:200])
            return
        with lock:
            durations.append(time.perf_counter() - began)
            requests.append(walk.requests)

    threads = [threading.Thread(target=one, args=(i, t)) for i, t in enumerate(tokens)]
    cpu_before = cpu_seconds(pid)
    total_before, idle_before = machine_busy()
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    total_after, idle_after = machine_busy()
    cpu = cpu_seconds(pid) - cpu_before
    busy = 1 - (idle_after - idle_before) / max(1, total_after - total_before)
    durations.sort()
    done = len(durations)
    return {
        "participants": len(tokens),
        "errors": len(errors),
        "error_sample": errors[:3],
        "requests_per_flow": statistics.median(requests) if requests else None,
        "p50": statistics.median(durations) if durations else None,
        "p95": durations[max(0, math.ceil(0.95 * done) - 1)] if done else None,
        "cpu_per_questionnaire": cpu / max(1, 2 * done),
        "wall": wall,
        "machine_busy": busy,
        "load": (load_before, os.getloadavg()[0]),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="main")
    parser.add_argument("--levels", default="1,10,50")
    parser.add_argument("--write", action="store_true", help="write BENCHMARKS.md's section")
    parser.add_argument("--from-json", help="only write the section from a saved report")
    args = parser.parse_args(argv)
    if args.from_json:
        report = json.loads(Path(args.from_json).read_text())
        report["expected"] = 2 * 2 * (sum(int(n) for n in report["results"]["after"]) + 1 + WARM_UP)
        write_section(report)
        return 0
    levels = [int(n) for n in args.levels.split(",")]
    base = subprocess.run(
        ["git", "-C", str(ROOT), "merge-base", "HEAD", args.base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="sg-flow-bench-"))
    old_tree = tmp / "before"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old_tree), base],
        check=True,
        capture_output=True,
    )
    trees = {"before": old_tree, "after": ROOT}
    procs: list[subprocess.Popen] = []
    try:
        import psycopg
        import redis

        # Each tree has a database of its own, migrated and seeded by its own code: an older
        # tree cannot run on a newer tree's schema (columns it reads may have gone).
        databases = {name: f"{DB_NAME}_{name}" for name in trees}
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            for database in databases.values():
                conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
                conn.execute(f"CREATE DATABASE {database}")
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.load.settings",
            "SAFEGROUND_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOW_FILE_MESSAGE_BACKENDS_IN_PRODUCTION": "true",
            "SAFEGROUND_DATA_DIR": str(tmp / "data"),
            "TRUSTED_PROXY_COUNT": "1",
            "LOG_LEVEL": "WARNING",
        }
        python = str(VENV_BIN / "python")

        def tree_env(name):
            return {
                **env,
                "PYTHONPATH": str(trees[name]),
                "DATABASE_URL": f"postgres://root@127.0.0.1:5432/{databases[name]}",
                "REDIS_URL": REDIS_URLS[name],
                "LOAD_STATIC_ROOT": str(tmp / f"static-{name}"),
                "SITE_URL": f"http://127.0.0.1:{PORTS[name]}",
            }

        def in_tree(name, *cmd):
            result = subprocess.run(
                [python, *cmd],
                cwd=trees[name],
                env=tree_env(name),
                capture_output=True,
                text=True,
                timeout=900,
            )
            if result.returncode:
                raise RuntimeError(f"{name} {cmd[:2]}: {result.stderr[-3000:]}")
            return result.stdout

        per_tree = sum(levels) + 1 + WARM_UP
        pools = {}
        for name in trees:
            in_tree(name, "manage.py", "migrate", "--noinput", "-v", "0")
            in_tree(
                name,
                str(ROOT / "bench" / "participant_flow.py"),
                "_seed",
                str(per_tree),
                str(tmp / f"tokens-{name}.json"),
            )
            pools[name] = json.loads((tmp / f"tokens-{name}.json").read_text())
        counts = {}
        for name in trees:
            in_tree(name, "manage.py", "collectstatic", "--noinput", "-v", "0")
            counts[name] = json.loads(
                in_tree(
                    name, str(ROOT / "bench" / "participant_flow.py"), "_count", pools[name].pop()
                )
            )
        for url in REDIS_URLS.values():
            redis.Redis.from_url(url).flushdb()
        servers = {}
        for name in trees:
            handle = (tmp / f"gunicorn-{name}.log").open("w")
            proc = subprocess.Popen(
                [
                    str(VENV_BIN / "gunicorn"),
                    "config.wsgi",
                    "-w",
                    str(WORKERS),
                    "-b",
                    f"127.0.0.1:{PORTS[name]}",
                    "-c",
                    "/dev/null",
                ],
                cwd=trees[name],
                env=tree_env(name),
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            procs.append(proc)
            servers[name] = proc
        time.sleep(6)
        for name in trees:
            run_level(
                PORTS[name], [pools[name].pop() for _ in range(WARM_UP)], 900, servers[name].pid
            )
        results = {name: {} for name in trees}
        address = 0
        for level in levels:
            for name in trees:
                batch = [pools[name].pop() for _ in range(level)]
                redis.Redis.from_url(REDIS_URLS[name]).flushdb()
                log(f"{name}: {level} at once")
                results[name][level] = run_level(PORTS[name], batch, address, servers[name].pid)
                address += level
                log(json.dumps(results[name][level]))
        stored = {"completed": 0, "submitted": 0}
        for name in trees:
            found = json.loads(
                in_tree(name, str(ROOT / "bench" / "participant_flow.py"), "_completed", "-")
            )
            for key in stored:
                stored[key] += found[key]
        report = {
            "base": base[:7],
            "head": head,
            "counts": counts,
            "results": results,
            "stored": stored,
            "expected": 2 * 2 * (sum(levels) + 1 + WARM_UP),
            "nproc": os.cpu_count(),
        }
        print(json.dumps(report, indent=1))
        if args.write:
            write_section(report)
        return 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old_tree)],
            capture_output=True,
        )
        shutil.rmtree(tmp, ignore_errors=True)


def write_section(report: dict) -> None:
    rows = []
    for level in sorted(report["results"]["after"], key=int):
        for name in ("before", "after"):
            r = report["results"][name][level]
            c = report["counts"][name]
            rows.append(
                f"| {level} | {name} ({report['base'] if name == 'before' else report['head']})"
                f" | {r['requests_per_flow']:.0f} | {r['requests_per_flow'] / 2:.1f}"
                f" | {c['queries'] / 2:.0f}"
                f" | {r['cpu_per_questionnaire']:.3f} | {r['p50']:.2f} | {r['p95']:.2f}"
                f" | {r['errors']} | {r['machine_busy'] * 100:.0f}%"
                f" | {r['load'][0]:.1f} to {r['load'][1]:.1f} |"
            )
    section = "\n".join(
        [
            SECTION,
            "",
            "`bench/participant_flow.py --write`: PHQ-9 + GAD-7 from the link to the thank-you"
            " page (requests a flow), distinct participants, gunicorn (4 sync workers,"
            " production settings) on"
            " PostgreSQL, the previous flow (a worktree of the merge base with main, on a"
            " database of its own migrated and seeded by its own code) measured"
            " in the same run, alternating level by level. Per questionnaire: requests, database"
            " queries (one participant walked in-process), gunicorn CPU seconds per completed"
            " questionnaire; whole flow (both questionnaires) p50/p95 in seconds. Machine: the"
            " CPU busy share of all its cores and the 1-minute load average while each level"
            f" ran ({report['nproc']} cores, shared with other people's work).",
            "",
            "| at once | flow | requests a flow | requests | queries | CPU s | p50 s | p95 s"
            " | errors | machine busy | load |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Completed PHQ-9/GAD-7 administrations in the database afterwards:"
            f" {report['stored']['completed']} of {report['expected']} (submitted responses:"
            f" {report['stored']['submitted']}; the count includes the in-process query count's"
            f" participant and {WARM_UP} warm-up participants a tree).",
            "",
        ]
    )
    text = BENCHMARKS.read_text()
    if SECTION in text:
        start = text.index(SECTION)
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + (text[end + 1 :] if end != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    BENCHMARKS.write_text(text)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        sys.path.insert(0, os.getcwd())
        command, rest = sys.argv[1], sys.argv[2:]
        if command == "_seed":
            seed(int(rest[0]), rest[1])
        elif command == "_count":
            count_queries(rest[0])
        elif command == "_completed":
            completed(rest[0])
        sys.exit(0)
    sys.exit(main())
