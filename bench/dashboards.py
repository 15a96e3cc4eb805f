"""Dashboard benchmark: a large service on PostgreSQL, timed through a real app server.

    DATABASE_URL=postgres://root@127.0.0.1:5432/sg_f_bench REDIS_URL=redis://127.0.0.1:6379/6 \\
        .venv/bin/python bench/dashboards.py

Generates (once; --regenerate to start again) one service with 200 cohorts and 2,000
participants starting over five years, with registers, questionnaire scores, service use and
occupation, all through bulk_create. Then starts gunicorn on a loopback port, signs a
clinician in by writing a session through the session engine, and times the cohort
dashboard, the service dashboard and a trivial signed-in page in the same run (warm-up, then
the median of several repetitions in interleaved rounds). Some rows first make a change the
page must catch up with (a new version of one cohort's figures, or of all of them), as a
register or a bulk import would, so the cost of the first view after a change is measured
as well as that of a view of unchanged data. Query counts come from the same pages rendered
in-process. The figures replace the generated part of the "Dashboards" section of
BENCHMARKS.md; the hand-written notes under it stay.
"""

import argparse
import datetime
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
DEFAULT_DB = "postgres://root@127.0.0.1:5432/sg_f_bench"

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


def generate(rng: random.Random) -> None:
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Membership, Service, User
    from measures.definitions import get_instrument
    from measures.models import Administration, Score, Timepoint
    from participants.models import Participant
    from programmes.models import Attendance, Cohort, Enrolment, GroupSession, Phase, Programme

    with transaction.atomic():
        service = Service.objects.create(name=SERVICE_NAME, phone="0113 496 0000")
        user = User.objects.create_user(CLINICIAN, password=None, first_name="Bench")
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
        for i in range(COHORTS):
            start = FIRST_START + datetime.timedelta(days=span * i // (COHORTS - 1))
            start -= datetime.timedelta(days=start.weekday())
            key = "peg-usual-care" if i % 3 == 2 else "cfgp-52"
            cohorts.append(
                Cohort(
                    service=service,
                    programme=programmes[key],
                    name=f"Cohort {i + 1:03d}",
                    start_date=start,
                    weekday=0,
                    start_time=datetime.time(10),
                    venue="Room 1",
                )
            )
        Cohort.objects.bulk_create(cohorts)

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
                n = c_index * PER_COHORT + p
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
                        Attendance(
                            session=session, enrolment=enrolment, status=rng.choice(statuses)
                        )
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

    from accounts.models import Service, User
    from dashboards import freshness
    from dashboards.figures import current_versions
    from dashboards.pages import figures_cache_key
    from measures.models import Administration, Score
    from participants.models import Participant
    from programmes.models import Attendance, Cohort, GroupSession

    call_command("migrate", verbosity=0)
    if args.regenerate:
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        call_command("migrate", verbosity=0)
    if not Service.objects.filter(name=SERVICE_NAME).exists():
        started = time.perf_counter()
        generate(random.Random(20261126))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"generated in {time.perf_counter() - started:.0f} s")

    service = Service.objects.get(name=SERVICE_NAME)
    user = User.objects.get(username=CLINICIAN)
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
        from django.utils import timezone

        from dashboards.cache import cache

        versions = current_versions(service_cohorts)
        cache.delete(figures_cache_key(service.pk, no_filters, versions, timezone.localdate()))

    def one_other_cohort_changed():
        freshness.mark_changed([other_id])

    def every_cohort_changed():
        freshness.mark_changed(all_ids)

    # (path, what is done before each request: nothing, or a change it must catch up with)
    pages = {
        TRIVIAL: ("/dashboards/", None),
        "home page": ("/", None),
        "cohort dashboard (10 people, 52 sessions)": (cohort_url, None),
        "cohort dashboard, after another cohort's data changed": (
            cohort_url,
            one_other_cohort_changed,
        ),
        "service dashboard (200 cohorts), nothing changed since the last view": (service_url, None),
        "service dashboard, page not cached (figures current)": (service_url, drop_service_page),
        "service dashboard, after one cohort's data changed": (
            service_url,
            one_other_cohort_changed,
        ),
        "service dashboard, after every cohort's data changed": (service_url, every_cohort_changed),
    }
    queries = {name: count_queries(path, session_key, cold) for name, (path, cold) in pages.items()}
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
        timings = _time_pages(port, pages, session_key, args.repetitions)
    finally:
        server.terminate()
        server.wait(timeout=10)

    report = _report(pages, timings, queries, sizes, args.repetitions)
    print(report)
    if not args.no_write:
        _write(report)


def _time_pages(port, pages, session_key, repetitions):
    import requests

    session = requests.Session()
    session.cookies.set("sessionid", session_key, domain="127.0.0.1")
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            session.get(base + "/dashboards/", timeout=30)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    timings = {name: [] for name in pages}
    for path, _cold in pages.values():
        for _ in range(3):
            response = session.get(base + path, allow_redirects=False, timeout=120)
            assert response.status_code == 200, (path, response.status_code)
    # Interleaved rounds, so drift in the machine's load hits every page alike.
    for _ in range(repetitions):
        for name, (path, before) in pages.items():
            if before:
                before()
            else:
                # The state the row names ("nothing changed since the last view"): an
                # earlier row may have changed data, so view the page once untimed first.
                session.get(base + path, allow_redirects=False, timeout=120)
            started = time.perf_counter()
            response = session.get(base + path, allow_redirects=False, timeout=120)
            timings[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    return timings


def _report(pages, timings, queries, sizes, repetitions) -> str:
    trivial = statistics.median(timings[TRIVIAL])
    lines = [
        "## Dashboards",
        "",
        f"`bench/dashboards.py`, run {datetime.date.today():%d %B %Y} on PostgreSQL with one "
        f"gunicorn sync worker on a loopback port, DEBUG off; {os.cpu_count()} CPUs. A clinician "
        "signed in through the session engine. Each page was warmed up three times, then "
        f"requested {repetitions} times in interleaved rounds; the median is shown. "
        "Rows that name a change make it before every request: a new version for one other "
        "cohort's stored figures (as a register or questionnaire does), or for all 200 (as a "
        'bulk import would), so the page first works those figures out again; "page not '
        "cached\" deletes the service page's rendering while the figures stay current. Query "
        "counts are for the same requests rendered in-process. Target: each dashboard within "
        "3x the trivial page.",
        "",
        "| data | rows |",
        "|---|---|",
        *[f"| {k} | {v:,} |" for k, v in sizes.items()],
        "",
        "| page | median ms | ratio to trivial page | queries | HTML KB | target met |",
        "|---|---|---|---|---|---|",
    ]
    for name in pages:
        median = statistics.median(timings[name])
        ratio = median / trivial
        count, size = queries[name]
        target = (
            "" if "dashboard" not in name or "index" in name else ("yes" if ratio <= 3 else "no")
        )
        lines.append(
            f"| {name} | {median:.1f} | {ratio:.1f}x | {count} | {size / 1024:.0f} | {target} |"
        )
    return "\n".join(lines) + "\n"


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
