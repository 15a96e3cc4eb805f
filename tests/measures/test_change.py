"""classify() and rci() against MEASURES.md's reliable and clinically significant change."""

import math

import pytest

from measures.change import classify, rci


def test_rci_check_value_from_measures_md():
    assert round(rci(sd=7.5, reliability=0.8), 4) == 9.2969


def test_rci_default_z_is_1_959964():
    # 1.959964 x 10 x sqrt(2) x sqrt(0.5) = 19.59964
    assert rci(sd=10, reliability=0.5) == pytest.approx(19.59964, abs=1e-9)
    assert rci(sd=10, reliability=0.5, z=1.0) == pytest.approx(10.0, abs=1e-9)


def test_rci_with_reliability_0_is_z_sd_root_2():
    assert rci(sd=1, reliability=0) == pytest.approx(1.959964 * math.sqrt(2), abs=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sd": 0, "reliability": 0.8}, "sd must be above 0"),
        ({"sd": -1, "reliability": 0.8}, "sd must be above 0"),
        ({"sd": 7.5, "reliability": 1}, "reliability must be at least 0 and below 1"),
        ({"sd": 7.5, "reliability": 1.2}, "reliability must be at least 0 and below 1"),
        ({"sd": 7.5, "reliability": -0.1}, "reliability must be at least 0 and below 1"),
        ({"sd": 7.5, "reliability": 0.8, "z": 0}, "z must be above 0"),
        ({"sd": float("nan"), "reliability": 0.8}, "sd must be a finite number"),
        ({"sd": True, "reliability": 0.8}, "sd must be a finite number"),
        ({"sd": "7.5", "reliability": 0.8}, "sd must be a finite number"),
        ({"sd": 7.5, "reliability": None}, "reliability must be a finite number"),
    ],
)
def test_rci_rejects_impossible_inputs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rci(**kwargs)


# --------------------------------------------------------------------------- fixed RCIs


@pytest.mark.parametrize(
    ("before", "after", "category", "recovered", "reliable_recovery"),
    [
        (15, 8, "reliable_improvement", True, True),  # the MEASURES.md example
        (15, 9, "reliable_improvement", True, True),  # a change of exactly the RCI, 6
        (16, 10, "reliable_improvement", False, False),  # 10 is still a case
        (12, 9, "no_reliable_change", True, False),  # recovered but not reliably
        (15, 10, "no_reliable_change", False, False),
        (10, 10, "no_reliable_change", False, False),
        (9, 3, "reliable_improvement", False, False),  # never a case
        (8, 14, "reliable_deterioration", False, False),
        (10, 16, "reliable_deterioration", False, False),
        (9, 10, "no_reliable_change", False, False),  # became a case: not recovery
        (14.63, 8.63, "reliable_improvement", True, True),  # prorated scores
    ],
)
def test_phq9_categories_and_recovery(before, after, category, recovered, reliable_recovery):
    c = classify("phq9", "total", before=before, after=after)
    assert c.category == category
    assert c.recovered is recovered
    assert c.reliable_recovery is reliable_recovery
    assert c.rci == 6
    assert c.cutoff == 10


def test_phq9_case_is_at_10_or_more():
    c = classify("phq9", "total", before=10, after=9.88)
    assert (c.case_before, c.case_after) == (True, False)


@pytest.mark.parametrize(
    ("code", "before", "after", "category", "recovered"),
    [
        ("gad7", 12, 8, "reliable_improvement", False),  # 8 is a case (8 or more)
        ("gad7", 12, 7, "reliable_improvement", True),
        ("gad7", 9, 6, "no_reliable_change", True),  # change 3 below RCI 4
        ("gad7", 4, 8, "reliable_deterioration", False),
        ("core10", 17, 11, "reliable_improvement", False),  # 11 is a case
        ("core10", 17, 10, "reliable_improvement", True),
        ("core10", 12, 7, "no_reliable_change", True),  # change 5 below RCI 6
        ("core10", 5, 11, "reliable_deterioration", False),
        ("coreom", 15, 10, "reliable_improvement", False),  # 10 is a case
        ("coreom", 15, 9.71, "reliable_improvement", True),
        ("coreom", 12.35, 7.41, "no_reliable_change", True),  # 4.94 below RCI 5
        ("coreom", 15.29, 10.29, "reliable_improvement", False),  # exactly 5 in decimals
        ("coreom", 9.41, 14.41, "reliable_deterioration", False),
    ],
)
def test_fixed_rci_scales(code, before, after, category, recovered):
    c = classify(code, "total", before, after)
    assert c.category == category
    assert c.recovered is recovered
    assert c.reliable_recovery is (recovered and category == "reliable_improvement")


@pytest.mark.parametrize(
    ("before", "after", "category"),
    [
        (17.43, 20.73, "reliable_improvement"),  # higher is better: up 3.3
        (17.43, 20.43, "reliable_improvement"),  # exactly 3
        (20.73, 17.43, "reliable_deterioration"),
        (17.43, 19.25, "no_reliable_change"),
    ],
)
def test_swemwbs_metric_uses_rci_3_and_higher_is_better(before, after, category):
    c = classify("swemwbs", "metric", before=before, after=after)
    assert c.category == category
    assert c.rci == 3


def test_scale_without_a_cut_off_has_no_recovery():
    c = classify("swemwbs", "metric", before=7, after=35)
    assert c.recovered is None
    assert c.reliable_recovery is None
    assert c.case_before is None


def test_fixed_rci_may_not_be_overridden():
    with pytest.raises(ValueError, match=r"phq9.total has a fixed RCI of 6.*do not pass rci"):
        classify("phq9", "total", before=15, after=8, rci=3)


def test_classify_records_how_the_rci_was_reached():
    c = classify("phq9", "total", before=15, after=8)
    assert "6" in c.rci_basis
    assert "NHS Talking Therapies" in c.rci_basis
    assert c.difference == -7


# --------------------------------------------------------------------------- computed RCIs


@pytest.mark.parametrize(
    ("scale", "rci_value", "cutoff"),
    [
        # 1.959964 x SD x sqrt(2) x sqrt(1 - r) with the recorded Henry & Crawford norms
        ("depression", 7.4318, 10),  # SD 7.74, r 0.88: 15.1701214 x 0.4898979
        ("anxiety", 6.9383, 8),  # SD 5.90, r 0.82: 11.5637876 x 0.6
        ("stress", 7.3628, 15),  # SD 8.40, r 0.90: 16.4636976 x 0.4472136
    ],
)
def test_dass21_rci_is_computed_from_the_recorded_norms(scale, rci_value, cutoff):
    c = classify("dass21", scale, before=30, after=30)
    assert round(c.rci, 4) == rci_value
    assert c.cutoff == cutoff
    assert "Henry & Crawford 2005" in c.rci_basis


@pytest.mark.parametrize(
    ("scale", "before", "after", "category", "recovered"),
    [
        ("depression", 18, 8, "reliable_improvement", True),  # case at 10 (mild)
        ("depression", 18, 10, "reliable_improvement", False),
        ("depression", 12, 6, "no_reliable_change", True),
        ("anxiety", 8, 2, "no_reliable_change", True),  # case at 8
        ("anxiety", 16, 6, "reliable_improvement", True),
        ("stress", 16, 14, "no_reliable_change", True),  # case at 15
        ("stress", 14, 22, "reliable_deterioration", False),
    ],
)
def test_dass21_case_is_the_first_band_above_normal(scale, before, after, category, recovered):
    c = classify("dass21", scale, before, after)
    assert c.category == category
    assert c.recovered is recovered


def test_computed_rci_accepts_a_given_rci():
    c = classify("wsas", "total", before=25, after=15, rci=10)
    assert c.category == "reliable_improvement"
    assert c.recovered is False  # 15 is still 10 or more
    c = classify("wsas", "total", before=25, after=15.5, rci=10)
    assert c.category == "no_reliable_change"


def test_computed_rci_from_the_services_sd_and_reliability():
    # 1.959964 x 6 x sqrt(2) x sqrt(0.25) = 11.759784 x 0.7071068 = 8.31542...
    c = classify("wsas", "total", before=20, after=11, sd=6, reliability=0.75)
    assert round(c.rci, 4) == 8.3154
    assert c.category == "reliable_improvement"
    c = classify("wsas", "total", before=20, after=12, sd=6, reliability=0.75)
    assert c.category == "no_reliable_change"


def test_computed_rci_takes_the_recorded_reliability_when_only_sd_is_given():
    # FSCRS reassured self, recorded reliability 0.86: 9.79982 x sqrt(0.28) = 5.18558...
    c = classify("fscrs", "reassured_self", before=10, after=16, sd=5)
    assert round(c.rci, 4) == 5.1856
    assert c.category == "reliable_improvement"  # reassured self: higher is better
    c = classify("fscrs", "hated_self", before=10, after=16, sd=5)
    assert c.category == "reliable_deterioration"  # hated self: higher is worse


def test_computed_rci_without_an_sd_raises_naming_what_is_needed():
    with pytest.raises(ValueError, match=r"wsas.total: the RCI is computed and needs sd"):
        classify("wsas", "total", before=20, after=10)
    with pytest.raises(ValueError, match=r"fscrs.hated_self: .*needs sd"):
        classify("fscrs", "hated_self", before=10, after=4)


def test_computed_rci_without_a_reliability_raises():
    with pytest.raises(ValueError, match=r"itq.ptsd: .*needs reliability"):
        classify("itq", "ptsd", before=20, after=4, sd=5)


def test_rci_and_sd_together_are_refused():
    with pytest.raises(ValueError, match="either rci or sd and reliability"):
        classify("wsas", "total", before=20, after=10, rci=8, sd=6)


def test_given_rci_must_be_positive():
    with pytest.raises(ValueError, match="rci must be above 0"):
        classify("wsas", "total", before=20, after=10, rci=0)


# --------------------------------------------------------------------------- bad input


def test_scale_without_any_rci_raises():
    with pytest.raises(ValueError, match=r"occupation\.employed has no reliable change index"):
        classify("occupation", "employed", before=0, after=1)


@pytest.mark.parametrize(("before", "after"), [(None, 8), (15, None)])
def test_unpaired_scores_cannot_be_classified(before, after):
    with pytest.raises(ValueError, match="only paired scores"):
        classify("phq9", "total", before=before, after=after)


@pytest.mark.parametrize(("before", "after"), [(28, 8), (15, -1), (15, "8"), (True, 8)])
def test_scores_outside_the_scale_or_not_numbers_raise(before, after):
    with pytest.raises(ValueError, match=r"phq9.total"):
        classify("phq9", "total", before=before, after=after)


def test_unknown_scale_raises_listing_the_scales():
    with pytest.raises(ValueError, match=r"dass21: unknown scale 'total'; scales are depression"):
        classify("dass21", "total", before=10, after=5)


def test_unknown_instrument_raises():
    with pytest.raises(ValueError, match="unknown instrument"):
        classify("bdi", "total", before=10, after=5)
