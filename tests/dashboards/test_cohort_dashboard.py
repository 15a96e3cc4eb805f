"""The cohort dashboard against a small cohort whose figures were worked out by hand."""

import datetime
import math

import pytest
import time_machine
from django.urls import reverse

from dashboards import pages, selectors
from programmes.models import Enrolment
from tests.dashboards.builders import enrol, make_cohort, mark, score

TODAY = datetime.datetime(2025, 6, 2, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def worked_cohort(service):
    """Nine people who started and one referred.

    CORE-10 total (baseline -> week 12 -> week 52):
      P1 20 -> . -> 12    P2 12 -> . -> 8     P3 25 -> . -> 15
      P4 19 -> . -> 10    P5 14 -> . -> 20    P6 20 -> . -> 9
      P7 no baseline -> 11                    P8 baseline not scored -> 14
      P9 16 -> 13 -> none (withdrew at week 20: "Moved out of area")
      P10 referred, never started: counted nowhere.
    """
    cohort = make_cohort(service, sessions=12)
    people = {}
    pairs = {1: (20, 12), 2: (12, 8), 3: (25, 15), 4: (19, 10), 5: (14, 20), 6: (20, 9)}
    for n, (before, after) in pairs.items():
        e = enrol(cohort, given_name=f"Person{n}", family_name="Example")
        score(e, "baseline", "core10", {"total": before})
        score(e, "week52", "core10", {"total": after})
        people[n] = e
    people[7] = enrol(cohort, given_name="Person7", family_name="Example")
    score(people[7], "week52", "core10", {"total": 11})
    people[8] = enrol(cohort, given_name="Person8", family_name="Example")
    score(people[8], "baseline", "core10", {"total": None})
    score(people[8], "week52", "core10", {"total": 14})
    people[9] = enrol(
        cohort,
        given_name="Person9",
        family_name="Example",
        status=Enrolment.Status.WITHDRAWN,
        ended_on=cohort.week_date(20),
        end_reason="Moved out of area",
    )
    score(people[9], "baseline", "core10", {"total": 16})
    score(people[9], "week12", "core10", {"total": 13})
    people[10] = enrol(
        cohort, given_name="Person10", family_name="Example", status=Enrolment.Status.REFERRED
    )
    score(people[10], "baseline", "core10", {"total": 40})
    # Registers for sessions 1-5: P1 attends 3 of 5, P2 attends both sessions recorded.
    mark(cohort, people[1], ["present", "late", "dna", "apologies", "left_early"])
    mark(cohort, people[2], ["present", "present"])
    return cohort, people


def _change(data, code, scale, tp_key):
    return next(
        c["result"]
        for c in data["changes"]
        if (c["code"], c["scale"], c["timepoint"]["key"]) == (code, scale, tp_key)
    )


@time_machine.travel(TODAY, tick=False)
def test_baseline_mean_and_ci_by_hand(worked_cohort):
    cohort, _ = worked_cohort
    data = pages.cohort_dashboard(cohort, show_names=True)
    core10 = next(m for m in data["means"] if (m["code"], m["scale"]) == ("core10", "total"))
    baseline = core10["cells"][0]
    # Scored at baseline: 20, 12, 25, 19, 14, 20, 16 (P10 is referred, P8 not scored, P7
    # has none): mean 126 / 7 = 18; SD sqrt(114 / 6) = 4.358899; half-width
    # t(0.975, 6) 2.446912 x 4.358899 / sqrt(7) = 4.031309.
    assert baseline["n"] == 7
    assert baseline["not_scored"] == 1 and baseline["missing"] == 1
    assert baseline["summary"].mean == pytest.approx(18.0)
    assert baseline["summary"].low == pytest.approx(13.968691, abs=1e-5)
    assert baseline["summary"].high == pytest.approx(22.031309, abs=1e-5)


@time_machine.travel(TODAY, tick=False)
def test_completers_change_by_hand(worked_cohort):
    cohort, _ = worked_cohort
    data = pages.cohort_dashboard(cohort, show_names=True, view=selectors.COMPLETERS)
    result = _change(data, "core10", "total", "week52")
    # Pairs P1-P6: changes -8, -4, -10, -9, +6, -11; mean -6, SD 6.356099, d_z -0.943975
    # (see test_stats for the arithmetic). RCI 6, case at 11: 4 reliable improvements
    # (P1, P3, P4, P6), 1 no reliable change (P2), 1 deterioration (P5); recovered P2, P4,
    # P6; reliable recovery P4, P6.
    assert result.n == 6
    assert result.mean_change == pytest.approx(-6.0)
    assert result.d == pytest.approx(-0.943975, abs=1e-6)
    assert (
        result.reliable_improvement,
        result.no_reliable_change,
        result.reliable_deterioration,
    ) == (4, 1, 1)
    assert (result.recovered, result.reliable_recovery) == (3, 2)
    assert result.left_out == {
        "no baseline score": 1,
        "baseline not scored (too many items missing)": 1,
        "no score at End of programme": 1,
    }


@time_machine.travel(TODAY, tick=False)
def test_intention_to_treat_carries_the_last_observation_forward(worked_cohort):
    cohort, _ = worked_cohort
    data = pages.cohort_dashboard(cohort, show_names=True, view=selectors.ITT)
    result = _change(data, "core10", "total", "week52")
    # P9's week-12 score 13 is carried forward: change 13 - 16 = -3. Changes -8, -4, -10,
    # -9, +6, -11, -3 sum to -39, n 7, mean -5.571429. Sum of squares 64+16+100+81+36+121+9
    # = 427; minus 39^2 / 7 = 217.285714 leaves 209.714286; SD sqrt(209.714286 / 6) =
    # 5.912054. P9's -3 is not a reliable change and 13 is still a case.
    assert result.n == 7
    assert result.mean_change == pytest.approx(-39 / 7)
    assert result.sd_change == pytest.approx(5.912054, abs=1e-6)
    assert (result.reliable_improvement, result.no_reliable_change) == (4, 2)
    assert result.left_out == {
        "no baseline score": 1,
        "baseline not scored (too many items missing)": 1,
    }


@time_machine.travel(TODAY, tick=False)
def test_attendance_retention_and_leaving_reasons(worked_cohort):
    cohort, _ = worked_cohort
    data = pages.cohort_dashboard(cohort, show_names=True)
    peg = data["attendance"]["phases"][0]
    # Seven places recorded on five registers; attended: P1 present, late, left early and
    # P2 present twice = 5.
    assert (peg["sessions"], peg["registers"], peg["recorded"], peg["attended"]) == (12, 5, 7, 5)
    assert peg["rate"] == pytest.approx(5 / 7)
    weeks = {w["week"]: w["enrolled"] for w in data["retention"]["weeks"]}
    # Nine started; P9 left on the date of week 20, so is counted that week but not the next.
    assert (weeks[1], weeks[20], weeks[21], weeks[52]) == (9, 9, 8, 8)
    assert data["retention"]["leavers"] == [
        {"status": "Withdrawn", "reason": "Moved out of area", "count": 1}
    ]
    assert data["retention"]["referred"] == 1


@time_machine.travel(TODAY, tick=False)
def test_page_shows_names_to_clinicians_and_says_not_enough_data(
    worked_cohort, persona_client, clinician
):
    cohort, _ = worked_cohort
    response = persona_client(clinician).get(reverse("dashboards:cohort", args=[cohort.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Person1 Example" in page
    assert "Person10 Example" not in page  # referred, never started
    # Nobody has a CORE-10 score at week 32: too few pairs for a number.
    assert "not enough data" in page
    assert "-6.00 (-12.67 to 0.67)" in page
    assert 'id="dashboard-charts"' in page
    assert "<style" not in page and "style=" not in page


@time_machine.travel(TODAY, tick=False)
def test_managers_see_the_cohort_without_names(worked_cohort, persona_client, manager):
    cohort, _ = worked_cohort
    response = persona_client(manager).get(reverse("dashboards:cohort", args=[cohort.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Example" not in page
    assert "Participant 1" in page


@time_machine.travel(TODAY, tick=False)
def test_sessions_attended_against_change_with_its_correlation(
    worked_cohort, persona_client, clinician
):
    """CORE-10 to week 52: P1 attended 3 (change -8), P2 2 (-4), P3-P6 none (-10, -9, +6, -11).

    x mean 5/6, y mean -6. Sum of products: (13/6)(-2) + (7/6)(2) + (-5/6)(-4 - 3 + 12 - 5)
    = -2. Sums of squares: 13 - 6 (5/6)^2 = 53/6 and 4 + 4 + 16 + 9 + 144 + 25 = 202.
    r = -2 / sqrt(53/6 x 202) = -0.0473; Fisher z -0.0474 +/- 1.959964 / sqrt(3).
    """
    cohort, _ = worked_cohort
    scatter = pages.cohort_dashboard(cohort, show_names=True)["scatter"]
    assert {(p["label"], p["attended"], p["change"]) for p in scatter["points"]} == {
        ("Person1 Example", 3, -8),
        ("Person2 Example", 2, -4),
        ("Person3 Example", 0, -10),
        ("Person4 Example", 0, -9),
        ("Person5 Example", 0, 6),
        ("Person6 Example", 0, -11),
    }
    r = -2 / math.sqrt(53 / 6 * 202)
    assert scatter["correlation"].r == pytest.approx(r)
    half = 1.959964 / math.sqrt(3)
    assert scatter["correlation"].low == pytest.approx(math.tanh(math.atanh(r) - half))
    assert scatter["correlation"].high == pytest.approx(math.tanh(math.atanh(r) + half))
    page = persona_client(clinician).get(reverse("dashboards:cohort", args=[cohort.pk]))
    text = page.content.decode()
    assert "r = -0.05</strong> (95% CI -0.83 to 0.79)" in text
    assert "an association, not evidence that the sessions caused the change" in text


@time_machine.travel(TODAY, tick=False)
def test_the_summary_gives_the_headline_figures_with_links_to_their_sections(
    worked_cohort, clinician, persona_client
):
    cohort, _people = worked_cohort
    response = persona_client(clinician).get(reverse("dashboards:cohort", args=[cohort.pk]))
    data = pages.cohort_dashboard(cohort, show_names=True)
    summary = {item["label"]: item for item in data["summary"]}
    assert summary["People who started"]["value"] == 9  # P10 was referred, never started
    assert summary["Still taking part or completed"]["value"] == 8  # P9 withdrew
    # Registers: P1 3 attended of 5 (present, late, left early), P2 2 of 2: 5 of 7.
    assert summary["Attendance (sessions attended of those recorded)"]["value"] == "71%"
    # CORE-10 to week 52: 4 reliable improvements, 1 deterioration of 6 (worked by hand in
    # test_paired_change_worked_by_hand_for_core10).
    primary = summary["Reliable change on CORE-10 (baseline to End of programme)"]
    assert primary["value"] == "4 of 6 improved reliably; 1 deteriorated reliably"
    assert primary["href"] == "#change"
    html = response.content.decode()
    assert html.index('id="summary"') < html.index('id="attendance"')
    for item in summary.values():
        assert f'id="{item["href"][1:]}"' in html  # every link has its section
