"""Complementary suppression: no hidden count on the service page can be worked out.

The property test builds service pages (cohorts, the programme comparison, every timepoint
three ways, service use and occupation) from random counts, suppresses them as the page
does, and then plays the reader: knowing every shown figure and every sum the page's
tables imply (each part of a total, so every sum and difference of the figures in them),
it finds by integer programming the least and greatest whole number each hidden count
could be. A hidden count with one possible value, or one the sums bound below 5, would
have been worked out; there must be none.
"""

import math
from types import SimpleNamespace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from dashboards import mixed_model, suppression
from dashboards.mixed_model import Estimate
from dashboards.selectors import HEADLINE, suppression_sheet
from dashboards.suppression import Sheet


def _result(n, left_out, categories):
    return SimpleNamespace(
        n=n,
        left_out=left_out,
        enough=n >= 5,
        categories=categories,
        recovered=None,
        reliable_recovery=None,
    )


@st.composite
def pages(draw):
    cohorts, started_total = [], 0
    for i in range(draw(st.integers(1, 2))):
        active, completed, left = (draw(st.integers(0, 7)) for _ in range(3))
        n = draw(st.integers(0, active + completed + left))
        cohorts.append(
            {
                "id": i,
                "programme__key": "cfgp-52",
                "started": active + completed + left,
                "active": active,
                "completed": completed,
                "left": left,
                "headline": SimpleNamespace(n=n),
            }
        )
        started_total += active + completed + left
    n = sum(c["headline"].n for c in cohorts)
    no_end = draw(st.integers(0, started_total - n))
    left_out = {
        "no baseline score": started_total - n - no_end,
        "no end-of-programme score": no_end,
    }
    improved = draw(st.integers(0, n))
    worse = draw(st.integers(0, n - improved))
    categories = {
        "reliable_improvement": improved,
        "no_reliable_change": n - improved - worse,
        "reliable_deterioration": worse,
    }
    # The end of preparation too: its own pairs, from the same people who started.
    n12 = draw(st.integers(0, started_total))
    improved12 = draw(st.integers(0, n12))
    week12 = {
        "code": HEADLINE[0],
        "scale": HEADLINE[1],
        "timepoint": "week12",
        "programmes": [
            {
                "key": "cfgp-52",
                "result": _result(
                    n12,
                    {k: v for k, v in {"no score at week 12": started_total - n12}.items() if v},
                    {
                        "reliable_improvement": improved12,
                        "no_reliable_change": n12 - improved12,
                        "reliable_deterioration": 0,
                    },
                ),
            }
        ],
    }
    # Every timepoint three ways: the mixed model's people at baseline are those with a
    # baseline score; at week 52 also some with no baseline; completers over baseline and
    # week 52 are the comparison's people with both scores; LOCF counts those with a baseline.
    with_baseline = n + no_end
    at_week52 = n + draw(st.integers(0, left_out["no baseline score"]))
    views = {
        mixed_model.MIXED: mixed_model.View(
            mixed_model.MIXED,
            with_baseline,
            [
                Estimate("baseline", "Baseline", with_baseline),
                Estimate("week52", "Week 52", at_week52),
            ],
        ),
        mixed_model.COMPLETERS: mixed_model.View(
            mixed_model.COMPLETERS,
            n,
            [Estimate("baseline", "Baseline", n), Estimate("week52", "Week 52", n)],
        ),
        mixed_model.LOCF: mixed_model.View(
            mixed_model.LOCF,
            with_baseline,
            [Estimate(k, k, with_baseline) for k in ("baseline", "week52")],
        ),
    }
    people = draw(st.integers(0, started_total))
    answered = draw(st.integers(0, started_total))
    return {
        "every_timepoint": [
            {
                "key": "cfgp-52",
                "scales": [{"code": HEADLINE[0], "scale": HEADLINE[1], "views": views}],
            }
        ],
        "cohorts": cohorts,
        "comparison": [
            {
                "code": HEADLINE[0],
                "scale": HEADLINE[1],
                "timepoint": "week52",
                "programmes": [
                    {
                        "key": "cfgp-52",
                        "result": _result(n, {k: v for k, v in left_out.items() if v}, categories),
                    }
                ],
            },
            week12,
        ],
        "service_use": [
            {
                "key": "cfgp-52",
                "periods": [
                    {"key": "baseline", "people": people, "left_out": started_total - people}
                ],
            }
        ],
        "occupation": [
            {
                "key": "cfgp-52",
                "timepoints": [
                    {
                        "key": "baseline",
                        "answered": answered,
                        "left_out": started_total - answered,
                        "counts": {"employed": draw(st.integers(0, answered))},
                    }
                ],
            }
        ],
    }


def _hidden_system(sheet: Sheet, hidden: set):
    """The page's sums over its hidden counts: (keys, their positions, rows, constants),
    one row for each sum with a hidden count in it, shown counts moved to the constant."""
    keys = sorted(hidden, key=repr)
    position = {k: i for i, k in enumerate(keys)}
    rows, rhs = [], []
    for left, right in sheet.equations:
        row, constant = np.zeros(len(keys)), 0.0
        for sign, side in ((1, left), (-1, right)):
            for k in side:
                if k in position:
                    row[position[k]] += sign
                else:
                    constant -= sign * sheet.counts[k]
        if row.any():
            rows.append(row)
            rhs.append(constant)
    return keys, position, rows, rhs


def _integer_ranges(sheet: Sheet, hidden: set) -> dict:
    """The least and greatest whole-number value of each hidden count, given the page.

    An integer program (SciPy's milp, branch and bound) over every sum, independent of the
    continuous programme the page uses: the reader's best possible working-out.
    """
    keys, position, rows, rhs = _hidden_system(sheet, hidden)
    if not rows:
        return {}
    constraint = LinearConstraint(np.array(rows), rhs, rhs)
    ranges = {}
    for key, i in position.items():
        if not any(row[i] for row in rows):
            continue
        found = []
        for sign in (1, -1):
            c = np.zeros(len(keys))
            c[i] = sign
            result = milp(
                c,
                constraints=constraint,
                integrality=np.ones(len(keys)),
                bounds=Bounds(1, np.inf),
            )
            found.append(sign * result.fun if result.status == 0 else math.inf)
        ranges[key] = tuple(found)
    return ranges


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages())
def test_no_hidden_count_on_the_service_page_can_be_worked_out(page):
    sheet = suppression_sheet(page)
    hidden = sheet.protect()
    shown = set(sheet.counts) - hidden
    assert all(sheet.counts[k] >= 5 or sheet.counts[k] == 0 for k in shown)
    for key, (least, greatest) in _integer_ranges(sheet, hidden).items():
        assert least <= sheet.counts[key] <= greatest  # the truth is among them
        # Not worked out: more than one value, and not bounded below 5 by the sums.
        assert greatest > least, (key, sheet.counts[key], least)
        assert greatest >= suppression.SUPPRESS_BELOW, (key, sheet.counts[key], greatest)


def _given_away_by_asking_each(sheet: Sheet, hidden: set) -> set:
    """Hidden counts whose least and greatest value, each by its own two linear programs
    over every sum with a hidden count in it, are one value or below 5: no shortcuts."""
    keys, position, rows, rhs = _hidden_system(sheet, hidden)
    given_away = set()
    for key, i in position.items():
        if not any(row[i] for row in rows):
            continue
        c = np.zeros(len(keys))
        c[i] = -1
        high = linprog(c, A_eq=rows, b_eq=rhs, bounds=(1, None), method="highs")
        if high.status != 0:
            continue  # no greatest value: not worked out
        c[i] = 1
        low = linprog(c, A_eq=rows, b_eq=rhs, bounds=(1, None), method="highs")
        if -high.fun < suppression.SUPPRESS_BELOW - 0.5 or -high.fun - low.fun < 0.5:
            given_away.add(key)
    return given_away


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages())
def test_the_shortcuts_hide_exactly_what_asking_every_count_would(page):
    # The bounds from the sums, the solutions reused, the programs over many counts and the
    # counts known safe only save programs: with every count asked about afresh by its own
    # programs each round, the same counts go.
    sheet = suppression_sheet(page)
    hidden = {k for k, v in sheet.counts.items() if 0 < v < suppression.SUPPRESS_BELOW}
    by_key = sheet._by_key()
    while hidden:
        pinned = _given_away_by_asking_each(sheet, hidden)
        if not pinned:
            break
        # As the page does: one complement for each given-away count, in one round.
        extras = {sheet._complement([key], hidden, by_key) for key in pinned} - {None}
        if not extras:
            break
        hidden |= extras
    assert suppression_sheet(page).protect() == hidden


def test_the_reported_case_started_10_active_7_is_protected():
    # The page once showed: started 10, active 7, completed and left early "fewer than 5"
    # (so they summed to 3). Now a third count goes too, and 3 can no longer be split.
    sheet = Sheet()
    started = sheet.add("started", 10)
    parts = [sheet.add("active", 7), sheet.add("completed", 2), sheet.add("left", 1)]
    sheet.equal([started], parts)
    assert sheet.pinned({"completed", "left"}) == ["completed", "left"]  # they add up to 3
    hidden = sheet.protect()
    assert {"completed", "left"} < hidden and len(hidden) == 3
    assert sheet.pinned(hidden) == []
    assert _integer_ranges(sheet, hidden)["completed"] == (1, 8)  # anything from 1 to 8


def test_a_comparison_with_six_people_and_every_count_small_hides_the_six_too():
    # n = 6, reliable improvement 4, no change 1, deterioration 1: all three categories
    # below 5, and shown beside n = 6 they would each be known to be 1-4. So n goes too.
    sheet = Sheet()
    n = sheet.add("n", 6, cost=10)
    cats = [sheet.add(k, v) for k, v in (("ri", 4), ("nrc", 1), ("rd", 1))]
    sheet.equal(cats, [n])
    hidden = sheet.protect()
    assert hidden == {*cats, "n"}
    assert sheet.pinned(hidden) == []


def test_zeros_are_shown_and_never_hidden_to_protect_another():
    sheet = Sheet()
    sheet.equal([sheet.add("started", 9)], [sheet.add(k, v) for k, v in (("a", 9), ("c", 0))])
    assert sheet.protect() == set()


def test_every_hidden_count_shows_one_marker():
    assert suppression.shown(3, "x", {"x"}) == suppression.shown(12, "y", {"y"}) == "suppressed"
    assert suppression.shown(12, "y", set()) == 12


def test_the_reader_finds_a_count_left_alone_in_a_sum():
    # The attacker is real: with only one hidden count in a sum it recovers it exactly.
    sheet = Sheet()
    sheet.equal([sheet.add("started", 10)], [sheet.add("a", 7), sheet.add("b", 3)])
    assert _integer_ranges(sheet, {"b"}) == {"b": (3, 3)}
    assert sheet.pinned({"b"}) == ["b"]
