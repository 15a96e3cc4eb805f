"""Load test: 200 participants answering and 20 staff browsing, against the production shape.

    .venv/bin/pip install -e ".[bench]"
    .venv/bin/python bench/load_test.py            # under 4 minutes; --duration 90s by default

Drops and recreates the PostgreSQL database sg_load and empties Redis database 9, migrates,
seeds through the project's own services (bench/load/seed.py), collects static files into a
temporary folder, then starts gunicorn (4 workers) with SAFEGROUND_ENV=production and a
Celery worker, all on loopback, and runs Locust headless (bench/load/locustfile.py). Reports
requests per second, median and 95th percentile per page type and errors, next to the
sign-in page measured in the same run; profiles one questionnaire save's queries; writes the
"Load test" section of BENCHMARKS.md. Everything it started is stopped, even on failure.

Loopback has no TLS: SECURE_SSL_REDIRECT is off and the Locust clients send the Secure
session and CSRF cookies back over plain HTTP (bench/load/scenario.py); the server itself
runs with the production cookie settings unchanged.

Exit status: 0 when the target is met (no errors; save p95 within 3x the trivial page's),
1 when it is missed, 2 when the run itself could not be made.
"""

import argparse
import csv
import datetime
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from bench.load import plan, scenario  # noqa: E402

DB_NAME = "sg_load"
PG_ADMIN_URL = "postgres://root@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/9"
WORKERS = 4
TARGET_RATIO = 3.0
SECTION = "## Load test"
BENCHMARKS = ROOT / "BENCHMARKS.md"
PAGE_ORDER = [
    scenario.TRIVIAL,
    scenario.LINK,
    scenario.START,
    scenario.HOME,
    scenario.RESUME,
    scenario.PAGE,
    scenario.SAVE,
    scenario.CHECK,
    scenario.SUBMIT,
    scenario.DONE,
    scenario.COHORT_LIST,
    scenario.COHORT_PAGE,
    scenario.COHORT_DASHBOARD,
    scenario.SERVICE_DASHBOARD,
]


def log(message: str) -> None:
    print(f"[load] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recreate_database() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
        return conn.execute("SHOW server_version").fetchone()[0]


def drop_database() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def flush_redis() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    return client.info("server")["redis_version"]


def machine(pg_version: str, redis_version: str) -> dict:
    meminfo = Path("/proc/meminfo").read_text()
    kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1).strip() if found else cpu
    from importlib.metadata import version

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "redis": redis_version,
        "gunicorn": f"{version('gunicorn')}, {WORKERS} sync workers",
        "locust": version("locust"),
    }


def run(cmd: list[str], env: dict, label: str) -> str:
    result = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"{label} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


class Processes:
    """Children started in their own process groups, so each is stopped with all it forked."""

    def __init__(self):
        self.started: list[tuple[str, subprocess.Popen, Path]] = []

    def start(self, label: str, cmd: list[str], env: dict, logfile: Path) -> subprocess.Popen:
        handle = logfile.open("w")
        proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()
        self.started.append((label, proc, logfile))
        log(f"started {label} (pid {proc.pid})")
        return proc

    def stop_all(self) -> None:
        for _label, proc, _ in reversed(self.started):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for label, proc, _ in reversed(self.started):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log(f"stopped {label}")

    def tail(self, lines: int = 30) -> str:
        out = []
        for label, _, logfile in self.started:
            text = logfile.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {label} ({logfile})\n" + "\n".join(text))
        return "\n".join(out)


def wait_for_http(url: str, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def wait_for_line(logfile: Path, pattern: str, proc: subprocess.Popen, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{logfile.name}: exited with status {proc.returncode}")
        if re.search(pattern, logfile.read_text(errors="replace")):
            return
        time.sleep(0.3)
    raise RuntimeError(f"{logfile.name}: no '{pattern}' within {seconds} s")


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of these processes and all their children."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def machine_busy_seconds() -> float:
    """CPU time spent by every process on the machine (all cores), not idle or waiting."""
    import psutil

    times = psutil.cpu_times()
    return (
        times.user
        + times.nice
        + times.system
        + getattr(times, "irq", 0)
        + getattr(times, "softirq", 0)
    )


def postgres_cpu_seconds() -> float:
    import psutil

    total = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        if (proc.info["name"] or "").startswith("postgres") and proc.info["cpu_times"]:
            total += proc.info["cpu_times"].user + proc.info["cpu_times"].system
    return total


def read_stats(prefix: Path) -> tuple[dict, list[dict]]:
    rows = {}
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            rows[row["Name"]] = row
    failures = []
    failures_file = Path(f"{prefix}_failures.csv")
    if failures_file.exists():
        with failures_file.open(newline="") as handle:
            failures = list(csv.DictReader(handle))
    return rows, failures


def figures(rows: dict) -> list[dict]:
    out = []
    for name in PAGE_ORDER + sorted(set(rows) - set(PAGE_ORDER) - {"Aggregated"}) + ["Aggregated"]:
        row = rows.get(name)
        if row is None:
            continue
        out.append(
            {
                "page": name,
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": float(row["Requests/s"]),
                "median_ms": float(row["50%"]),
                "p95_ms": float(row["95%"]),
                "max_ms": float(row["Max Response Time"]),
            }
        )
    return out


def render_section(result: dict) -> str:
    m = result["machine"]
    by_page = {f["page"]: f for f in result["pages"]}
    total = by_page.get("Aggregated", {})
    lines = [
        SECTION,
        "",
        f"Run on {result['date']} by `bench/load_test.py` ({result['duration']} of load after a "
        f"{result['ramp_seconds']:.0f}-second ramp at {plan.SPAWN_RATE} users a second).",
        "",
        f"Machine: {m['nproc']} CPU cores ({m['cpu']}), {m['ram_gib']} GiB RAM; Python "
        f"{m['python']}; PostgreSQL {m['postgresql']}; Redis {m['redis']}; gunicorn "
        f"{m['gunicorn']}; Celery worker (2 processes); Locust {m['locust']}. Load generator, "
        "app server, worker, PostgreSQL and Redis all share this one machine, on loopback, "
        "over plain HTTP (no TLS on loopback: SECURE_SSL_REDIRECT off, the clients send the "
        "Secure cookies back over HTTP; every other production setting as deployed).",
        "",
        f"Users: {plan.PARTICIPANTS} participants (each from its own loopback address, "
        f"{plan.PARTICIPANT_WAIT[0]}-{plan.PARTICIPANT_WAIT[1]} s between requests: open the "
        "link, press Start, open a questionnaire, save page after page with random answers, "
        f"submit each finished questionnaire), {plan.STAFF} signed-in staff (7 clinicians and 3 "
        f"managers per service, {plan.STAFF_WAIT[0]}-{plan.STAFF_WAIT[1]} s between pages: "
        "cohort list, cohort page, cohort dashboard, service dashboard), and one probe asking "
        f"for the sign-in page every {plan.TRIVIAL_EVERY} s as the trivial page. Data: 2 "
        "services, 20 cohorts whose baseline window is open today (10 participants each, 8 "
        "questionnaires and 22 pages per participant), 4 older cohorts with paper baselines.",
        "",
        f"Throughput: {total.get('rps', 0):.1f} requests a second in all, "
        f"{total.get('requests', 0)} requests, {total.get('failures', 0)} errors.",
        "",
        "| page type | requests | req/s | median ms | p95 ms | max ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for f in result["pages"]:
        lines.append(
            f"| {f['page']} | {f['requests']} | {f['rps']:.1f} | {f['median_ms']:.0f} | "
            f"{f['p95_ms']:.0f} | {f['max_ms']:.0f} | {f['failures']} |"
        )
    lines += [""]
    if result["failures"]:
        lines.append("Errors:")
        lines.append("")
        for failure in result["failures"]:
            lines.append(
                f"- {failure['Method']} {failure['Name']}: {failure['Error']} "
                f"({failure['Occurrences']}x)"
            )
        lines.append("")
    verdict = "met" if result["target_met"] else "MISSED"
    lines += [
        f"Questionnaire save p95 / trivial page p95 = {result['save_p95']:.0f} / "
        f"{result['trivial_p95']:.0f} ms = **{result['ratio']:.2f}x** "
        f"(target: at most {TARGET_RATIO:.0f}x, and no errors): target {verdict}.",
        "",
        f"CPU seconds used during the run: gunicorn {result['cpu']['gunicorn']:.0f}, "
        f"PostgreSQL {result['cpu']['postgres']:.0f}, Locust {result['cpu']['locust']:.0f}, "
        f"Celery {result['cpu']['celery']:.0f}, other processes on the machine "
        f"{result['cpu']['others']:.0f}; {result['cpu']['busy']:.0f} busy of "
        f"{result['cpu']['available']:.0f} available on {m['nproc']} cores over "
        f"{result['cpu']['wall']:.0f} s. Load average just before the run: "
        f"{result['cpu']['load_before']:.1f}.",
        "",
    ]
    profile = result.get("save_profile")
    if profile:
        lines += [
            f"One save profiled in-process afterwards (bench/load/profile_save.py): "
            f"{profile['queries']} queries, {profile['ms']:.0f} ms.",
            "",
        ]
    if result.get("notes"):
        lines += [result["notes"], ""]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace only this section, leaving the others' sections as they are."""
    current = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text.rstrip() + "\n\n", current, count=1)
    else:
        updated = current.rstrip() + "\n\n" + text.rstrip() + "\n"
    BENCHMARKS.write_text(updated.rstrip() + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="90s", help="Locust run time, e.g. 60s")
    parser.add_argument("--keep", action="store_true", help="keep the database and temp files")
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    parser.add_argument("--notes", default="", help="a paragraph added under the figures")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="sg-load-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.load.settings",
        "SAFEGROUND_ENV": "production",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        # Simulated participants' messages stay in files: a load test sends nothing.
        "ALLOW_FILE_MESSAGE_BACKENDS_IN_PRODUCTION": "true",
        "DATABASE_URL": f"postgres://root@127.0.0.1:5432/{DB_NAME}",
        "REDIS_URL": REDIS_URL,
        "SAFEGROUND_DATA_DIR": str(tmp / "data"),
        "LOAD_STATIC_ROOT": str(tmp / "static"),
        "SITE_URL": base,
        "LOG_LEVEL": "WARNING",
        "LOAD_FIXTURE": str(tmp / "fixture.json"),
        "PYTHONPATH": str(ROOT),
    }
    python = str(VENV_BIN / "python")
    procs = Processes()
    exit_code = 2
    try:
        log(f"temporary folder {tmp}")
        pg_version = recreate_database()
        redis_version = flush_redis()
        run([python, "manage.py", "migrate", "--noinput", "-v", "0"], env, "migrate")
        run([python, "manage.py", "collectstatic", "--noinput", "-v", "0"], env, "collectstatic")
        seeded = time.monotonic()
        log(run([python, "-m", "bench.load.seed", "--out", env["LOAD_FIXTURE"]], env, "seed"))
        log(f"seeding took {time.monotonic() - seeded:.0f} s")

        gunicorn = procs.start(
            "gunicorn",
            [
                str(VENV_BIN / "gunicorn"),
                "config.wsgi",
                "-w",
                str(WORKERS),
                "-b",
                f"127.0.0.1:{port}",
                "--timeout",
                "60",
            ],
            env,
            tmp / "gunicorn.log",
        )
        celery = procs.start(
            "celery worker",
            [str(VENV_BIN / "celery"), "-A", "config", "worker", "-c", "2", "-l", "INFO"],
            env,
            tmp / "celery.log",
        )
        wait_for_http(base + scenario.TRIVIAL_PATH, gunicorn)
        wait_for_line(tmp / "celery.log", r"ready\.", celery)

        # Counted from here, so the seeding and start-up are not in the figures.
        import psutil

        load_before = os.getloadavg()[0]
        busy_before = machine_busy_seconds()
        pg_before = postgres_cpu_seconds()
        app_before = cpu_seconds([gunicorn.pid]), cpu_seconds([celery.pid])
        wall_before = time.monotonic()
        prefix = tmp / "locust"
        users = plan.PARTICIPANTS + plan.STAFF + 1
        locust = procs.start(
            "locust",
            [
                str(VENV_BIN / "locust"),
                "-f",
                str(ROOT / "bench" / "load" / "locustfile.py"),
                "--headless",
                "-u",
                str(users),
                "-r",
                str(plan.SPAWN_RATE),
                "-t",
                args.duration,
                "--host",
                base,
                "--csv",
                str(prefix),
                "--only-summary",
                "--stop-timeout",
                "5",
                "--loglevel",
                "WARNING",
            ],
            env,
            tmp / "locust.log",
        )
        locust_proc = psutil.Process(locust.pid)
        locust_cpu = 0.0
        while locust.poll() is None:
            try:
                times = locust_proc.cpu_times()
                locust_cpu = times.user + times.system
            except psutil.NoSuchProcess:
                break
            time.sleep(0.5)
        wall = time.monotonic() - wall_before
        busy = machine_busy_seconds() - busy_before
        cpu = {
            "busy": busy,
            "load_before": load_before,
            "gunicorn": cpu_seconds([gunicorn.pid]) - app_before[0],
            "celery": cpu_seconds([celery.pid]) - app_before[1],
            "postgres": postgres_cpu_seconds() - pg_before,
            "locust": locust_cpu,
            "wall": wall,
            "available": wall * (os.cpu_count() or 1),
        }
        cpu["others"] = busy - sum(cpu[k] for k in ("gunicorn", "celery", "postgres", "locust"))
        rows, failures = read_stats(prefix)
        pages = figures(rows)
        by_page = {f["page"]: f for f in pages}
        if scenario.SAVE not in by_page or scenario.TRIVIAL not in by_page:
            raise RuntimeError("Locust recorded no saves or no trivial page:\n" + procs.tail())

        fixture = json.loads(Path(env["LOAD_FIXTURE"]).read_text())
        profile_out = run(
            [python, "-m", "bench.load.profile_save", "--token", fixture["reserved"]],
            env,
            "profile_save",
        )
        profile = json.loads(profile_out.strip().splitlines()[-1])
        (tmp / "save_queries.json").write_text(json.dumps(profile, indent=2))

        save_p95 = by_page[scenario.SAVE]["p95_ms"]
        trivial_p95 = by_page[scenario.TRIVIAL]["p95_ms"]
        errors = by_page["Aggregated"]["failures"]
        ratio = save_p95 / trivial_p95 if trivial_p95 else float("inf")
        target_met = errors == 0 and ratio <= TARGET_RATIO
        result = {
            "date": datetime.date.today().isoformat(),
            "duration": args.duration,
            "ramp_seconds": users / plan.SPAWN_RATE,
            "machine": machine(pg_version, redis_version),
            "pages": pages,
            "failures": failures,
            "save_p95": save_p95,
            "trivial_p95": trivial_p95,
            "ratio": ratio,
            "target_met": target_met,
            "cpu": cpu,
            "save_profile": profile,
            "notes": args.notes,
        }
        (tmp / "result.json").write_text(json.dumps(result, indent=2))
        section = render_section(result)
        print(section)
        if not args.no_write:
            write_section(section)
            log(f"wrote the '{SECTION[3:]}' section of {BENCHMARKS}")
        if args.keep:
            log(f"save queries and full figures: {tmp}/save_queries.json, {tmp}/result.json")
        exit_code = 0 if target_met else 1
    except Exception as exc:
        log(f"run failed: {exc}")
        if procs.started:
            print(procs.tail(), file=sys.stderr)
    finally:
        procs.stop_all()
        if not args.keep:
            try:
                drop_database()
                flush_redis()
            except Exception as exc:  # the run's own result matters more than tidying
                log(f"could not tidy the database or Redis: {exc}")
            shutil.rmtree(tmp, ignore_errors=True)
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main())
