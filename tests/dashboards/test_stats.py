"""dashboards.stats against figures worked out by hand (the arithmetic is in the comments)."""

import math

import pytest

from dashboards import stats


@pytest.mark.parametrize(
    ("df", "expected"),
    # Published two-sided 95% critical values of Student's t.
    [
        (1, 12.7062),
        (2, 4.3027),
        (4, 2.7764),
        (5, 2.5706),
        (6, 2.4469),
        (10, 2.2281),
        (30, 2.0423),
        (120, 1.9799),
    ],
)
def test_t_quantile_matches_published_tables(df, expected):
    assert stats.t_quantile_975(df) == pytest.approx(expected, abs=1e-4)


def test_t_quantile_rejects_a_df_below_one():
    with pytest.raises(ValueError, match="1 or more"):
        stats.t_quantile_975(0)


def test_the_normal_centile_is_the_published_one():
    assert round(stats.Z_95, 6) == 1.959964


def test_mean_ci_worked_by_hand():
    # Values 20, 12, 25, 19, 14, 20, 16: sum 126, n 7, mean 18.
    # Deviations 2, -6, 7, 1, -4, 2, -2; squares 4+36+49+1+16+4+4 = 114.
    # SD = sqrt(114 / 6) = sqrt(19) = 4.358899. SE = 4.358899 / sqrt(7) = 1.647509.
    # t(0.975, 6) = 2.446912, half-width 2.446912 x 1.647509 = 4.031309.
    result = stats.mean_ci([20, 12, 25, 19, 14, 20, 16])
    assert result.n == 7
    assert result.mean == pytest.approx(18.0)
    assert result.sd == pytest.approx(4.358899, abs=1e-6)
    assert result.low == pytest.approx(18 - 4.031309, abs=1e-5)
    assert result.high == pytest.approx(18 + 4.031309, abs=1e-5)


def test_mean_ci_below_the_minimum_is_not_a_number():
    result = stats.mean_ci([10, 12, 14, 16])
    assert result.n == 4
    assert result.mean is None and not result.enough


def test_paired_change_worked_by_hand_for_core10():
    # CORE-10 total: RCI 6, a case at 11 or more, lower is better.
    # before -> after, change (after - before), category, recovery:
    #  20 -> 12   -8  reliable improvement    case -> case      not recovered
    #  12 ->  8   -4  no reliable change      case -> not case  recovered, not reliable
    #  25 -> 15  -10  reliable improvement    case -> case      not recovered
    #  19 -> 10   -9  reliable improvement    case -> not case  reliable recovery
    #  14 -> 20   +6  reliable deterioration  case -> case      (|6| reaches the RCI)
    #  20 ->  9  -11  reliable improvement    case -> not case  reliable recovery
    # Changes sum to -36, n 6, mean -6. Deviations -2, 2, -4, -3, 12, -5; squares
    # 4+4+16+9+144+25 = 202; SD = sqrt(202/5) = sqrt(40.4) = 6.356099.
    # 95% CI: t(0.975, 5) = 2.570582; SE = 6.356099/sqrt(6) = 2.594864; half 6.670318.
    # d_z = -6 / 6.356099 = -0.943975. SE(d_z) = sqrt(1/6 + 0.891089/12) = 0.490840;
    # CI = -0.943975 +/- 1.959964 x 0.490840 = -1.906004 to 0.018054.
    pairs = [(20, 12), (12, 8), (25, 15), (19, 10), (14, 20), (20, 9)]
    result = stats.paired_change("core10", "total", pairs, left_out={"no baseline score": 2})
    assert result.n == 6
    assert result.mean_change == pytest.approx(-6.0)
    assert result.sd_change == pytest.approx(6.356099, abs=1e-6)
    assert result.ci_low == pytest.approx(-12.670318, abs=1e-5)
    assert result.ci_high == pytest.approx(0.670318, abs=1e-5)
    assert result.d == pytest.approx(-0.943975, abs=1e-6)
    assert result.d_low == pytest.approx(-1.906004, abs=1e-5)
    assert result.d_high == pytest.approx(0.018054, abs=1e-5)
    assert result.reliable_improvement == 4
    assert result.no_reliable_change == 1
    assert result.reliable_deterioration == 1
    assert result.recovered == 3
    assert result.reliable_recovery == 2
    assert result.cases_at_baseline == 6
    assert result.rci == 6
    assert result.left_out_total == 2


def test_paired_change_below_five_pairs_gives_no_figures():
    result = stats.paired_change("core10", "total", [(20, 12), (12, 8), (25, 15), (19, 10)])
    assert result.n == 4
    assert not result.enough
    assert result.mean_change is None and result.d is None and result.categories == {}


def test_computed_rci_uses_the_services_baseline_sd_from_20_baseline_scores():
    # FSCRS hated self: RCI computed from reliability 0.86 and the service's baseline SD.
    # With SD 4: RCI = 1.959964 x 4 x sqrt(2) x sqrt(0.14) = 4.1484 (to 4 places).
    # Changes -5, -5, -4, 0, +5: two reliable improvements, one deterioration, two not.
    expected_rci = 1.959964 * 4 * math.sqrt(2) * math.sqrt(1 - 0.86)
    assert expected_rci == pytest.approx(4.1484, abs=1e-4)
    pairs = [(15, 10), (12, 7), (14, 10), (9, 9), (8, 13)]
    result = stats.paired_change("fscrs", "hated_self", pairs, baseline_sd=4.0, baseline_n=20)
    assert result.rci == pytest.approx(expected_rci)
    assert (
        result.reliable_improvement,
        result.no_reliable_change,
        result.reliable_deterioration,
    ) == (2, 2, 1)
    assert result.recovered is None  # no published cut-off
    assert "this service's own baseline SD 4.00 (20 baseline scores)" in result.rci_basis


def test_below_20_baseline_scores_and_no_published_sd_there_is_no_rci():
    pairs = [(15, 10), (12, 7), (14, 10), (9, 9), (8, 13)]
    result = stats.paired_change("fscrs", "hated_self", pairs, baseline_sd=4.0, baseline_n=19)
    assert result.enough and result.categories == {}
    assert result.rci_missing == (
        "no reliable change index: this service has 19 baseline scores, fewer than 20, "
        "and no published SD is recorded"
    )


def test_dass21_uses_the_published_sd_below_20_and_the_services_own_from_20():
    # DASS-21 depression: reliability 0.88, published SD 7.74 (Henry & Crawford 2005).
    # Published: 1.959964 x 7.74 x sqrt(2) x sqrt(0.12) = 7.4318.
    # Own SD 12 from 25 scores: 1.959964 x 12 x sqrt(2) x sqrt(0.12) = 11.5222.
    # Pairs (30 -> 20) change -10 and (28 -> 20) -8: reliable with the published SD,
    # not with the service's own; (10 -> 24) +14 deteriorates either way.
    pairs = [(30, 20), (28, 20), (10, 24), (20, 20), (16, 14)]
    published = stats.paired_change("dass21", "depression", pairs, baseline_sd=12.0, baseline_n=19)
    assert published.rci == pytest.approx(7.4318, abs=1e-4)
    assert published.reliable_improvement == 2 and published.reliable_deterioration == 1
    assert "the published SD 7.74 (unverified)" in published.rci_basis
    assert "this service has 19 baseline scores, fewer than 20" in published.rci_basis
    own = stats.paired_change("dass21", "depression", pairs, baseline_sd=12.0, baseline_n=25)
    assert own.rci == pytest.approx(11.5222, abs=1e-4)
    assert own.reliable_improvement == 0 and own.reliable_deterioration == 1
    assert "this service's own baseline SD 12.00 (25 baseline scores)" in own.rci_basis


def test_wsas_shows_recovery_and_reliable_change_with_its_unverified_reliability():
    # WSAS total: cut-off 10 (a case at 10 or more), test-retest r = 0.73 (unverified).
    # Own SD 5 from 30 scores: RCI = 1.959964 x 5 x sqrt(2) x sqrt(0.27) = 7.2014.
    # 20->10 (-10, reliable; case->case), 22->9 (-13, reliable; recovered),
    # 18->11 (-7, not reliable), 25->20 (-5), 12->6 (-6; recovered, not reliably).
    pairs = [(20, 10), (22, 9), (18, 11), (25, 20), (12, 6)]
    result = stats.paired_change("wsas", "total", pairs, baseline_sd=5.0, baseline_n=30)
    assert result.rci == pytest.approx(7.2014, abs=1e-4)
    assert (result.reliable_improvement, result.no_reliable_change) == (2, 3)
    assert (result.cases_at_baseline, result.recovered, result.reliable_recovery) == (5, 2, 1)
    assert "reliability 0.73 (unverified)" in result.rci_basis


def test_wsas_recovery_needs_no_rci():
    pairs = [(20, 10), (22, 9), (18, 10), (25, 20), (30, 21)]
    result = stats.paired_change("wsas", "total", pairs, baseline_sd=5.0, baseline_n=3)
    assert result.enough and result.mean_change == pytest.approx(-9.0)  # -45 / 5
    assert result.categories == {} and result.reliable_recovery is None
    assert "fewer than 20" in result.rci_missing
    assert (result.cases_at_baseline, result.recovered) == (5, 1)  # 22 -> 9 only


def test_rate_per_person_year():
    # 14 bed days over 7 people each recorded for 12 months: 14 / 7 = 2 per person-year.
    assert stats.rate_per_person_year(14, 7.0) == 2.0
    assert stats.rate_per_person_year(3, 0.0) is None


def test_correlation_worked_by_hand():
    # x 1..5 (mean 3), y 2, 4, 5, 4, 5 (mean 4): deviations -2 -1 0 1 2 and -2 0 1 0 1.
    # Sum of products 4 + 0 + 0 + 0 + 2 = 6; sums of squares 10 and 6: r = 6 / sqrt(60).
    result = stats.correlation([1, 2, 3, 4, 5], [2, 4, 5, 4, 5])
    assert result.n == 5
    assert result.r == pytest.approx(0.774597, abs=1e-6)
    # Fisher z = atanh(0.7746) = 1.0317, +/- 1.959964 / sqrt(5 - 3) = 1.3859: -0.354 to 2.418.
    assert result.low == pytest.approx(math.tanh(1.031718 - 1.385904), abs=1e-5)
    assert result.high == pytest.approx(math.tanh(1.031718 + 1.385904), abs=1e-5)
    assert (round(result.low, 2), round(result.high, 2)) == (-0.34, 0.98)


def test_correlation_needs_five_people_and_some_spread():
    assert not stats.correlation([1, 2, 3, 4], [4, 3, 2, 1]).enough
    assert not stats.correlation([3, 3, 3, 3, 3], [1, 2, 3, 4, 5]).enough
    perfect = stats.correlation([1, 2, 3, 4, 5], [10, 8, 6, 4, 2])
    assert (perfect.r, perfect.low, perfect.high) == (-1.0, -1.0, -1.0)
