"""Reminders dispatch benchmark: one full dispatcher run over many due messages, in-process.

    DATABASE_URL=postgres://root@127.0.0.1:5432/sg_d_bench \
        .venv/bin/python bench/reminders_dispatch.py

Lays out 100,000 participants, each with an open questionnaire window, through bulk_create
(once). Then, for each batch size N, writes one invitation per participant directly (N due
now, the rest tomorrow, so the queue always holds 100,000 rows), and times one full
dispatch (open/expire questionnaires, plan, sweep, claim, then every send) with the file
SMS backend, the sends run in this process instead of through a broker. Queries are
counted over the whole run with a connection execute wrapper (the counting part of
CaptureQueriesContext, without keeping a million query strings in memory).
The figures replace the "Reminders dispatch" section of BENCHMARKS.md.
"""

import argparse
import contextlib
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/sg_d_bench")
# Files go to a scratch folder, not ./data/outbox.
os.environ["SAFEGROUND_DATA_DIR"] = tempfile.mkdtemp(prefix="sg-reminders-bench-")
os.environ["SMS_BACKEND"] = "reminders.channels.sms.FileSmsBackend"

PEOPLE = 100_000
# Full runs (every message sent in this process) and dispatcher-only runs (plan, sweep and
# claim; the sends left to workers). A full run of 100,000 in one process takes over an
# hour on a small machine, so the 100,000 figure is the dispatcher's part.
FULL_BATCHES = (1_000, 10_000)
CLAIM_BATCHES = (1_000, 100_000)
SERVICE_NAME = "Reminders benchmark service"


def ensure_database(url: str) -> None:
    import psycopg
    from dj_database_url import parse

    cfg = parse(url)
    with psycopg.connect(
        host=cfg["HOST"],
        port=cfg["PORT"] or 5432,
        user=cfg["USER"],
        dbname="postgres",
        password=cfg["PASSWORD"] or None,
        autocommit=True,
    ) as admin:
        if not admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]
        ).fetchone():
            admin.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def lay_out(today: datetime.date) -> None:
    from accounts.models import Service
    from measures.models import Administration, Timepoint
    from participants.models import Participant
    from programmes.models import Cohort, Enrolment, Programme

    service = Service.objects.create(name=SERVICE_NAME, phone="0113 496 0000")
    programme = Programme.objects.get(key="cfgp-52", is_current=True)
    cohort = Cohort.objects.create(
        service=service,
        programme=programme,
        name="Benchmark cohort",
        start_date=today - datetime.timedelta(weeks=12),
        weekday=0,
        start_time=datetime.time(10),
        venue="Room 1",
        capacity=10,
    )
    timepoint = Timepoint.objects.get(programme=programme, key="week12")
    for start in range(0, PEOPLE, 10_000):
        people = Participant.objects.bulk_create(
            Participant(
                service=service,
                reference=f"B{n:06d}",
                given_name="Bench",
                family_name=f"Person{n}",
                mobile="+447700900123",
                preferred_channel="sms",
            )
            for n in range(start, start + 10_000)
        )
        enrolments = Enrolment.objects.bulk_create(
            Enrolment(cohort=cohort, participant=p, enrolled_on=cohort.start_date) for p in people
        )
        Administration.objects.bulk_create(
            Administration(
                enrolment=e,
                timepoint=timepoint,
                instrument_code="core10",
                opens_on=today - datetime.timedelta(days=1),
                closes_on=today + datetime.timedelta(days=20),
                due_on=today,
                status=Administration.Status.OPEN,
            )
            for e in enrolments
        )
        print(f"  laid out {start + 10_000:,} participants", flush=True)


def reset_messages(service) -> None:
    from django.db import connection

    from measures.models import ParticipantLink
    from reminders.models import Message

    Message.objects.filter(service=service).delete()
    ParticipantLink.objects.filter(participant__service=service).delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE reminders_message")


def due_messages(service, count: int, due_at) -> None:
    """One invitation for every participant, as planning would make them: `count` due now,
    the rest due tomorrow, so the queue holds 100,000 rows whatever the batch size."""
    from measures.models import Timepoint
    from programmes.models import Enrolment
    from reminders.models import Message

    enrolments = list(
        Enrolment.objects.filter(cohort__service=service)
        .order_by("pk")
        .values_list("pk", "participant_id")
    )
    timepoint = Timepoint.objects.get(
        programme__key="cfgp-52", programme__is_current=True, key="week12"
    )
    later = due_at + datetime.timedelta(days=1)
    Message.objects.bulk_create(
        (
            Message(
                service=service,
                participant_id=participant_id,
                enrolment_id=enrolment_id,
                timepoint=timepoint,
                kind="invitation",
                channel="sms",
                due_at=due_at if position < count else later,
            )
            for position, (enrolment_id, participant_id) in enumerate(enrolments)
        ),
        batch_size=5_000,
    )


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def run_batch(service, size: int, noon, *, send: bool = True, path: str = "single") -> dict:
    """One dispatcher run over `size` due invitations in this process, no provider limit.

    path "batched": each claim of REMINDERS_BATCH (250) sent as one batch (messages_send),
    as a send_batch task does. path "single": each message sent on its own (message_send),
    one prepare, provider call and record per message, as the one-task-per-message path did.
    """
    from django.conf import settings
    from django.db import connection

    from reminders import services, tasks
    from reminders.models import Message

    reset_messages(service)
    due_messages(service, size, noon - datetime.timedelta(hours=1))
    settings.REMINDERS_BATCH = 250 if send else size
    settings.REMINDERS_SEND_RATE_PER_MINUTE = 0
    outcomes: dict[str, int] = {}

    def send_here(claim):
        if not send:
            return
        if path == "batched":
            found = services.messages_send(ids=claim.ids, claim=claim.token, now=noon)
            for outcome in found.values():
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
            return
        for message_id in claim.ids:
            outcome = services.message_send(message_id=message_id, claim=claim.token, now=noon)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        report = tasks.dispatch(now=noon, enqueue=send_here, seconds=3600)
        elapsed = time.perf_counter() - started
    sent = Message.objects.filter(service=service, status="sent").count()
    return {
        "send": send,
        "path": path if send else "claim",
        "size": size,
        "claimed": report["claimed"],
        "sent": sent,
        "outcomes": {str(k): v for k, v in outcomes.items()},
        "seconds": elapsed,
        "per_second": (sent if send else report["claimed"]) / elapsed,
        "queries": counter.count,
        "queries_per_message": counter.count / size,
    }


# Burst: real worker processes through Redis against the fake provider (bench/fake_provider.py)

BURST = 5_000
BURST_WORKERS = 2
BURST_CONCURRENCY = 3


def cpu_sample() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def burst_messages(service, count: int, due_at) -> None:
    """`count` invitations due at the same moment, every other one an e-mail."""
    from participants.models import Participant

    due_messages(service, count, due_at)
    from reminders.models import Message

    ids = list(
        Message.objects.filter(service=service, due_at=due_at)
        .order_by("pk")
        .values_list("pk", "participant_id")
    )
    email_people = [pid for n, (_, pid) in enumerate(ids) if n % 2]
    email_messages = [mid for n, (mid, _) in enumerate(ids) if n % 2]
    Participant.objects.filter(service=service).update(preferred_channel="sms", email="")
    for start in range(0, len(email_people), 2_000):
        chunk = email_people[start : start + 2_000]
        Participant.objects.filter(pk__in=chunk).update(
            preferred_channel="email", email="bench@example.invalid"
        )
    Message.objects.filter(pk__in=email_messages).update(channel="email")


def run_burst(service) -> dict:
    import json
    import shutil
    import urllib.request
    import uuid

    import redis
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    # Quiet for one second a day, so the run does not depend on the hour (the messages all
    # fall due at one moment, as they do at 09:00 when quiet hours end).
    from programmes.models import Programme
    from reminders import tasks
    from reminders.models import Message, ReminderPolicy

    programme = Programme.objects.get(key="cfgp-52", is_current=True)
    ReminderPolicy.objects.update_or_create(
        programme=programme,
        defaults={
            "quiet_from": datetime.time(23, 59, 59),
            "quiet_until": datetime.time(0, 0, 0),
        },
    )
    reset_messages(service)
    burst_messages(service, BURST, timezone.now() - datetime.timedelta(minutes=1))
    redis.Redis.from_url(settings.REDIS_URL).flushdb()

    scratch = Path(tempfile.mkdtemp(prefix="sg-burst-"))
    port = _free_port()
    fake = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "fake_provider.py"), str(port)], cwd=ROOT
    )
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SMS_BACKEND": "reminders.channels.sms.NotifySmsBackend",
        "NOTIFY_API_KEY": f"bench-{uuid.uuid4()}-{uuid.uuid4()}",
        "NOTIFY_SMS_TEMPLATE_ID": str(uuid.uuid4()),
        "NOTIFY_BASE_URL": base,
        "EMAIL_BACKEND": "bench.fake_provider.EmailBackend",
        "FAKE_PROVIDER_URL": base,
        "SAFEGROUND_PROBE_DIR": str(scratch / "probe"),
        "REMINDERS_SEND_RATE_PER_MINUTE": "3000",
        "REMINDERS_BATCH": "250",
        "PYTHONPATH": str(ROOT),
    }
    celery = str(Path(sys.executable).parent / "celery")
    workers = [
        subprocess.Popen(
            [
                celery,
                "-A",
                "config",
                "worker",
                "--include",
                "bench.worker_probe",
                "--loglevel=WARNING",
                f"--concurrency={BURST_CONCURRENCY}",
                "-n",
                f"bench-{n}-{uuid.uuid4().hex[:6]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=open(scratch / f"worker-{n}.log", "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for n in range(BURST_WORKERS)
    ]
    time.sleep(12)  # workers up and listening before the burst starts
    settings.REMINDERS_SEND_RATE_PER_MINUTE = 3000
    settings.REMINDERS_BATCH = 250
    counter = QueryCounter()
    busy0, total0 = cpu_sample()
    load0 = os.getloadavg()
    started_wall = timezone.now()
    started = time.perf_counter()
    sent = 0
    burst = Message.objects.filter(service=service, kind="invitation", due_at__lte=timezone.now())
    polls = 0
    try:
        with connection.execute_wrapper(counter):
            next_run = 0.0
            while time.perf_counter() - started < 600:
                if time.perf_counter() >= next_run:
                    # As the beat runs it: a run a minute, each claiming for up to 55 s.
                    next_run = time.perf_counter() + 60
                    tasks.dispatch()
                # Progress checks: two queries a round, left out of the dispatcher's count.
                polls += 2
                left = burst.filter(status__in=["pending", "sending"]).count()
                sent = burst.filter(status="sent").count()
                if not left:
                    break
                time.sleep(0.5)
    finally:
        dispatcher_queries = counter.count - polls
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, 15)
    elapsed = time.perf_counter() - started
    last = (
        burst.filter(status="sent").order_by("-sent_at").values_list("sent_at", flat=True).first()
    )
    busy1, total1 = cpu_sample()
    load1 = os.getloadavg()
    for worker in workers:
        worker.wait(timeout=60)
    stats = json.loads(urllib.request.urlopen(f"{base}/fake/stats").read())
    fake.terminate()
    fake.wait(timeout=10)
    probes = [json.loads(p.read_text()) for p in (scratch / "probe").glob("*.json")]
    shutil.rmtree(scratch, ignore_errors=True)
    references = {str(r) for r in burst.values_list("reference", flat=True)}
    statuses = dict(burst.values_list("status").annotate(n=models_count()).order_by())
    worker_queries = sum(p["queries"] for p in probes)
    seconds = (last - started_wall).total_seconds() if last else elapsed
    return {
        "count": BURST,
        "sent": sent,
        "seconds": seconds,
        "per_second": sent / seconds,
        "dispatcher_queries": dispatcher_queries,
        "worker_queries": worker_queries,
        "queries_per_message": (dispatcher_queries + worker_queries) / BURST,
        "lost": len(references - set(stats["reference_list"])),
        "duplicates": stats["duplicates"],
        "rejected": stats["rejected"],
        "lookups": stats["lookups"],
        "sessions": stats["sessions"],
        "peak_in_one_second": stats["peak_in_one_second"],
        "statuses": statuses,
        "probes": sorted(probes, key=lambda p: p["pid"]),
        "cpu_busy": (busy1 - busy0) / max(1, total1 - total0),
        "load": (load0, load1),
    }


def models_count():
    from django.db.models import Count

    return Count("id")


def burst_line(r: dict) -> str:
    return (
        f"burst: {r['count']} sent in {r['seconds']:.1f} s ({r['per_second']:.1f}/s; provider "
        f"cap 50/s), {r['queries_per_message']:.3f} queries per message, {r['lost']} lost, "
        f"{r['duplicates']} duplicates"
    )


def print_burst(r: dict) -> None:
    print(f"elapsed: {r['seconds']:.1f} s for {r['sent']:,} sent; statuses {r['statuses']}")
    print(f"messages a second: {r['per_second']:.1f}")
    print(
        f"queries: dispatcher {r['dispatcher_queries']:,}, workers {r['worker_queries']:,}; "
        f"{r['queries_per_message']:.3f} per message"
    )
    for p in r["probes"]:
        print(
            f"worker process {p['pid']}: peak memory {p['peak_mib']:.0f} MiB, "
            f"{p['tasks']} batches, {p['queries']:,} queries"
        )
    print(
        f"provider: {r['rejected']} calls refused at the cap, {r['lookups']} look-ups, "
        f"{r['sessions']} mail sessions, at most {r['peak_in_one_second']} calls in one second"
    )
    print(
        f"machine: CPU {r['cpu_busy']:.0%} busy over the run (both cores, every user); "
        f"load average {r['load'][0][0]:.1f} before, {r['load'][1][0]:.1f} after"
    )
    print(burst_line(r))


def machine() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    return {
        "nproc": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
        "python": platform.python_version(),
        "postgres": postgres,
        "cpu": platform.processor() or platform.machine(),
    }


def write_section(results: list[dict], info: dict, run_on: str) -> str:
    lines = [
        "## Reminders dispatch",
        "",
        "`bench/reminders_dispatch.py`: one full dispatcher run (`reminders.tasks.dispatch`:",
        "open and expire questionnaires, plan, sweep, claim) over N due invitations, each to a",
        "different participant, with every send run in the same process (no broker) through",
        "the file SMS backend: a fresh hashed link per message, the service's wording, a JSON",
        "file per text, and the row marked sent. 100,000 participants with an open window and",
        "100,000 message rows (N due now, the rest tomorrow) are in the database for every",
        "batch size. Queries are counted over the whole run.",
        "",
        f"Run on {run_on}: {info['nproc']} CPUs, Python {info['python']}, "
        f"PostgreSQL {info['postgres']}, one process.",
        "",
        "| run | due messages | claimed | sent | seconds | messages per second "
        "| queries | queries per message |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        kind = (
            "full: dispatch and every send" if r["send"] else "dispatcher only: plan, sweep, claim"
        )
        lines.append(
            f"| {kind} | {r['size']:,} | {r['claimed']:,} | {r['sent']:,} | {r['seconds']:.1f} "
            f"| {r['per_second']:,.0f} | {r['queries']:,} | {r['queries_per_message']:.3f} |"
        )
    full = [r for r in results if r["send"]]
    claim = [r for r in results if not r["send"]]
    lines += [""]
    if len(full) > 1:
        lines.append(
            f"Full runs: {full[0]['queries_per_message']:.2f} queries per message at "
            f"{full[0]['size']:,} and {full[-1]['queries_per_message']:.2f} at "
            f"{full[-1]['size']:,}. Each send costs the same fixed set of queries (lock and load "
            "the row, the window check, the policy, the wording, the day slot, the link and its "
            "audit row, the attempt, the sent mark), whatever the batch."
        )
    if len(claim) > 1:
        lines.append("")
        lines.append(
            f"Dispatcher only: {claim[0]['queries']:,} queries for {claim[0]['size']:,} due and "
            f"{claim[-1]['queries']:,} for {claim[-1]['size']:,}: planning, sweeping and claiming "
            "are set-based, a fixed number of statements per run whatever the batch."
        )
    lines += [
        "",
        "Messages per second in a full run is one process doing everything, on a shared",
        "two-CPU machine with other work running; the sends are what costs, and a deployment",
        "spreads them over several worker processes, each taking ids from the queue.",
        "A full run of 100,000 in one process would take over an hour at this rate, so the",
        "100,000 row is the dispatcher's part; its sends would cost the per-message figure above.",
        "",
    ]
    return "\n".join(lines)


def replace_section(text: str, section: str, marker: str = "## Reminders dispatch") -> str:
    if marker not in text:
        return (text.rstrip() + "\n\n" + section) if text.strip() else "# Benchmarks\n\n" + section
    start = text.index(marker)
    rest = text[start + len(marker) :]
    following = rest.find("\n## ")
    end = len(text) if following == -1 else start + len(marker) + following + 1
    return text[:start] + section + text[end:]


def main() -> None:
    import signal

    # A timeout's SIGTERM ends the run through its finally blocks (workers stopped).
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--full", default=",".join(str(b) for b in FULL_BATCHES))
    parser.add_argument("--claim-only", default=",".join(str(b) for b in CLAIM_BATCHES))
    parser.add_argument(
        "--scale",
        action="store_true",
        help="The burst through real workers and the fake provider, then 10,000 sends in "
        "this process batched and a sample sent one by one; writes 'Reminders at scale'.",
    )
    parser.add_argument("--single-sample", type=int, default=1_000)
    parser.add_argument("--burst-only", type=int, default=0, help="A burst of N, no writing.")
    parser.add_argument("--prepare", action="store_true", help="Lay out the data and stop.")
    parser.add_argument("--people", type=int, default=PEOPLE)
    args = parser.parse_args()
    globals()["PEOPLE"] = args.people
    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import Service
    from reminders import schedule

    call_command("migrate", verbosity=0)
    today = timezone.localdate()
    noon = schedule.local_at(today, datetime.time(12))
    service = Service.objects.filter(name=SERVICE_NAME).first()
    if service is None:
        print(f"Laying out {PEOPLE:,} participants with an open window")
        lay_out(today)
        service = Service.objects.get(name=SERVICE_NAME)
    # Windows are relative to the day the data was made; keep them open today.
    from measures.models import Administration

    Administration.objects.filter(enrolment__cohort__service=service).update(
        opens_on=today - datetime.timedelta(days=1),
        closes_on=today + datetime.timedelta(days=20),
        status=Administration.Status.OPEN,
    )
    if args.prepare:
        return
    if args.burst_only:
        globals()["BURST"] = args.burst_only
        print_burst(run_burst(service))
        return
    if args.scale:
        run_scale(service, noon, today, args)
        return
    results = []
    runs = [(int(b), True) for b in args.full.split(",") if b] + [
        (int(b), False) for b in args.claim_only.split(",") if b
    ]
    for size, send in runs:
        result = run_batch(service, size, noon, send=send)
        print(
            f"{size:>7,} due ({'full' if send else 'dispatcher only'}): "
            f"sent {result['sent']:,}, claimed {result['claimed']:,} in {result['seconds']:.1f}s "
            f"= {result['per_second']:,.0f}/s; {result['queries']:,} queries, "
            f"{result['queries_per_message']:.2f} per message; {result['outcomes']}",
            flush=True,
        )
        results.append(result)
    info = machine()
    section = write_section(results, info, today.isoformat())
    print(section)
    if not args.no_write:
        path = ROOT / "BENCHMARKS.md"
        path.write_text(replace_section(path.read_text() if path.exists() else "", section))


def run_scale(service, noon, today, args) -> None:
    burst = run_burst(service)
    print_burst(burst)
    batched = run_batch(service, 10_000, noon, path="batched")
    print(f"batched, one process: {batched}", flush=True)
    single = run_batch(service, args.single_sample, noon, path="single")
    print(f"one by one, one process: {single}", flush=True)
    ratio = batched["per_second"] / single["per_second"]
    print(
        f"10,000 batched at {batched['per_second']:.0f}/s ({batched['queries_per_message']:.3f} "
        f"queries per message) against one by one at {single['per_second']:.0f}/s "
        f"({single['queries_per_message']:.2f}): {ratio:.1f}x"
    )
    print(burst_line(burst))
    section = scale_section(burst, batched, single, machine(), today.isoformat())
    if not args.no_write:
        path = ROOT / "BENCHMARKS.md"
        path.write_text(replace_section(path.read_text(), section, "## Reminders at scale"))


def scale_section(burst, batched, single, info, run_on) -> str:
    probes = "; ".join(f"{p['peak_mib']:.0f} MiB ({p['tasks']} batches)" for p in burst["probes"])
    ratio = batched["per_second"] / single["per_second"]
    return "\n".join(
        [
            "## Reminders at scale",
            "",
            "`bench/reminders_dispatch.py --scale`. **Burst**: 5,000 invitations due at the same",
            "moment (every other one an e-mail), as at 09:00 when quiet hours end; "
            f"{BURST_WORKERS} Celery worker",
            f"processes ({BURST_CONCURRENCY} pool processes each) through Redis; the dispatcher",
            "claiming 250 at a time at `REMINDERS_SEND_RATE_PER_MINUTE` (3,000, the default);",
            "the provider replaced by `bench/fake_provider.py`, which takes 50 ms a call,",
            "refuses (429) any call past 50 in one second and records every reference. Texts",
            "go through the real Notify backend pointed at it, e-mails through a mail backend",
            "holding one connection per sending thread (a batch sends 4 calls at a time,",
            "`REMINDERS_SEND_CONCURRENCY`). Queries are counted in the dispatcher and in",
            "every pool process (`bench/worker_probe.py`).",
            "",
            f"Run on {run_on}: {info['nproc']} CPUs shared with other users' work, Python "
            f"{info['python']}, PostgreSQL {info['postgres']}.",
            "",
            "| figure | value |",
            "|---|---:|",
            f"| sent | {burst['sent']:,} of {burst['count']:,} |",
            f"| elapsed (first claim to last sent mark) | {burst['seconds']:.1f} s |",
            f"| messages a second | {burst['per_second']:.1f} (cap 50) |",
            f"| queries per message (dispatcher {burst['dispatcher_queries']:,}, "
            f"workers {burst['worker_queries']:,}) | {burst['queries_per_message']:.3f} |",
            f"| lost / duplicates | {burst['lost']} / {burst['duplicates']} |",
            f"| calls refused at the cap | {burst['rejected']} |",
            f"| most calls in one second | {burst['peak_in_one_second']} |",
            f"| mail sessions (at most 4 a batch: one per sending thread) | {burst['sessions']} |",
            f"| peak memory of each pool process | {probes} |",
            f"| machine CPU busy over the burst (all users) | {burst['cpu_busy']:.0%} |",
            f"| load average before / after | {burst['load'][0][0]:.1f} / "
            f"{burst['load'][1][0]:.1f} |",
            "",
            "```",
            burst_line(burst),
            "```",
            "",
            "**One process, no provider limit** (file SMS backend), 10,000 due invitations:",
            "",
            "| path | messages | seconds | messages a second | queries per message |",
            "|---|---:|---:|---:|---:|",
            f"| batched (`messages_send`, 250 a batch) | {batched['sent']:,} | "
            f"{batched['seconds']:.1f} | {batched['per_second']:.0f} | "
            f"{batched['queries_per_message']:.3f} |",
            f"| one by one (`message_send`, today's shape) | {single['sent']:,} | "
            f"{single['seconds']:.1f} | {single['per_second']:.0f} | "
            f"{single['queries_per_message']:.2f} |",
            "",
            f"Batched is **{ratio:.1f}x** the one-by-one rate in the same run (the one-by-one "
            f"path timed over {single['size']:,} messages, not 10,000, to keep the run short; "
            "its cost per message is flat, see the section above).",
            "",
        ]
    )


if __name__ == "__main__":
    main()
