"""Honest wording: before and after, associated with, never caused."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse

from dashboards import selectors, stats
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


def test_the_association_sentence_follows_the_scales_direction_and_its_ci():
    # The reported case: r = 0.07 (95% CI -0.62 to 0.70) on a scale where higher is worse
    # once read "More sessions went with a higher score afterwards".
    unclear = stats.Correlation(n=9, r=0.07, low=-0.62, high=0.70)
    sentence = selectors.association_sentence(unclear, "worse")
    assert "no clear link" in sentence
    assert "higher" not in sentence and "lower" not in sentence
    clear_fall = stats.Correlation(n=30, r=-0.5, low=-0.73, high=-0.17)
    assert "improved more" in selectors.association_sentence(clear_fall, "worse")
    assert "improved less, or worsened" in selectors.association_sentence(clear_fall, "better")


def test_the_effect_size_axis_is_improvement_for_every_scale():
    assert selectors.improvement(-0.9, "worse") == 0.9  # CORE-10 fell: improved
    assert selectors.improvement(0.4, "better") == 0.4  # SWEMWBS rose: improved
    assert selectors.improvement(None, "worse") is None


def test_a_running_cohorts_scatter_uses_the_pairs_it_has():
    # Seven people with baseline and end-of-preparation scores, nobody at week 52 yet.
    week12 = {"key": "week12", "name": "End of preparation"}
    week52 = {"key": "week52", "name": "End of programme"}
    by_timepoint = {
        "week12": {"timepoint": week12, "changes": [(i, -2.0) for i in range(7)], "left_out": 0},
        "week52": {"timepoint": week52, "changes": [], "left_out": 7},
    }
    assert selectors._scatter_target(by_timepoint)["timepoint"] is week12
    by_timepoint["week52"]["changes"] = [(1, -3.0)]
    assert selectors._scatter_target(by_timepoint)["timepoint"] is week52
