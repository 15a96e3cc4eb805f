"""Against a real Redis and real worker processes: racing dispatchers, workers killed with
SIGKILL, and the broker stopped and restarted. Each test starts and stops its own worker."""

import contextlib
import datetime
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from measures.models import Administration, Timepoint
from participants.models import Participant
from programmes.models import Enrolment
from reminders.models import Message, ReminderPolicy
from tests.factories import CohortFactory, ServiceFactory

BASE_DIR = Path(settings.BASE_DIR)
CELERY = str(Path(sys.executable).parent / "celery")


def _requirements() -> str:
    if not settings.REDIS_URL:
        return "needs a real Redis: set REDIS_URL (CI does)"
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        return "needs PostgreSQL shared with the worker: set DATABASE_URL (CI does)"
    return ""


pytestmark = [
    pytest.mark.services,
    # serialized_rollback: the default programmes and timepoints come from data migrations,
    # which the flush after a transactional test would otherwise wipe for the next one.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(bool(_requirements()), reason=_requirements() or "ok"),
]


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Stack:
    """Environment for worker and dispatcher processes pointing at the test database."""

    def __init__(self, tmp_path: Path, redis_url: str, **extra):
        self.tmp = tmp_path
        self.redis_url = redis_url
        self.env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": redis_url,
            "SAFEGROUND_DATA_DIR": str(tmp_path),
            "SMS_BACKEND": "reminders.channels.sms.FakeSmsBackend",
            "REMINDERS_BATCH": "25",
            **extra,
        }
        self.workers: list[subprocess.Popen] = []

    def start_worker(self) -> subprocess.Popen:
        log = open(self.tmp / f"worker-{len(self.workers)}.log", "w")  # noqa: SIM115
        worker = subprocess.Popen(
            [
                CELERY,
                "-A",
                "config",
                "worker",
                "--loglevel=WARNING",
                "--concurrency=4",
                "-n",
                f"test-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers.append(worker)
        return worker

    def kill(self, worker: subprocess.Popen) -> None:
        """SIGKILL the worker and its pool children at once, as a machine failure would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)

    def stop_all(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.kill(worker)

    def manage(self, *args, background=False):
        command = [sys.executable, "manage.py", *args]
        if background:
            return subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        return subprocess.run(
            command, cwd=BASE_DIR, env=self.env, capture_output=True, text=True, check=True
        )

    def _per_reference(self, name: str) -> Counter:
        folder = self.tmp / "outbox" / "fake-sms" / name
        if not folder.exists():
            return Counter()
        return Counter(p.name.split(".")[0] for p in folder.iterdir())

    def deliveries(self) -> Counter:
        """Texts the fake provider accepted, per reference. Like GOV.UK Notify it accepts
        a repeat under the same reference, so a count above 1 is a text sent twice."""
        return self._per_reference("delivered")

    def found(self) -> Counter:
        """Look-ups by reference that found a text already accepted (so not sent again)."""
        return self._per_reference("found")

    def calls(self) -> Counter:
        folder = self.tmp / "outbox" / "fake-sms" / "calls"
        if not folder.exists():
            return Counter()
        return Counter(p.name.split(".")[0] for p in folder.iterdir())


def _flush(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def due_messages(count: int) -> list[Message]:
    """`count` invitations due a minute ago, one per participant, each with an open window."""
    service = ServiceFactory()
    cohort = CohortFactory(service=service)
    # Quiet for one second a day, so the test does not depend on the hour it runs at.
    ReminderPolicy.objects.create(
        programme=cohort.programme,
        quiet_from=datetime.time(23, 59, 59),
        quiet_until=datetime.time(0, 0, 0),
    )
    timepoint = Timepoint.objects.get(programme=cohort.programme, key="week12")
    today = timezone.localdate()
    participants = Participant.objects.bulk_create(
        Participant(
            service=service,
            reference=f"W{n:05d}",
            given_name="Test",
            family_name=f"Person{n}",
            mobile="+447700900123",
            preferred_channel="sms",
        )
        for n in range(count)
    )
    enrolments = Enrolment.objects.bulk_create(
        Enrolment(cohort=cohort, participant=p, enrolled_on=cohort.start_date) for p in participants
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
    due = timezone.now() - datetime.timedelta(minutes=1)
    return Message.objects.bulk_create(
        Message(
            service=service,
            participant=e.participant,
            enrolment=e,
            timepoint=timepoint,
            kind="invitation",
            channel="sms",
            due_at=due,
        )
        for e in enrolments
    )


def wait_until_all_sent(count: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    sent = 0
    while time.monotonic() < deadline:
        sent = Message.objects.filter(status="sent").count()
        if sent == count:
            return sent
        time.sleep(0.5)
    return sent


@pytest.fixture
def shared_redis():
    _flush(settings.REDIS_URL)
    yield settings.REDIS_URL
    _flush(settings.REDIS_URL)


def test_two_dispatchers_racing_over_500_send_each_once(tmp_path, shared_redis):
    messages = due_messages(500)
    stack = Stack(tmp_path, shared_redis)
    try:
        stack.start_worker()
        racers = [stack.manage("dispatch_reminders", "--drain", background=True) for _ in "ab"]
        outputs = [racer.communicate(timeout=120)[0] for racer in racers]
        assert all("Claimed in all: " in out for out in outputs), outputs
        claimed = [int(out.rsplit("Claimed in all: ", 1)[1].split()[0]) for out in outputs]
        sent = wait_until_all_sent(500, timeout=180)
    finally:
        stack.stop_all()
    deliveries = stack.deliveries()
    print(
        f"\nracing dispatchers claimed {claimed}; sent {sent}; calls {sum(stack.calls().values())}"
    )
    assert sum(claimed) == 500
    assert all(claimed), "both dispatchers should have taken a share"
    assert sent == 500
    assert set(deliveries) == {str(m.reference) for m in messages}
    assert max(deliveries.values()) == 1
    assert max(stack.calls().values()) == 1


def test_worker_killed_repeatedly_loses_and_doubles_nothing(tmp_path, shared_redis, settings):
    from reminders import tasks

    settings.REMINDERS_BATCH = 25  # as the worker processes have it
    messages = due_messages(200)
    stack = Stack(tmp_path, shared_redis, SAFEGROUND_FAKE_SMS_DELAY="0.1")
    kills = 0
    try:
        tasks.dispatch()  # claims all 200, 25 to a batch, and queues one task per batch
        stack.manage("dispatch_reminders", "--drain")
        for _ in range(4):
            before = Message.objects.filter(status="sent").count()
            worker = stack.start_worker()
            # Kill mid-batch: once this worker has sent some, while others are in flight.
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                if Message.objects.filter(status="sent").count() >= before + 15:
                    break
                time.sleep(0.05)
            stack.kill(worker)
            kills += 1
        sent_before_recovery = Message.objects.filter(status="sent").count()
        # Every worker is dead: whatever is still "sending" belonged to one of them.
        stack.manage("sweep_reminders", "--older-than", "0")
        stack.start_worker()
        stack.manage("dispatch_reminders", "--drain")
        sent = wait_until_all_sent(200, timeout=180)
    finally:
        stack.stop_all()
    deliveries, calls, found = stack.deliveries(), stack.calls(), stack.found()
    print(
        f"\nkilled {kills} times; sent before recovery {sent_before_recovery}; sent {sent}; "
        f"delivered {len(deliveries)} ({sum(deliveries.values())} texts accepted); "
        f"provider calls {sum(calls.values())}; texts a killed worker had sent before its "
        f"sent mark, found by reference and not sent again: {sum(found.values())}"
    )
    assert 0 < sent_before_recovery < 200, "the kills should have interrupted the batch"
    assert sent == 200
    assert set(deliveries) == {str(m.reference) for m in messages}
    # The fake provider, like Notify, accepts a repeat: each of these would have gone twice
    # without the look-up by reference.
    assert sum(found.values()) > 0
    assert max(deliveries.values()) == 1


def _free_port() -> int:
    # Test workers running in parallel (pytest-xdist) each look in a range of their own, so
    # two cannot both find the same port free and race to bind it.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    start = 6390 + 50 * int(worker.removeprefix("gw") or 0)
    for port in range(start, start + 50):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port for a private redis-server")


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own, on its own port, that the test may stop."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed")
    port = _free_port()
    command = [
        server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]

    class Private:
        url = f"redis://127.0.0.1:{port}/0"
        process = None

        def start(self):
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            for _ in range(50):
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        return
                time.sleep(0.1)
            raise RuntimeError("private redis-server did not start")

        def stop(self):
            if self.process and self.process.poll() is None:
                self.process.terminate()
                self.process.wait(timeout=10)

    private = Private()
    private.start()
    yield private
    private.stop()


def test_with_redis_stopped_participants_answer_and_overdue_messages_go_later(
    tmp_path, private_redis
):
    from measures import links
    from measures import services as measures_services

    messages = due_messages(30)
    stack = Stack(tmp_path, private_redis.url)
    try:
        stack.start_worker()
        private_redis.stop()

        # The participant's path: a link, saved answers, a submit. None of it needs the broker.
        answering = messages[0]
        token = links.link_issue(
            participant=answering.participant,
            expires_at=timezone.now() + datetime.timedelta(days=1),
        )
        assert links.link_find(token) is not None
        administration = Administration.objects.get(enrolment=answering.enrolment)
        measures_services.response_save(
            administration_id=administration.pk, answers={str(i): 0 for i in range(1, 11)}
        )
        measures_services.response_submit(administration_id=administration.pk)
        administration.refresh_from_db()
        assert administration.status == Administration.Status.COMPLETED

        # A dispatcher run while the broker is down claims nothing it cannot queue.
        failed_run = subprocess.run(
            [sys.executable, "manage.py", "dispatch_reminders"],
            cwd=BASE_DIR,
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        stuck_claimed = Message.objects.filter(status="sending").count()
        print(
            f"\ndispatcher with Redis down: exit {failed_run.returncode}; "
            f"rows left claimed: {stuck_claimed}"
        )

        private_redis.start()
        stack.stop_all()
        stack.start_worker()
        stack.manage("sweep_reminders", "--older-than", "0")
        stack.manage("dispatch_reminders", "--drain")
        sent = wait_until_all_sent(29, timeout=120)
    finally:
        stack.stop_all()
    answering.refresh_from_db()
    assert answering.status == "cancelled" and answering.last_error == "completed"
    assert sent == 29
    deliveries = stack.deliveries()
    assert set(deliveries) == {str(m.reference) for m in messages[1:]}
    assert max(deliveries.values()) == 1
