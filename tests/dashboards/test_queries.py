"""Each dashboard runs the same number of queries whatever the size of the data."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboards import freshness
from dashboards.models import CohortFigures
from programmes.models import Cohort
from tests.dashboards.builders import make_cohort, populate

TODAY = datetime.datetime(2025, 6, 2, 12, 0, tzinfo=datetime.UTC)
# Session and user (2), the user's memberships, the cohort, enrolments, the versions of the
# service's cohort figures, timepoints, the references of the people named and their access
# records (one insert), and the session save inside its savepoint (3). The register grid
# (without names), the outcome figures and the service's baseline SDs come from the cache
# after the warm-up request.
COHORT_QUERIES = 12
# After a change to the cohort's data: for the service's baseline SDs, the cohorts'
# programmes and versions, the cohort's figures worked out again (six aggregates: the
# score pairs at week 52 in one, at weeks 12, 32 and 104 together in another; and a
# write) and the service's pooled figures brought up to date with them (as STALE_EXTRA
# below: six more); then the sessions and attendance for the register, and the cohort's
# administrations and scores.
COHORT_CHANGED_EXTRA = 20
# Session and user (2), memberships, the service, the filter choices, the versions of the
# cohorts' stored figures, the cohorts, the service's pooled figures (not each cohort's),
# and the session save inside its savepoint (3). The figures are current, and the baseline
# SDs cached, after the warm-up.
SERVICE_QUERIES = 11
# When every cohort's figures are stale: enrolment counts, attendance, completion, score
# pairs (at week 52; at weeks 12, 32 and 104 in one query) and service-use totals for all
# of them at once, and one write to store them; then the service's pooled figures brought
# up to date (dashboards.figures.service_pool): its row locked and read inside a savepoint
# (3), the changed cohorts' figures, their pooled copies written, the pool written, the
# savepoint released. The baseline SDs come from that pool. (The mixed models are fitted
# by the background refresh, never by a page: dashboards.warm.)
STALE_EXTRA = 13


def _count(client, url):
    client.get(url)  # warm caches (content types) that are not per request
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@time_machine.travel(TODAY, tick=False)
@pytest.mark.parametrize("people", [5, 15])
def test_cohort_dashboard_query_count_is_fixed(people, service, clinician, persona_client):
    cohort = make_cohort(service, sessions=6)
    populate(cohort, people)
    client = persona_client(clinician)
    url = reverse("dashboards:cohort", args=[cohort.pk])
    assert _count(client, url) == COHORT_QUERIES

    freshness.mark_changed([cohort.pk])
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    assert len(queries) == COHORT_QUERIES + COHORT_CHANGED_EXTRA


@time_machine.travel(TODAY, tick=False)
@pytest.mark.parametrize("cohorts", [2, 10])
def test_service_dashboard_query_count_is_fixed(
    cohorts, service, manager, persona_client, settings
):
    settings.DASHBOARDS_SERVICE_CACHE_SECONDS = 0
    for i in range(cohorts):
        key = "cfgp-52" if i % 2 == 0 else "peg-usual-care"
        cohort = make_cohort(service, key=key, sessions=6, start=datetime.date(2023 + i % 2, 1, 9))
        populate(cohort, 3, seed=i)
    client = persona_client(manager)
    url = reverse("dashboards:service", args=[service.pk])
    assert _count(client, url) == SERVICE_QUERIES

    freshness.mark_changed(Cohort.objects.filter(service=service).values_list("id", flat=True))
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    assert len(queries) == SERVICE_QUERIES + STALE_EXTRA
    assert all(f.is_current for f in CohortFigures.objects.filter(cohort__service=service))


@time_machine.travel(TODAY, tick=False)
def test_service_figures_are_served_from_the_cache_while_nothing_changes(
    service, manager, persona_client
):
    cohort = make_cohort(service, sessions=6)
    populate(cohort, 6)
    client = persona_client(manager)
    url = reverse("dashboards:service", args=[service.pk])
    with CaptureQueriesContext(connection) as cold:
        first = client.get(url).content.decode()
    with CaptureQueriesContext(connection) as warm:
        second = client.get(url).content.decode()
    # Only the session, user, memberships, service and filter choices, and the session save.
    assert len(warm) < len(cold)
    stamp = "Figures worked out at 13:00 on 2 June 2025"
    assert stamp in first and stamp in second
