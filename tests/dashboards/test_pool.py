"""The service's pooled figures, kept up to date one changed cohort at a time, are exactly
those pooled from every cohort's figures from scratch."""

import datetime
import random
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboards import figures
from dashboards.models import CohortFigures, ServiceFigures
from measures.models import Score
from programmes.models import Attendance, Cohort, Enrolment
from tests.dashboards.builders import enrol, make_cohort, populate, score

TODAY = datetime.datetime(2025, 6, 2, 12, 0, tzinfo=datetime.UTC)


def _from_scratch(cohorts):
    stored = figures.current_figures(cohorts)
    return figures.pool_of({c.pk: (c.programme.key, stored[c.pk]) for c in cohorts})


def _kept(service, cohorts):
    versions = figures.current_versions(cohorts)
    return figures.service_pool(service.pk, versions, {c.pk: c.programme.key for c in cohorts})


def _change(rng, cohort):
    """One random change of the kinds a service makes: a score corrected or withdrawn, a
    person leaving, a register mark changed, someone new with a baseline and week 52."""
    scores = list(Score.objects.filter(administration__enrolment__cohort=cohort))
    kind = rng.choice(["score", "delete", "leave", "attendance", "new"])
    if kind == "score" and scores:
        changed = rng.choice(scores)
        changed.value = (changed.value or 0) + rng.choice([-3, -1, 1, 2])
        changed.save()
    elif kind == "delete" and scores:
        rng.choice(scores).delete()
    elif kind == "leave":
        enrolment = rng.choice(list(Enrolment.objects.filter(cohort=cohort)))
        enrolment.status = Enrolment.Status.WITHDRAWN
        enrolment.ended_on = cohort.start_date + datetime.timedelta(weeks=3)
        enrolment.save()
    elif kind == "attendance":
        mark = rng.choice(list(Attendance.objects.filter(enrolment__cohort=cohort)))
        mark.status = rng.choice(["present", "dna", "late"])
        mark.save()
    else:
        person = enrol(cohort)
        score(person, "baseline", "core10", {"total": rng.randint(5, 35)})
        score(person, "week52", "core10", {"total": rng.randint(5, 35)})
        score(person, "week52", "service_use", {"inpatient_bed_days": rng.randint(0, 9)})


@time_machine.travel(TODAY, tick=False)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_pool_kept_one_cohort_at_a_time_equals_one_pooled_from_scratch(seed, service):
    rng = random.Random(seed)
    for i in range(6):
        key = "cfgp-52" if i % 2 == 0 else "peg-usual-care"
        cohort = make_cohort(service, key=key, sessions=6, start=datetime.date(2023 + i % 2, 1, 9))
        populate(cohort, 3, seed=i)
    cohorts = Cohort.objects.filter(service=service).select_related("programme")
    assert _kept(service, cohorts) == _from_scratch(cohorts)

    for _round in range(4):
        changed = rng.sample(list(cohorts), rng.randint(1, 3))
        for cohort in changed:
            for _ in range(rng.randint(1, 3)):
                _change(rng, cohort)
        versions = figures.current_versions(cohorts)
        with CaptureQueriesContext(connection) as queries:
            kept = _kept(service, cohorts)
        assert kept == _from_scratch(cohorts)
        # Only the changed cohorts' figures were read: nothing pooled again from scratch.
        (read,) = [
            q["sql"]
            for q in queries
            if q["sql"].startswith("SELECT") and '"pooled_from"' in q["sql"].split(" FROM ")[0]
        ]
        ids = re.search(r'"cohort_id" IN \(([\d, ]+)\)', read).group(1)
        assert {int(i) for i in ids.split(",")} == {c.pk for c in changed}
        assert ServiceFigures.objects.get(service=service).versions == {
            str(i): v for i, v in versions.items()
        }


@time_machine.travel(TODAY, tick=False)
def test_a_stored_pool_from_an_earlier_schema_is_pooled_again_from_scratch(service):
    cohort = make_cohort(service, sessions=6)
    populate(cohort, 4)
    cohorts = Cohort.objects.filter(service=service).select_related("programme")
    kept = _kept(service, cohorts)
    ServiceFigures.objects.filter(service=service).update(
        schema=figures.POOL_SCHEMA - 1, pooled={"programmes": {}, "cohorts": {}}
    )
    assert _kept(service, cohorts) == kept == _from_scratch(cohorts)


@time_machine.travel(TODAY, tick=False)
def test_a_cohort_whose_pooled_copy_went_missing_is_not_counted_twice(service):
    first, second = make_cohort(service, sessions=6), make_cohort(service, sessions=6)
    populate(first, 3)
    populate(second, 4, seed=1)
    cohorts = Cohort.objects.filter(service=service).select_related("programme")
    _kept(service, cohorts)
    CohortFigures.objects.filter(cohort=first).update(pooled=None)
    enrol(first)
    assert _kept(service, cohorts) == _from_scratch(cohorts)


@time_machine.travel(TODAY, tick=False)
def test_a_change_that_leaves_a_cohorts_figures_as_they_were_does_not_rewrite_the_pool(service):
    first, second = make_cohort(service, sessions=6), make_cohort(service, sessions=6)
    populate(first, 3)
    populate(second, 4, seed=1)
    cohorts = Cohort.objects.filter(service=service).select_related("programme")
    before = _kept(service, cohorts)

    def writes(sql_of):
        return [q["sql"] for q in sql_of if q["sql"].startswith("UPDATE")]

    # The register of session 1 saved again as it was: a new version, the same figures.
    row = Attendance.objects.filter(enrolment__cohort=first).first()
    row.save()
    with CaptureQueriesContext(connection) as queries:
        assert _kept(service, cohorts) == before == _from_scratch(cohorts)
    updates = writes(queries)
    pool_update = [q for q in updates if "dashboards_servicefigures" in q]
    assert pool_update and all('"pooled" =' not in q for q in pool_update)
    assert all('"pooled" =' not in q for q in updates)  # nor the cohort's pooled copy

    # A mark that changes what the cohort counts: the pool is written, and still exact.
    row.status = "dna" if row.status != "dna" else "present"
    row.save()
    with CaptureQueriesContext(connection) as queries:
        after = _kept(service, cohorts)
    assert after == _from_scratch(cohorts) != before
    assert any('"pooled" =' in q for q in writes(queries) if "dashboards_servicefigures" in q)
