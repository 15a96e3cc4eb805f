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


def run_batch(service, size: int, noon, *, send: bool = True) -> dict:
    from django.conf import settings
    from django.db import connection

    from reminders import services, tasks
    from reminders.models import Message

    reset_messages(service)
    due_messages(service, size, noon - datetime.timedelta(hours=1))
    settings.REMINDERS_BATCH = size
    outcomes: dict[str, int] = {}

    def send_here(claim):
        if not send:
            return
        for message_id in claim.ids:
            outcome = services.message_send(message_id=message_id, claim=claim.token, now=noon)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        report = tasks.dispatch(now=noon, enqueue=send_here)
        elapsed = time.perf_counter() - started
    sent = Message.objects.filter(service=service, status="sent").count()
    return {
        "send": send,
        "size": size,
        "claimed": report["claimed"],
        "sent": sent,
        "outcomes": outcomes,
        "seconds": elapsed,
        "per_second": (sent if send else report["claimed"]) / elapsed,
        "queries": counter.count,
        "queries_per_message": counter.count / size,
    }


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


def replace_section(text: str, section: str) -> str:
    marker = "## Reminders dispatch"
    if marker not in text:
        return (text.rstrip() + "\n\n" + section) if text.strip() else "# Benchmarks\n\n" + section
    start = text.index(marker)
    rest = text[start + len(marker) :]
    following = rest.find("\n## ")
    end = len(text) if following == -1 else start + len(marker) + following + 1
    return text[:start] + section + text[end:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--full", default=",".join(str(b) for b in FULL_BATCHES))
    parser.add_argument("--claim-only", default=",".join(str(b) for b in CLAIM_BATCHES))
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
