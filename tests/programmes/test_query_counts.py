"""The cohort page and the register cost the same number of queries for 5 or 15 people."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from programmes import services
from tests.programmes.conftest import TODAY, enrol_many, make_cohort

pytestmark = pytest.mark.django_db

# Includes the next session not yet held, for the link to its huddle.
COHORT_PAGE_QUERIES = 16
REGISTER_GET_QUERIES = 10
# Includes two writes marking the cohort's dashboard figures out of date (dashboards.freshness):
# one for the attendance rows, one for the session's register stamp.
REGISTER_POST_QUERIES = 20


def _cohort_with(service, programme, clinician, size):
    cohort = make_cohort(service, programme, name=f"Group of {size}", capacity=size)
    enrolments = enrol_many(cohort, size)
    # Some history, so the page computes rates and runs over real attendance.
    for number in range(1, 4):
        services.attendance_record(
            session=cohort.sessions.get(number=number),
            statuses={e.pk: ("present", "dna", "late")[(e.pk + number) % 3] for e in enrolments},
            group_note="",
            by=clinician,
        )
    return cohort, enrolments


def _count(client, method, url, data=None):
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(url, data)
    assert response.status_code in (200, 302), response.status_code
    return len(queries)


@pytest.fixture
def two_cohorts(service, programme, clinician, frozen_today):
    return [_cohort_with(service, programme, clinician, size) for size in (5, 15)]


def test_cohort_page_query_count_does_not_grow_with_the_group(
    persona_client, clinician, two_cohorts, django_assert_num_queries
):
    client = persona_client(clinician)
    client.get(two_cohorts[0][0].get_absolute_url())  # warm the content-type cache
    small, large = (_count(client, "get", c.get_absolute_url()) for c, _ in two_cohorts)
    assert small == large
    with django_assert_num_queries(COHORT_PAGE_QUERIES):
        client.get(two_cohorts[1][0].get_absolute_url())


def test_register_query_counts_do_not_grow_with_the_group(
    persona_client, clinician, two_cohorts, django_assert_num_queries
):
    client = persona_client(clinician)
    urls = [
        reverse("programmes:register", args=[c.sessions.get(date=TODAY).pk]) for c, _ in two_cohorts
    ]
    client.get(urls[0])
    small, large = (_count(client, "get", url) for url in urls)
    assert small == large
    with django_assert_num_queries(REGISTER_GET_QUERIES):
        client.get(urls[1])

    def post_data(enrolments):
        return {f"status_{e.pk}": "present" for e in enrolments} | {"group_note": "Imagery"}

    small, large = (
        _count(client, "post", url, post_data(enrolments))
        for url, (_, enrolments) in zip(urls, two_cohorts, strict=True)
    )
    assert small == large
    # A second submit changes statuses: an update, still the same count.
    changed = {
        k: "late" if k.startswith("status_") else v for k, v in post_data(two_cohorts[1][1]).items()
    }
    with django_assert_num_queries(REGISTER_POST_QUERIES):
        client.post(urls[1], changed)
