import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.programmes.conftest import TODAY, enrol_many, make_cohort

pytestmark = pytest.mark.django_db


def test_home_lists_the_clinicians_cohorts_with_todays_register(
    persona_client, clinician, cohort, frozen_today
):
    enrol_many(cohort, 2)
    response = persona_client(clinician).get(reverse("home"))
    content = response.content.decode()
    assert cohort.name in content
    today_session = cohort.sessions.get(date=TODAY)
    assert reverse("programmes:register", args=[today_session.pk]) in content
    assert "2 of 10" in content


def test_home_for_a_manager_shows_cohorts_without_the_register_link(
    persona_client, manager, cohort, frozen_today
):
    content = persona_client(manager).get(reverse("home")).content.decode()
    assert cohort.name in content
    assert "Take today" not in content


def test_home_does_not_show_another_services_cohorts(
    persona_client, other_clinician, cohort, frozen_today
):
    content = persona_client(other_clinician).get(reverse("home")).content.decode()
    assert cohort.name not in content


def test_home_lists_only_cohorts_with_a_session_to_come_or_open_enrolments_from_the_database(
    persona_client, clinician, cohort, service, programme, frozen_today
):
    finished = make_cohort(
        service, programme, name="Long finished", start=datetime.date(2023, 1, 2)
    )
    client = persona_client(clinician)
    client.get(reverse("home"))  # warm the session and the user's roles
    with CaptureQueriesContext(connection) as few:
        content = client.get(reverse("home")).content.decode()
    assert cohort.name in content and finished.name not in content
    # The filter is in the query, so the finished cohort is never read into Python.
    assert "EXISTS" in " ".join(q["sql"] for q in few.captured_queries).upper()
    for i in range(5):
        make_cohort(service, programme, name=f"Old {i}", start=datetime.date(2022, 1, 3))
    with CaptureQueriesContext(connection) as more:
        content = client.get(reverse("home")).content.decode()
    assert len(more.captured_queries) == len(few.captured_queries)
    assert "Old 0" not in content
