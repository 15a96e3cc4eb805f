"""The repeated-measures mixed model and its completers and LOCF neighbours.

The worked example is statsmodels's own Grunfeld data set (investment by 11 US firms each
year 1935-1954), read as a person (firm) answering a questionnaire (investment) at 20
timepoints (years), with some answers taken out so the panel is unbalanced. The oracle
fits it directly with statsmodels's formula interface and reads the estimates through its
own conf_int and t_test; the dashboard's function must give the same to 4 decimals.
"""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.regression.mixed_linear_model import MixedLM
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from dashboards import mixed_model

YEARS = [str(y) for y in range(1935, 1955)]
NAMES = {y: y for y in YEARS}


def _grunfeld(drop_every=None):
    data = sm.datasets.grunfeld.load_pandas().data
    data = data.assign(person=data["firm"], timepoint=data["year"].astype(int).astype(str))
    data = data.rename(columns={"invest": "score"})[["person", "timepoint", "score"]]
    if drop_every:
        # Not every firm at every year, and never the first year: an unbalanced panel.
        keep = [i % drop_every != 3 or t == YEARS[0] for i, t in enumerate(data["timepoint"])]
        data = data[keep].reset_index(drop=True)
    return data


def test_the_grunfeld_worked_example_is_reproduced_to_four_decimals():
    data = _grunfeld(drop_every=7)
    assert len(data) < 11 * 20  # some answers really are missing
    oracle = smf.mixedlm("score ~ C(timepoint)", data, groups=data["person"]).fit(reml=True)
    assert oracle.converged
    ci = oracle.conf_int()
    names = list(oracle.fe_params.index)

    view = mixed_model.mixed_model(data.itertuples(index=False), YEARS, NAMES)

    assert view.estimable and view.people == 11
    assert [e.timepoint for e in view.estimates] == YEARS
    baseline = view.estimates[0]
    assert baseline.mean == pytest.approx(oracle.params["Intercept"], abs=5e-5)
    assert baseline.low == pytest.approx(ci.loc["Intercept", 0], abs=5e-5)
    assert baseline.high == pytest.approx(ci.loc["Intercept", 1], abs=5e-5)
    for estimate in view.estimates[1:]:
        term = f"C(timepoint)[T.{estimate.timepoint}]"
        assert estimate.n == (data["timepoint"] == estimate.timepoint).sum()
        assert round(estimate.change, 4) == round(oracle.params[term], 4)
        assert round(estimate.change_low, 4) == round(ci.loc[term, 0], 4)
        assert round(estimate.change_high, 4) == round(ci.loc[term, 1], 4)
        # The estimated mean: intercept plus the year's coefficient, with its own CI.
        contrast = np.array([[1.0 if n in ("Intercept", term) else 0.0 for n in names]])
        test = oracle.t_test(contrast)
        low, high = test.conf_int()[0]
        assert round(estimate.mean, 4) == round(float(test.effect[0]), 4)
        assert round(estimate.low, 4) == round(float(low), 4)
        assert round(estimate.high, 4) == round(float(high), 4)


def test_balanced_complete_data_give_the_raw_means_and_mean_changes():
    """Six people, three timepoints, nobody missing: by hand, the model's means are the
    timepoint means (13.0, 10.5, 9.0) and its changes the mean changes (-2.5, -4.0); so
    are completers' and LOCF's."""
    scores = {
        "a": (10, 8, 7),
        "b": (12, 11, 9),
        "c": (15, 12, 10),
        "d": (9, 7, 6),
        "e": (18, 14, 13),
        "f": (14, 11, 9),
    }
    keys = ["baseline", "week12", "week52"]
    names = {"baseline": "Baseline", "week12": "Week 12", "week52": "Week 52"}
    rows = [(p, k, v) for p, values in scores.items() for k, v in zip(keys, values, strict=True)]

    views = mixed_model.scale_views(rows, keys, names)

    for kind in mixed_model.VIEW_ORDER:
        view = views[kind]
        assert view.estimable, kind
        assert [round(e.mean, 4) for e in view.estimates] == [13.0, 10.5, 9.0], kind
        assert [round(e.change, 4) for e in view.estimates[1:]] == [-2.5, -4.0], kind
        assert [e.n for e in view.estimates] == [6, 6, 6]
        assert all(e.low < e.mean < e.high for e in view.estimates)


def _ragged():
    """Eight people; baseline, week 12, week 52 (a dot is a missing score):
    p1 10 8 6   p2 12 10 9   p3 14 12 11   p4 16 15 12   p5 18 14 13
    p6 20 . .   p7 22 19 .   p8 .  9  7
    """
    table = {
        "p1": (10, 8, 6),
        "p2": (12, 10, 9),
        "p3": (14, 12, 11),
        "p4": (16, 15, 12),
        "p5": (18, 14, 13),
        "p6": (20, None, None),
        "p7": (22, 19, None),
        "p8": (None, 9, 7),
    }
    keys = ["baseline", "week12", "week52"]
    rows = [
        (p, k, v)
        for p, values in table.items()
        for k, v in zip(keys, values, strict=True)
        if v is not None
    ]
    return rows, keys, {k: k for k in keys}


def test_completers_are_those_with_every_timepoint_and_locf_carries_the_last_score():
    rows, keys, names = _ragged()
    views = mixed_model.scale_views(rows, keys, names)

    completers = views[mixed_model.COMPLETERS]
    # p1-p5: baseline mean 14, week 52 mean 10.2, change -3.8.
    assert completers.people == 5
    assert [e.mean for e in completers.estimates] == pytest.approx([14.0, 11.8, 10.2])
    assert completers.at("week52").change == pytest.approx(-3.8)

    locf = views[mixed_model.LOCF]
    # Everyone with a baseline (p1-p7): p6 carries 20 forward, p7 carries 19 to week 52.
    assert locf.people == 7
    assert locf.at("week12").mean == pytest.approx((8 + 10 + 12 + 15 + 14 + 20 + 19) / 7)
    assert locf.at("week52").mean == pytest.approx((6 + 9 + 11 + 12 + 13 + 20 + 19) / 7)
    assert locf.at("week52").change == pytest.approx((-4 - 3 - 3 - 4 - 5 + 0 - 3) / 7)

    mixed = views[mixed_model.MIXED]
    # Everyone's scores: 7 at baseline, 7 at week 12 (p8 without a baseline), 6 at week 52.
    assert [e.n for e in mixed.estimates] == [7, 7, 6]
    assert mixed.people == 8
    oracle = _direct_fit(rows)
    assert mixed.at("week52").change == pytest.approx(oracle.params["C(timepoint)[T.week52]"])


def _direct_fit(rows):
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["person", "timepoint", "score"])
    return smf.mixedlm("score ~ C(timepoint)", frame, groups=frame["person"]).fit(reml=True)


def test_a_timepoint_with_fewer_than_five_people_is_shown_but_not_estimated():
    rows, keys, names = _ragged()
    rows = [*rows, ("p1", "week104", 5.0), ("p2", "week104", 7.0)]
    view = mixed_model.mixed_model(rows, [*keys, "week104"], {**names, "week104": "week104"})
    assert view.estimable
    thin = view.at("week104")
    assert thin.n == 2 and thin.mean is None and thin.change is None
    # Left out of the fit, so the other estimates are those of the fit without it.
    assert view.at("week52").change == pytest.approx(
        _direct_fit(_ragged()[0]).params["C(timepoint)[T.week52]"]
    )


def test_too_few_people_is_not_estimable_rather_than_an_error():
    rows = [(p, k, 10.0 + i) for i, p in enumerate("abcd") for k in ("baseline", "week12")]
    view = mixed_model.mixed_model(rows, ["baseline", "week12"], {"baseline": "b", "week12": "w"})
    assert not view.estimable
    assert view.not_estimable == "fewer than 5 people at baseline"
    assert all(e.mean is None for e in view.estimates)
    assert not mixed_model.completers(
        rows, ["baseline", "week12"], {"baseline": "b", "week12": "w"}
    ).estimable
    assert mixed_model.mixed_model([], ["baseline"], {"baseline": "b"}).not_estimable


def test_identical_scores_are_not_estimable_rather_than_an_error():
    rows = [(p, k, 10.0) for p in "abcdef" for k in ("baseline", "week12")]
    view = mixed_model.mixed_model(rows, ["baseline", "week12"], {"baseline": "b", "week12": "w"})
    assert not view.estimable
    assert "no variation" in view.not_estimable


def test_a_fit_that_does_not_converge_is_not_estimable(monkeypatch):
    original = MixedLM.fit

    def failing(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        warnings.warn("Gradient optimization failed", ConvergenceWarning, stacklevel=1)
        return result

    monkeypatch.setattr(MixedLM, "fit", failing)
    rows, keys, names = _ragged()
    view = mixed_model.mixed_model(rows, keys, names)
    assert not view.estimable
    assert view.not_estimable == "the model's fit did not converge"


def test_each_view_says_in_one_sentence_what_it_assumes():
    assumes = {kind: mixed_model.ASSUMES[kind] for kind in mixed_model.VIEW_ORDER}
    assert "missing at random" in assumes[mixed_model.MIXED]
    assert "people who stayed are like the people who left" in assumes[mixed_model.COMPLETERS]
    assert "nobody changes after their last questionnaire" in assumes[mixed_model.LOCF]
    assert all(text.count(". ") == 0 and text.endswith(".") for text in assumes.values())
