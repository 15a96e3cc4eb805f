import pytest
from django.urls import reverse

from tests.programmes.conftest import TODAY, enrol_many

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
