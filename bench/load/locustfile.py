"""Locust users for the load test: run by bench/load_test.py, which seeds and starts the app.

    LOAD_FIXTURE=fixture.json locust -f bench/load/locustfile.py --headless -u 221 ...

200 participants work through their questionnaires page by page from their own link, each
from its own loopback address; 20 signed-in staff browse cohort pages and dashboards; one
probe asks for the sign-in page throughout, the trivial page the others are compared with.
The requests themselves are in bench/load/scenario.py, which tests run without Locust.
"""

import itertools
import json
import os
import random
import sys
from pathlib import Path

from locust import HttpUser, between, constant_pacing, events, task

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.load import scenario
from bench.load.plan import (
    PARTICIPANT_WAIT,
    PARTICIPANTS,
    STAFF,
    STAFF_WAIT,
    TRIVIAL_EVERY,
)

_fixture: dict = {}
_participant_numbers = itertools.count()
_staff_numbers = itertools.count()


def fixture() -> dict:
    if not _fixture:
        _fixture.update(json.loads(Path(os.environ["LOAD_FIXTURE"]).read_text()))
    return _fixture


@events.init.add_listener
def _load_fixture(environment, **kwargs):
    fixture()


class ParticipantUser(HttpUser):
    fixed_count = PARTICIPANTS
    wait_time = between(*PARTICIPANT_WAIT)

    def on_start(self):
        number = next(_participant_numbers)
        tokens = fixture()["participants"]
        scenario.prepare(self.client, scenario.participant_source_ip(number))
        self.participant = scenario.Participant(
            token=tokens[number % len(tokens)], rng=random.Random(number)
        )

    @task
    def next_step(self):
        if self.participant.finished:
            # Everything answered: nothing more for this person to do in this run.
            self.wait_time = between(30, 60)
        self.participant.step(self.client)


class StaffUser(HttpUser):
    fixed_count = STAFF
    wait_time = between(*STAFF_WAIT)

    def on_start(self):
        data = fixture()
        person = data["staff"][next(_staff_numbers) % len(data["staff"])]
        scenario.prepare(self.client)
        self.client.cookies.set(data["cookie_name"], person["cookie"])
        self.staff = scenario.Staff(
            service=person["service"],
            cohorts=person["cohorts"],
            rng=random.Random(person["cookie"]),
        )

    @task(2)
    def cohort_list(self):
        self.staff.cohort_list(self.client)

    @task(3)
    def cohort_page(self):
        self.staff.cohort_page(self.client)

    @task(2)
    def cohort_dashboard(self):
        self.staff.cohort_dashboard(self.client)

    @task(1)
    def service_dashboard(self):
        self.staff.service_dashboard(self.client)


class TrivialProbe(HttpUser):
    fixed_count = 1
    wait_time = constant_pacing(TRIVIAL_EVERY)

    def on_start(self):
        scenario.prepare(self.client)

    @task
    def sign_in_page(self):
        scenario.trivial(self.client)
