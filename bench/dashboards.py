"""Dashboard benchmark: a service at the demo scale and one five times it, on PostgreSQL,
timed through a real app server in one run.

    DATABASE_URL=postgres://root@127.0.0.1:5432/sg_flat_bench REDIS_URL=redis://127.0.0.1:6379/11 \\
        .venv/bin/python bench/dashboards.py

Generates (once; --regenerate to start again) two services in the same database: 1x, 200
cohorts and 2,000 participants, and 5x, 1,000 cohorts and 10,000 participants, each
starting over five years, with registers, questionnaire scores, service use and occupation,
all through bulk_create, a hundred cohorts at a time. Then starts gunicorn on a loopback
port, signs a clinician of each service in by writing a session through the session
engine, and times, for each scale, the cohort dashboard, the service dashboard, the home
page and a trivial signed-in page in the same run (warm-up, then the median of several
repetitions in interleaved rounds over every page of both scales). Some rows first make a
change the page must catch up with (a new version of one cohort's figures, or of all of
them), as a register or a bulk import would, so the cost of the first view after a change
is measured as well as that of a view of unchanged data. Query counts come from the same
pages rendered in-process. The machine's CPU busy share (/proc/stat) and load average over
the timed rounds are printed beside the ratios: on a saturated machine they mean little.
The figures replace the generated part of the "Dashboards" section of BENCHMARKS.md; the
hand-written notes under it stay.
"""

import argparse
import datetime
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
DEFAULT_DB = "postgres://root@127.0.0.1:5432/sg_flat_bench"

COHORTS = 200
PER_COHORT = 10
FIRST_START = datetime.date(2020, 1, 6)
LAST_START = datetime.date(2024, 12, 30)
TODAY = datetime.date(2026, 11, 26)
SERVICE_NAME = "Benchmark service"
CLINICIAN = "bench_clinician"
TRIVIAL = "trivial signed-in page (dashboards index)"


def ensure_database(url: str) -> None:
    import psycopg
    from dj_database_url import parse

    cfg = parse(url)
    admin = psycopg.connect(
        host=cfg["HOST"],
        port=cfg["PORT"] or 5432,
        user=cfg["USER"],
        dbname="postgres",
        password=cfg["PASSWORD"] or None,
        autocommit=True,
    )
    with admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]
        ).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


@dataclass(frozen=True)
class Scale:
    label: str
    cohorts: int
    service_name: str
    clinician: str


# The demo scale and five times it, as two services in the same database, timed in one run.
SCALES = (
    Scale("1x", COHORTS, SERVICE_NAME, CLINICIAN),
    Scale("5x", 5 * COHORTS, f"{SERVICE_NAME} 5x", f"{CLINICIAN}_5x"),
)
# Cohorts laid out per transaction: bounds the rows held in memory at once.
CHUNK = 100


def generate(rng: random.Random, scale: Scale) -> None:
    from django.db import transaction

    from accounts.models import Membership, Service, User
    from measures.models import Timepoint
    from programmes.models import Cohort, Phase, Programme

    with transaction.atomic():
        service = Service.objects.create(name=scale.service_name, phone="0113 496 0000")
        user = User.objects.create_user(scale.clinician, password=None, first_name="Bench")
        Membership.objects.create(user=user, service=service, role=Membership.Role.CLINICIAN)
        programmes = {p.key: p for p in Programme.objects.filter(is_current=True)}
        phases = {
            key: list(Phase.objects.filter(programme=p).order_by("order"))
            for key, p in programmes.items()
        }
        timepoints = {
            key: list(Timepoint.objects.filter(programme=p).order_by("week"))
            for key, p in programmes.items()
        }
        span = (LAST_START - FIRST_START).days
        cohorts = []
        for i in range(scale.cohorts):
            start = FIRST_START + datetime.timedelta(days=span * i // (scale.cohorts - 1))
            start -= datetime.timedelta(days=start.weekday())
            key = "peg-usual-care" if i % 3 == 2 else "cfgp-52"
            cohorts.append(
                Cohort(
                    service=service,
                    programme=programmes[key],
                    name=f"Cohort {i + 1:04d}",
                    start_date=start,
                    weekday=0,
                    start_time=datetime.time(10),
                    venue="Room 1",
                )
            )
        Cohort.objects.bulk_create(cohorts)
    for first in range(0, len(cohorts), CHUNK):
        with transaction.atomic():
            _generate_cohorts(
                rng, service, cohorts[first : first + CHUNK], first, phases, timepoints
            )


def _generate_cohorts(rng, service, cohorts, first, phases, timepoints) -> None:
    from django.utils import timezone

    from measures.definitions import get_instrument
    from measures.models import Administration, Score
    from participants.models import Participant
    from programmes.models import Attendance, Enrolment, GroupSession

    sessions = []
    for cohort in cohorts:
        for phase in phases[cohort.programme.key]:
            if not phase.group_meets:
                continue
            for week in range(phase.start_week, phase.end_week + 1):
                date = cohort.week_date(week)
                sessions.append(
                    GroupSession(
                        cohort=cohort,
                        phase=phase,
                        number=week,
                        week=week,
                        planned_date=date,
                        date=date,
                        start_time=datetime.time(10),
                        register_taken_at=timezone.now(),
                    )
                )
    GroupSession.objects.bulk_create(sessions, batch_size=5000)

    participants, enrolments = [], []
    for c_index in range(len(cohorts)):
        for p in range(PER_COHORT):
            n = (first + c_index) * PER_COHORT + p
            participants.append(
                Participant(
                    service=service,
                    reference=f"B{n:06d}",
                    given_name=f"Given{n}",
                    family_name=f"Family{n}",
                    date_of_birth=datetime.date(1960 + n % 40, 1 + n % 12, 1 + n % 28),
                    mobile="+447700900123",
                )
            )
    Participant.objects.bulk_create(participants, batch_size=5000)
    leave_week = {}
    for index, participant in enumerate(participants):
        cohort = cohorts[index // PER_COHORT]
        leaves = rng.random() < 0.25
        week = rng.randint(4, 45) if leaves else None
        finished = cohort.week_date(52) < TODAY
        status = (
            Enrolment.Status.WITHDRAWN
            if leaves
            else Enrolment.Status.COMPLETED
            if finished
            else Enrolment.Status.ACTIVE
        )
        ended = cohort.week_date(week) if leaves else cohort.week_date(52) if finished else None
        enrolments.append(
            Enrolment(
                cohort=cohort,
                participant=participant,
                status=status,
                enrolled_on=cohort.start_date,
                ended_on=ended,
                end_reason="Moved out of area"
                if leaves and rng.random() < 0.5
                else ("Found the group too hard" if leaves else ""),
            )
        )
        leave_week[index] = week
    Enrolment.objects.bulk_create(enrolments, batch_size=5000)

    by_cohort = {}
    for session in sessions:
        by_cohort.setdefault(session.cohort_id, []).append(session)
    attendance = []
    statuses = ["present"] * 14 + ["late", "left_early", "apologies", "dna", "dna"]
    for index, enrolment in enumerate(enrolments):
        last = leave_week[index] or 52
        for session in by_cohort[enrolment.cohort_id]:
            if session.week <= last and session.date <= TODAY:
                attendance.append(
                    Attendance(session=session, enrolment=enrolment, status=rng.choice(statuses))
                )
    Attendance.objects.bulk_create(attendance, batch_size=10000)

    administrations, score_values = [], []
    now = timezone.now()
    for index, enrolment in enumerate(enrolments):
        cohort = cohorts[index // PER_COHORT]
        key = cohort.programme.key
        gain = 0.16 if key == "cfgp-52" else 0.07
        person = {}
        for tp in timepoints[key]:
            due = cohort.start_date + datetime.timedelta(weeks=tp.week)
            gone = leave_week[index] is not None and tp.week > leave_week[index]
            for code in tp.instruments:
                done = due <= TODAY and not gone and rng.random() < 0.88
                status = (
                    Administration.Status.COMPLETED
                    if done
                    else Administration.Status.SCHEDULED
                    if due > TODAY
                    else Administration.Status.EXPIRED
                )
                admin = Administration(
                    enrolment=enrolment,
                    timepoint=tp,
                    instrument_code=code,
                    due_on=due,
                    opens_on=due + datetime.timedelta(days=tp.opens_days),
                    closes_on=due + datetime.timedelta(days=tp.closes_days),
                    status=status,
                    completed_at=now if done else None,
                    instrument_version="1",
                )
                administrations.append(admin)
                if done:
                    for scale, value in _values(rng, code, tp, gain, person, get_instrument):
                        score_values.append((admin, scale, value))
    Administration.objects.bulk_create(administrations, batch_size=10000)
    Score.objects.bulk_create(
        [
            Score(administration=admin, scale=scale, value=value, instrument_version="1")
            for admin, scale, value in score_values
        ],
        batch_size=10000,
    )


def _values(rng, code, tp, gain, person, get_instrument):
    instrument = get_instrument(code)
    progress = {0: 0.0, 12: 0.4, 32: 0.7, 52: 1.0, 104: 0.9}.get(tp.week, 0.5)
    if code == "service_use":
        base = {"baseline": 1.0, "week52": 0.7, "week104": 0.5}.get(tp.key, 1.0)
        return [
            (s.key, float(max(0, round(rng.expovariate(1 / (base * m))))))
            for s, m in zip(instrument.scales, (6, 0.6, 1.5, 4, 3, 2), strict=True)
        ]
    if code == "occupation":
        p = 0.2 + 0.1 * progress
        flags = {
            k: float(rng.random() < p)
            for k in ("employed", "education_or_training", "volunteering")
        }
        flags["engaged"] = float(any(flags.values()))
        return list(flags.items())
    out = []
    for scale in instrument.scales:
        low, high = scale.range_min, scale.range_max or scale.range_min + 40
        width = high - low
        key = (code, scale.key)
        if key not in person:
            person[key] = rng.uniform(0.45, 0.8)
        position = person[key] - gain * progress + rng.gauss(0, 0.06)
        if scale.higher_is == "better":
            position = 1 - position
        value = low + max(0.0, min(1.0, position)) * width
        value = round(value / 2) * 2 if code == "dass21" else round(value)
        out.append((scale.key, float(value)))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_for(user) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils.module_loading import import_string

    store = import_string(settings.SESSION_ENGINE + ".SessionStore")()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store["account_authentication_methods"] = [
        {"method": "password", "at": time.time(), "username": user.username},
        {"method": "mfa", "at": time.time(), "type": "totp", "id": 0},
    ]
    # allauth trusts the records only for the user they were made for.
    store["account_authentication_methods_user"] = str(user.pk)
    store.save()
    return store.session_key


def count_queries(path: str, session_key: str, before) -> tuple[int, int]:
    """(queries, HTML bytes) of the request, after one untimed request to warm up."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.cookies["sessionid"] = session_key
    client.get(path)
    if before:
        before()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(queries), len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--repetitions", type=int, default=15)
    parser.add_argument("--generate-only", action="store_true", help="lay out the data only")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit BENCHMARKS.md")
    args = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ["DEBUG"] = "false"
    database_url = os.environ["DATABASE_URL"]
    if not database_url.startswith("postgres"):
        sys.exit("The benchmark needs PostgreSQL: set DATABASE_URL.")
    if not os.environ.get("REDIS_URL"):
        sys.exit("The benchmark needs a Redis cache shared with the server: set REDIS_URL.")
    ensure_database(database_url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Service

    call_command("migrate", verbosity=0)
    if args.regenerate:
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        call_command("migrate", verbosity=0)
    for number, scale in enumerate(SCALES):
        if not Service.objects.filter(name=scale.service_name).exists():
            started = time.perf_counter()
            generate(random.Random(20261126 + number), scale)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            print(f"{scale.label} generated in {time.perf_counter() - started:.0f} s", flush=True)
    if args.generate_only:
        return

    pages, sizes, queries = {}, {}, {}
    for scale in SCALES:
        found, sizes[scale.label] = _scale_pages(scale)
        for name, page in found.items():
            queries[name] = count_queries(*page)
        pages.update(found)
    connection.close()

    port = free_port()
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ},
    )
    try:
        timings, machine = _time_pages(port, pages, args.repetitions)
    finally:
        server.terminate()
        server.wait(timeout=10)

    report = _report(pages, timings, queries, sizes, machine, args.repetitions)
    print(report)
    if not args.no_write:
        _write(report)


def _scale_pages(scale: Scale):
    """{row name: (path, session key, what is done before each request)} for one scale."""
    from django.utils import timezone

    from accounts.models import Service, User
    from dashboards import freshness, warm
    from dashboards.cache import cache
    from dashboards.figures import current_versions, digest
    from dashboards.pages import figures_cache_key
    from measures.models import Administration, Score
    from participants.models import Participant
    from programmes.models import Attendance, Cohort, GroupSession

    service = Service.objects.get(name=scale.service_name)
    user = User.objects.get(username=scale.clinician)
    cohort = (
        Cohort.objects.filter(service=service, programme__key="cfgp-52", start_date__year=2022)
        .order_by("start_date")
        .first()
    )
    sizes = {
        "cohorts": Cohort.objects.filter(service=service).count(),
        "participants": Participant.objects.filter(service=service).count(),
        "group sessions": GroupSession.objects.filter(cohort__service=service).count(),
        "attendance rows": Attendance.objects.filter(session__cohort__service=service).count(),
        "administrations": Administration.objects.filter(
            enrolment__cohort__service=service
        ).count(),
        "scores": Score.objects.filter(administration__enrolment__cohort__service=service).count(),
    }
    session_key = session_for(user)
    cohort_url = f"/dashboards/cohorts/{cohort.pk}/"
    service_url = f"/dashboards/services/{service.pk}/"
    service_cohorts = Cohort.objects.filter(service=service)
    all_ids = list(service_cohorts.values_list("id", flat=True))
    other_id = next(i for i in all_ids if i != cohort.pk)
    no_filters = {"programme": None, "year": None, "status": None}

    def drop_service_page():
        versions = current_versions(service_cohorts)
        state = digest(versions)
        for ready in (":models", ":pending"):
            cache.delete(
                figures_cache_key(service.pk, no_filters, state, timezone.localdate()) + ready
            )

    def one_other_cohort_changed():
        freshness.mark_changed([other_id])

    def every_cohort_changed():
        freshness.mark_changed(all_ids)

    mark = Attendance.objects.filter(session__cohort_id=other_id).order_by("pk").first()

    def one_mark_changed():
        # A register corrected: one mark of the other cohort between present and did not
        # attend, so its counts (and the page's figures) really change.
        mark.status = "dna" if mark.status == "present" else "present"
        mark.save()

    def one_mark_changed_and_refreshed():
        one_mark_changed()
        warm.refresh_changed()

    def one_other_cohort_changed_and_refreshed():
        # What the worker does a few seconds after the change commits
        # (DASHBOARDS_REFRESH_AFTER_CHANGE_SECONDS); here in this process, untimed.
        freshness.mark_changed([other_id])
        warm.refresh_changed()

    n = sizes["cohorts"]
    rows = {
        TRIVIAL: ("/dashboards/", None),
        "home page": ("/", None),
        "cohort dashboard (10 people, 52 sessions)": (cohort_url, None),
        "cohort dashboard, after another cohort's data changed, refreshed": (
            cohort_url,
            one_other_cohort_changed_and_refreshed,
        ),
        "cohort dashboard, after another cohort's data changed, before the refresh": (
            cohort_url,
            one_other_cohort_changed,
        ),
        f"service dashboard ({n} cohorts), nothing changed since the last view": (
            service_url,
            None,
        ),
        "service dashboard, page not cached (figures current)": (service_url, drop_service_page),
        "service dashboard, after one cohort's data changed, refreshed": (
            service_url,
            one_other_cohort_changed_and_refreshed,
        ),
        "service dashboard, after one cohort's data changed, before the refresh": (
            service_url,
            one_other_cohort_changed,
        ),
        "service dashboard, after a register mark of one cohort corrected, refreshed": (
            service_url,
            one_mark_changed_and_refreshed,
        ),
        "service dashboard, after a register mark of one cohort corrected, before the refresh": (
            service_url,
            one_mark_changed,
        ),
        "service dashboard, after every cohort's data changed": (service_url, every_cohort_changed),
    }
    return {
        (scale.label, name): (path, session_key, before) for name, (path, before) in rows.items()
    }, sizes


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of every CPU since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


def _time_pages(port, pages, repetitions):
    import requests

    sessions = {}
    for _path, key, _before in pages.values():
        if key not in sessions:
            sessions[key] = requests.Session()
            sessions[key].cookies.set("sessionid", key, domain="127.0.0.1")
    base = f"http://127.0.0.1:{port}"
    first = next(iter(sessions.values()))
    for _ in range(100):
        try:
            first.get(base + "/dashboards/", timeout=30)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    timings = {name: [] for name in pages}
    for path, key, _before in pages.values():
        for _ in range(3):
            response = sessions[key].get(base + path, allow_redirects=False, timeout=600)
            assert response.status_code == 200, (path, response.status_code)
    busy_before, total_before = _cpu_times()
    loads = []
    # Interleaved rounds, so drift in the machine's load hits every page alike.
    for _ in range(repetitions):
        loads.append(os.getloadavg()[0])
        for name, (path, key, before) in pages.items():
            session = sessions[key]
            if before:
                before()
            else:
                # The state the row names ("nothing changed since the last view"): an
                # earlier row may have changed data, so view the page once untimed first.
                session.get(base + path, allow_redirects=False, timeout=600)
            started = time.perf_counter()
            response = session.get(base + path, allow_redirects=False, timeout=600)
            timings[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    busy_after, total_after = _cpu_times()
    machine = {
        "busy": (busy_after - busy_before) / max(1, total_after - total_before),
        "load_mean": statistics.mean(loads),
        "load_max": max(loads),
    }
    return timings, machine


def _report(pages, timings, queries, sizes, machine, repetitions) -> str:
    labels = [scale.label for scale in SCALES]
    lines = [
        "## Dashboards",
        "",
        f"`bench/dashboards.py`, run {datetime.date.today():%d %B %Y} on PostgreSQL with one "
        f"gunicorn sync worker on a loopback port, DEBUG off; {os.cpu_count()} CPUs. Two "
        "services in one database, timed in the same run: 1x (the demo scale) and 5x. A "
        "clinician of each signed in through the session engine. Each page was warmed up "
        f"three times, then requested {repetitions} times in interleaved rounds (every page "
        "of both scales in each round); the median is shown, as a ratio to the same scale's "
        "trivial page. Rows that name a change make it before every request: a new version "
        "for one other cohort's stored figures with its data as it was (as a note edited or "
        "a register saved again does), one register mark of that cohort corrected between "
        "present and did not attend (its counts really change), or a new version for every "
        'cohort (as a bulk import would). "Refreshed": the worker\'s refresh that '
        "every committed change queues (dashboards.warm.refresh_changed, "
        "DASHBOARDS_REFRESH_AFTER_CHANGE_SECONDS after the commit) has run, as it has for "
        'any view more than a few seconds after the change; "before the refresh": the page '
        "works the changed figures out itself, as it does within those seconds or with no "
        'worker running. "Page not cached" deletes the service page\'s rendering while the '
        "figures stay current. Query counts are for the same requests rendered in-process. Target: "
        "at 5x, the service dashboard after one cohort changed and the cohort dashboard each "
        "within 3x the trivial page.",
        "",
        f"Machine during the timed rounds: CPU busy {machine['busy'] * 100:.0f}% of "
        f"{os.cpu_count()} CPUs (from /proc/stat: this benchmark, its server, PostgreSQL, "
        f"Redis and anything else running), load average {machine['load_mean']:.2f} "
        f"(highest {machine['load_max']:.2f}).",
        "",
        "| data | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
        *[
            f"| {k} | " + " | ".join(f"{sizes[label][k]:,}" for label in labels) + " |"
            for k in sizes[labels[0]]
        ],
        "",
        "| page | "
        + " | ".join(f"{label} ms | {label} ratio | {label} queries" for label in labels)
        + " | HTML KB (5x) | target met at 5x |",
        "|---|" + "---|---|---|" * len(labels) + "---|---|",
    ]
    names = list(dict.fromkeys(_row(name) for _label, name in pages))
    for name in names:
        cells = []
        for label in labels:
            found = [k for k in pages if k[0] == label and _row(k[1]) == _row(name)]
            key = found[0]
            trivial = statistics.median(timings[(label, TRIVIAL)])
            median = statistics.median(timings[key])
            count, _size = queries[key]
            cells.append(f"{median:.1f} | {median / trivial:.1f}x | {count}")
        last = found[0]
        ratio = statistics.median(timings[last]) / statistics.median(timings[(labels[-1], TRIVIAL)])
        # The two: the cohort dashboard, and the service dashboard after one cohort
        # changed (both ways: once the worker has refreshed, and before it has).
        targeted = (
            name.startswith("cohort dashboard (")
            or "after one cohort" in name
            or "one cohort corrected" in name
        )
        target = ("yes" if ratio <= 3 else "no") if targeted else ""
        lines.append(
            f"| {_row(name)} | "
            + " | ".join(cells)
            + f" | {queries[last][1] / 1024:.0f} | {target} |"
        )
    return "\n".join(lines) + "\n"


def _row(name: str) -> str:
    # The same row at every scale, whatever number of cohorts its name gives.
    return re.sub(r" \(\d+ cohorts\)", "", name)


def _write(report: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find("## Dashboards")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + report
    else:
        end = text.find("\n## ", start + 1)
        notes_at = text.find("### ", start)
        # Keep any hand-written notes (### headings) that follow the generated part.
        cut = notes_at if notes_at != -1 and (end == -1 or notes_at < end) else end
        tail = "" if cut == -1 else text[cut:].lstrip("\n")
        text = text[:start] + report + ("\n" + tail if tail else "")
    path.write_text(text)


if __name__ == "__main__":
    main()
