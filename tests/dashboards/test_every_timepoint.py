"""Every timepoint three ways on the dashboards: worked out once per version of the data."""

import datetime
import re

import pandas as pd
import pytest
import statsmodels.formula.api as smf
import time_machine
from django.urls import reverse

from dashboards import mixed_model, pages, warm
from tests.dashboards.builders import enrol, make_cohort, score

TODAY = datetime.datetime(2025, 6, 2, 12, 0, tzinfo=datetime.UTC)
PENDING = "being worked out in the background"
KEYS = ("baseline", "week12", "week32", "week52")
# CORE-10 of eight people; None is a questionnaire not returned.
TABLE = [
    (24, 22, 18, 15),
    (20, 19, 17, 14),
    (27, 25, 26, 20),
    (18, 15, 12, 11),
    (22, 20, 19, 16),
    (25, None, None, None),
    (30, 28, 27, None),
    (None, 21, 18, 17),
]


def _build(cohort, table=TABLE):
    rows = []
    for person, values in enumerate(table):
        e = enrol(cohort)
        for key, value in zip(KEYS, values, strict=True):
            if value is not None:
                score(e, key, "core10", {"total": value})
                rows.append((person, key, value))
    return rows


def _oracle(rows):
    frame = pd.DataFrame(rows, columns=["person", "timepoint", "score"])
    frame["timepoint"] = frame["timepoint"].map({k: f"{i}" for i, k in enumerate(KEYS)})
    return smf.mixedlm("score ~ C(timepoint)", frame, groups=frame["person"]).fit(reml=True)


def _section(html):
    start = html.index('id="every-timepoint"')
    return html[start : html.index("</section>", start)]


@pytest.fixture
def fits(monkeypatch):
    """How many times a mixed model is fitted."""
    calls = []
    original = mixed_model.fit_mixed_model

    def counted(data):
        calls.append(len(data))
        return original(data)

    monkeypatch.setattr(mixed_model, "fit_mixed_model", counted)
    return calls


@time_machine.travel(TODAY, tick=False)
def test_cohort_page_shows_the_mixed_model_beside_completers_and_locf(
    service, clinician, persona_client
):
    cohort = make_cohort(service, sessions=6)
    rows = _build(cohort)
    oracle = _oracle(rows)
    warm.refresh_stale()
    html = persona_client(clinician).get(reverse("dashboards:cohort", args=[cohort.pk]))
    section = _section(html.content.decode())

    for kind in mixed_model.VIEW_ORDER:
        assert mixed_model.ASSUMES[kind].replace("'", "&#x27;") in section
    row = re.search(r"<th scope=\"row\">End of programme</th>(.*?)</tr>", section).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row)
    change = oracle.params["C(timepoint)[T.3]"]
    low, high = oracle.conf_int().loc["C(timepoint)[T.3]"]
    # Mixed model: 6 people at week 52, its change from baseline with the model's CI.
    assert cells[0] == "6"
    assert cells[2] == f"{change:.2f} ({low:.2f} to {high:.2f})"
    # Completers: the five with all four scores; by hand, week 52 mean (15 + 14 + 20 + 11
    # + 16) / 5 = 15.2 and change (-9 - 6 - 7 - 7 - 6) / 5 = -7.
    assert cells[3] == "5"
    assert cells[4].startswith("15.20 (")
    assert cells[5].startswith("-7.00 (")
    # LOCF: the seven with a baseline, missing scores carried forward.
    assert cells[6] == "7"
    locf_mean = (15 + 14 + 20 + 11 + 16 + 25 + 27) / 7
    assert cells[7].startswith(f"{locf_mean:.2f} (")


@time_machine.travel(TODAY, tick=False)
def test_the_models_are_fitted_off_the_request_path_once_per_data_version(
    service, clinician, manager, persona_client, fits
):
    cohort = make_cohort(service, sessions=6)
    _build(cohort)
    client = persona_client(clinician)
    url = reverse("dashboards:cohort", args=[cohort.pk])
    service_url = reverse("dashboards:service", args=[service.pk])

    # Before the background refresh: the rest of the page, and word that these are coming.
    for page in (client.get(url), persona_client(manager).get(service_url)):
        assert PENDING in _section(page.content.decode())
    assert fits == []

    # The pages brought the figures up to date, so nothing is stale; the refresh still
    # fits the models those pages left out, and the pages then show them.
    assert warm.refresh_stale() == {"services": 0, "cohorts": 0}
    assert fits
    fits.clear()
    shown = _section(client.get(url).content.decode())
    assert PENDING not in shown and "End of programme" in shown
    client.get(url, {"view": "itt"})
    assert PENDING not in _section(persona_client(manager).get(service_url).content.decode())
    assert fits == []  # every page read them from the cache

    # A new questionnaire is a new version of the data: fitted again by the refresh only.
    score(enrol(cohort), "week52", "core10", {"total": 40})
    assert PENDING in _section(client.get(url).content.decode())
    assert fits == []
    warm.refresh_stale()
    assert fits
    fits.clear()
    after = _section(client.get(url).content.decode())
    assert fits == [] and PENDING not in after and after != shown


@time_machine.travel(TODAY, tick=False)
def test_service_page_shows_each_arm_with_small_counts_suppressed(service, manager, persona_client):
    full = make_cohort(service, key="cfgp-52", sessions=6)
    usual = make_cohort(service, key="peg-usual-care", sessions=6)
    oracle = _oracle(_build(full))
    _build(usual, TABLE[:3])  # three people: every count below 5
    warm.refresh_stale()
    html = persona_client(manager).get(reverse("dashboards:service", args=[service.pk]))
    section = _section(html.content.decode())

    arms = re.split(r"<h3 id=\"every-timepoint-", section)[1:]
    assert [a.split('"')[0] for a in arms] == ["cfgp-52", "peg-usual-care"]
    change = oracle.params["C(timepoint)[T.3]"]
    low, high = oracle.conf_int().loc["C(timepoint)[T.3]"]
    assert f"{change:.2f} ({low:.2f} to {high:.2f})" in arms[0]
    small = arms[1]
    assert "<td>3</td>" not in small and "<td>suppressed</td>" in small
    assert "fewer than 5 people at baseline" in small
    for kind in mixed_model.VIEW_ORDER:
        assert mixed_model.ASSUMES[kind].replace("'", "&#x27;") in section


@time_machine.travel(TODAY, tick=False)
def test_both_views_of_the_cohort_page_share_one_fit(service, fits):
    cohort = make_cohort(service, sessions=6)
    _build(cohort)
    completers = pages.cohort_dashboard(cohort, show_names=False, fit_models=True)
    assert len(fits) == 1  # CORE-10, the one scale with scores
    itt = pages.cohort_dashboard(cohort, show_names=False, view="itt", fit_models=True)
    assert len(fits) == 1
    assert itt["every_timepoint"] == completers["every_timepoint"]
