"""Honest wording: before and after, associated with, never caused."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse

from tests.dashboards.builders import make_cohort, populate

TODAY = datetime.datetime(2025, 6, 2, 12, 0, tzinfo=datetime.UTC)


@time_machine.travel(TODAY, tick=False)
@pytest.mark.parametrize("view", ["completers", "itt"])
def test_no_dashboard_page_claims_a_cause(view, service, clinician, persona_client):
    cohort = make_cohort(service, sessions=6)
    populate(cohort, 6)
    client = persona_client(clinician)
    pages = [
        client.get(reverse("dashboards:cohort", args=[cohort.pk]), {"view": view}),
        client.get(reverse("dashboards:service", args=[service.pk])),
        client.get(reverse("dashboards:index")),
    ]
    for response in pages:
        text = response.content.decode().lower()
        assert response.status_code == 200
        assert not re.search(r"\bcaus", text)
    cohort_page = pages[0].content.decode()
    assert "before and after" in cohort_page.lower() or "Before and after" in cohort_page
    assert "associated" in cohort_page


@time_machine.travel(TODAY, tick=False)
def test_itt_view_is_labelled_as_last_observation_carried_forward(
    service, clinician, persona_client
):
    cohort = make_cohort(service, sessions=6)
    populate(cohort, 6)
    page = (
        persona_client(clinician)
        .get(reverse("dashboards:cohort", args=[cohort.pk]), {"view": "itt"})
        .content.decode()
    )
    assert "Showing: Intention to treat: last observation carried forward (LOCF)" in page
