"""score() against MEASURES.md: every expected number here is worked out by hand."""

import pytest

from measures.scoring import score


def fill(items, total, top):
    """Answers for `items` (each 0..top) that add up to `total`, filling from the first item."""
    answers = {}
    for number in items:
        answers[number] = min(top, total)
        total -= answers[number]
    assert total == 0, "target total is out of reach"
    return answers


# --------------------------------------------------------------------------- PHQ-9


def test_phq9_example_from_measures_md_scores_10_moderate_with_urgent_item_9():
    result = score("phq9", {1: 3, 2: 0, 3: 1, 4: 2, 5: 0, 6: 0, 7: 1, 8: 0, 9: 3})
    assert result.code == "phq9"
    assert result.version == "1"
    assert result.scales == {"total": 10.0}
    assert result.bands == {"total": "moderate"}
    assert result.not_scored == {}
    assert [(h.item, h.severity) for h in result.risk] == [(9, "urgent")]
    assert result.diagnosis is None


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_band_on_each_side_of_every_edge(total, band):
    result = score("phq9", fill(range(1, 10), total, 3))
    assert result.scales["total"] == total
    assert result.bands["total"] == band


@pytest.mark.parametrize(
    ("answered_sum", "expected", "band"),
    [
        # one item blank: total = mean of the 8 answered x 9 = sum x 9 / 8
        (8, 9.0, "mild"),
        (4, 4.5, "minimal"),  # between printed bands 0-4 and 5-9: highest lower bound reached
        (13, 14.63, "moderate"),  # 14.625 rounded half up
        (17, 19.13, "moderately_severe"),  # 19.125
        (9, 10.13, "moderate"),  # 10.125
    ],
)
def test_phq9_one_missing_item_is_prorated_from_the_mean_of_the_other_eight(
    answered_sum, expected, band
):
    answers = fill([1, 2, 3, 4, 5, 6, 7], answered_sum, 3) | {9: 0}
    result = score("phq9", answers)
    assert result.scales["total"] == expected
    assert result.bands["total"] == band
    assert result.prorated == {"total": 1}
    assert "item 8 missing" in result.notes["total"]


def test_phq9_missing_item_9_is_never_prorated_and_raises_a_review():
    answers = {n: 1 for n in range(1, 9)}
    result = score("phq9", answers)
    assert result.scales["total"] is None
    assert result.bands["total"] is None
    assert "item 9" in result.not_scored["total"]
    assert [(h.item, h.severity, h.answer) for h in result.risk] == [(9, "review", None)]


def test_phq9_two_missing_items_are_not_scored_with_the_reason():
    answers = {n: 1 for n in range(1, 7)} | {9: 0}
    result = score("phq9", answers)
    assert result.scales == {"total": None}
    assert result.not_scored == {"total": "2 items missing (items 7 and 8); at most 1 allowed"}


def test_phq9_difficulty_item_is_accepted_but_not_scored():
    answers = {n: 1 for n in range(1, 10)} | {10: 3}
    assert score("phq9", answers).scales == {"total": 9.0}


@pytest.mark.parametrize(("item9", "hits"), [(0, []), (1, [(9, "urgent")]), (3, [(9, "urgent")])])
def test_phq9_item_9_at_1_or_more_is_urgent(item9, hits):
    answers = {n: 0 for n in range(1, 9)} | {9: item9}
    assert [(h.item, h.severity) for h in score("phq9", answers).risk] == hits


# --------------------------------------------------------------------------- GAD-7


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_band_on_each_side_of_every_edge(total, band):
    result = score("gad7", fill(range(1, 8), total, 3))
    assert (result.scales["total"], result.bands["total"]) == (total, band)


def test_gad7_one_missing_item_is_prorated_mean_x_7():
    # six answered summing 13: 13 x 7 / 6 = 15.1666... -> 15.17, severe
    result = score("gad7", fill(range(1, 7), 13, 3))
    assert result.scales["total"] == 15.17
    assert result.bands["total"] == "severe"


def test_gad7_two_missing_items_are_not_scored():
    result = score("gad7", fill(range(1, 6), 5, 3))
    assert result.scales["total"] is None
    assert result.not_scored["total"].startswith("2 items missing")


def test_gad7_has_no_risk_rules():
    assert score("gad7", {}).risk == ()


# --------------------------------------------------------------------------- CORE-10


def core10(scored):
    """Raw answers whose scored values (after 4 - answer on items 2 and 3) are `scored`."""
    return {n: (4 - v if n in (2, 3) else v) for n, v in scored.items()}


def test_core10_reverses_items_2_and_3():
    # every answer 0: items 2 and 3 become 4 each -> total 8
    assert score("core10", {n: 0 for n in range(1, 11)}).scales["total"] == 8.0
    # every answer 4: items 2 and 3 become 0 -> 8 x 4 = 32
    assert score("core10", {n: 4 for n in range(1, 11)}).scales["total"] == 32.0


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "healthy"),
        (5, "healthy"),
        (6, "low"),
        (10, "low"),
        (11, "mild"),
        (14, "mild"),
        (15, "moderate"),
        (19, "moderate"),
        (20, "moderate_severe"),
        (24, "moderate_severe"),
        (25, "severe"),
        (40, "severe"),
    ],
)
def test_core10_band_on_each_side_of_every_edge(total, band):
    result = score("core10", core10(fill(range(1, 11), total, 4)))
    assert (result.scales["total"], result.bands["total"]) == (total, band)


@pytest.mark.parametrize(
    ("nine_sum", "expected", "band"),
    [
        (9, 10.0, "low"),  # 10 x 9 / 9
        (10, 11.11, "mild"),  # 10 x 10 / 9 = 11.111...
        (13, 14.44, "mild"),  # 14.444...
        (22, 24.44, "moderate_severe"),  # 24.444...: between printed 20-24 and 25-40
    ],
)
def test_core10_exactly_one_missing_is_10_x_mean_of_the_nine(nine_sum, expected, band):
    answers = core10(fill(range(1, 10), nine_sum, 4))  # item 10 blank
    result = score("core10", answers)
    assert result.scales["total"] == expected
    assert result.bands["total"] == band


def test_core10_two_missing_is_not_scored():
    result = score("core10", core10(fill(range(1, 9), 8, 4)))
    assert result.scales["total"] is None
    assert result.not_scored["total"] == "2 items missing (items 9 and 10); at most 1 allowed"


@pytest.mark.parametrize(
    ("item6", "severity"), [(0, None), (1, "urgent"), (4, "urgent"), (None, "review")]
)
def test_core10_item_6_risk(item6, severity):
    answers = core10({n: 0 for n in range(1, 11)}) | {6: item6}
    hits = score("core10", answers).risk
    assert [(h.item, h.severity) for h in hits] == ([(6, severity)] if severity else [])


# --------------------------------------------------------------------------- CORE-OM

OM_REVERSED = {3, 4, 7, 12, 19, 21, 31, 32}


def coreom(scored):
    return {n: (4 - v if n in OM_REVERSED else v) for n, v in scored.items()}


def test_coreom_every_answer_0_scores_the_reversed_items_as_4():
    result = score("coreom", {n: 0 for n in range(1, 35)})
    assert result.scales == {
        "total": 9.41,  # 8 reversed x 4 = 32; 32 / 34 x 10 = 9.4117...
        "non_risk": 11.43,  # 32 / 28 x 10 = 11.428...
        "wellbeing": 20.0,  # items 4 and 31 reversed: 8 / 4 x 10
        "problems": 0.0,
        "functioning": 20.0,  # items 3, 7, 12, 19, 21, 32 reversed: 24 / 12 x 10
        "risk": 0.0,
    }
    assert result.bands["total"] == "low"


def test_coreom_every_answer_2_gives_20_on_every_scale():
    result = score("coreom", {n: 2 for n in range(1, 35)})
    assert set(result.scales.values()) == {20.0}
    assert result.bands["total"] == "moderate_severe"


@pytest.mark.parametrize(
    ("reversed_sum", "expected", "band"),
    [
        (20, 5.88, "healthy"),  # 200 / 34
        (21, 6.18, "low"),
        (33, 9.71, "low"),
        (34, 10.0, "mild"),
        (50, 14.71, "mild"),
        (51, 15.0, "moderate"),
        (67, 19.71, "moderate"),
        (68, 20.0, "moderate_severe"),
        (84, 24.71, "moderate_severe"),
        (85, 25.0, "severe"),
        (136, 40.0, "severe"),
    ],
)
def test_coreom_total_band_on_each_side_of_every_edge(reversed_sum, expected, band):
    result = score("coreom", coreom(fill(range(1, 35), reversed_sum, 4)))
    assert (result.scales["total"], result.bands["total"]) == (expected, band)


def test_coreom_bands_apply_to_the_total_only():
    bands = score("coreom", {n: 2 for n in range(1, 35)}).bands
    assert bands["non_risk"] is None
    assert bands["risk"] is None


def test_coreom_three_missing_items_still_score_total_from_the_mean_of_31():
    answers = {n: 0 for n in range(1, 35) if n not in (1, 2, 6)}
    result = score("coreom", answers)
    assert result.scales["total"] == 10.32  # 32 / 31 x 10 = 10.3225...
    assert result.bands["total"] == "mild"
    assert result.scales["non_risk"] == 12.31  # items 1 and 2 missing: 32 / 26 x 10 = 12.307...
    assert result.scales["problems"] == 0.0
    assert result.scales["functioning"] == 21.82  # 24 / 11 x 10 = 21.818...
    assert result.scales["risk"] is None
    assert result.not_scored["risk"] == "1 item missing (item 6); none may be missing"


def test_coreom_four_missing_items_leave_the_total_unscored():
    answers = {n: 0 for n in range(1, 35) if n not in (1, 2, 5, 8)}
    result = score("coreom", answers)
    assert result.scales["total"] is None
    assert result.not_scored["total"].startswith("4 items missing")
    assert result.not_scored["total"].endswith("at most 3 allowed")
    assert result.not_scored["non_risk"].startswith("4 items missing")
    assert result.not_scored["problems"].startswith("3 items missing")
    assert result.scales["risk"] == 0.0
    assert result.scales["wellbeing"] == 20.0


@pytest.mark.parametrize(
    ("missing", "scale", "limit"),
    [
        ([2, 5], "problems", "at most 1 allowed"),
        ([1, 10], "functioning", "at most 1 allowed"),
        ([14], "wellbeing", "none may be missing"),
        ([34], "risk", "none may be missing"),
    ],
)
def test_coreom_domain_missing_limits(missing, scale, limit):
    answers = {n: 1 for n in range(1, 35) if n not in missing}
    result = score("coreom", answers)
    assert result.scales[scale] is None
    assert result.not_scored[scale].endswith(limit)
    assert result.scales["total"] is not None


def test_coreom_one_missing_problem_item_is_still_scored():
    answers = {n: 1 for n in range(1, 35) if n != 2}
    assert score("coreom", answers).scales["problems"] == 10.0


@pytest.mark.parametrize(
    ("item", "severity"),
    [(16, "urgent"), (24, "urgent"), (9, "review"), (34, "review"), (6, "review"), (22, "review")],
)
def test_coreom_risk_items_at_1(item, severity):
    answers = {n: 0 for n in range(1, 35)} | {item: 1}
    assert [(h.item, h.severity) for h in score("coreom", answers).risk] == [(item, severity)]


def test_coreom_risk_items_at_0_raise_nothing():
    assert score("coreom", {n: 0 for n in range(1, 35)}).risk == ()


def test_coreom_urgent_hits_come_before_reviews():
    answers = {n: 0 for n in range(1, 35)} | {9: 2, 24: 1, 6: None}
    hits = score("coreom", answers).risk
    assert [(h.item, h.severity) for h in hits] == [(24, "urgent"), (6, "review"), (9, "review")]
    assert hits[1].answer is None
    assert "unanswered" in hits[1].reason


# --------------------------------------------------------------------------- DASS-21

DASS = {
    "depression": [3, 5, 10, 13, 16, 17, 21],
    "anxiety": [2, 4, 7, 9, 15, 19, 20],
    "stress": [1, 6, 8, 11, 12, 14, 18],
}


def dass(depression=0, anxiety=0, stress=0):
    answers = {}
    answers |= fill(DASS["depression"], depression, 3)
    answers |= fill(DASS["anxiety"], anxiety, 3)
    answers |= fill(DASS["stress"], stress, 3)
    return answers


def test_dass21_each_scale_is_its_sum_x2():
    result = score("dass21", dass(depression=5, anxiety=7, stress=21))
    assert result.scales == {"depression": 10.0, "anxiety": 14.0, "stress": 42.0}


# Both sides of every edge reachable with complete answers (scores are even: sum x 2).
@pytest.mark.parametrize(
    ("scale", "raw", "band"),
    [
        ("depression", 4, "normal"),  # 8
        ("depression", 5, "mild"),  # 10
        ("depression", 6, "mild"),  # 12
        ("depression", 7, "moderate"),  # 14
        ("depression", 10, "moderate"),  # 20
        ("depression", 11, "severe"),  # 22
        ("depression", 13, "severe"),  # 26
        ("depression", 14, "extremely_severe"),  # 28
        ("anxiety", 3, "normal"),  # 6
        ("anxiety", 4, "mild"),  # 8
        ("anxiety", 5, "moderate"),  # 10
        ("anxiety", 7, "moderate"),  # 14
        ("anxiety", 8, "severe"),  # 16
        ("anxiety", 9, "severe"),  # 18
        ("anxiety", 10, "extremely_severe"),  # 20
        ("stress", 7, "normal"),  # 14
        ("stress", 8, "mild"),  # 16
        ("stress", 9, "mild"),  # 18
        ("stress", 10, "moderate"),  # 20
        ("stress", 12, "moderate"),  # 24
        ("stress", 13, "severe"),  # 26
        ("stress", 16, "severe"),  # 32
        ("stress", 17, "extremely_severe"),  # 34
        ("stress", 21, "extremely_severe"),  # 42
    ],
)
def test_dass21_band_on_each_side_of_every_edge(scale, raw, band):
    result = score("dass21", dass(**{scale: raw}))
    assert result.scales[scale] == raw * 2
    assert result.bands[scale] == band


@pytest.mark.parametrize(
    ("scale", "six_sum", "expected", "band"),
    [
        # one item blank: the six answered, mean x 7, x 2 = sum x 7 / 3
        ("depression", 3, 7.0, "normal"),
        ("depression", 4, 9.33, "normal"),  # 9.333: above printed 0-9, below 10
        ("depression", 6, 14.0, "moderate"),
        ("depression", 9, 21.0, "severe"),
        ("depression", 12, 28.0, "extremely_severe"),
        ("anxiety", 6, 14.0, "moderate"),
        ("anxiety", 7, 16.33, "severe"),
        ("stress", 8, 18.67, "mild"),  # 18.666: between printed 15-18 and 19-25
        ("stress", 11, 25.67, "moderate"),
    ],
)
def test_dass21_one_missing_item_per_scale_is_replaced_by_that_scales_mean(
    scale, six_sum, expected, band
):
    answers = dass()
    answers.update(fill(DASS[scale][:6], six_sum, 3))
    answers[DASS[scale][6]] = None
    result = score("dass21", answers)
    assert result.scales[scale] == expected
    assert result.bands[scale] == band
    assert result.prorated == {scale: 1}


def test_dass21_two_missing_in_one_scale_leave_only_that_scale_unscored():
    answers = dass(depression=4, anxiety=4, stress=4)
    answers[2] = answers[4] = None
    result = score("dass21", answers)
    assert result.scales["anxiety"] is None
    assert result.not_scored["anxiety"].startswith("2 items missing")
    assert result.scales["depression"] == 8.0
    assert result.scales["stress"] == 8.0


def test_dass21_one_missing_in_each_scale_scores_all_three():
    answers = {n: 1 for n in range(1, 22)} | {3: None, 2: None, 1: None}
    assert score("dass21", answers).scales == {
        "depression": 14.0,
        "anxiety": 14.0,
        "stress": 14.0,
    }


@pytest.mark.parametrize(
    ("item21", "severity"), [(0, None), (1, None), (2, "review"), (3, "review"), (None, "review")]
)
def test_dass21_item_21_at_2_or_more_is_a_review(item21, severity):
    answers = dass() | {21: item21}
    hits = score("dass21", answers).risk
    assert [(h.item, h.severity) for h in hits] == ([(21, severity)] if severity else [])


# --------------------------------------------------------------------------- WSAS


def test_wsas_total_is_the_sum_of_five():
    result = score("wsas", {1: 8, 2: 8, 3: 8, 4: 8, 5: 8})
    assert (result.scales["total"], result.bands["total"]) == (40.0, "moderately_severe")


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "subclinical"),
        (9, "subclinical"),
        (10, "significant"),
        (20, "significant"),
        (21, "moderately_severe"),
        (40, "moderately_severe"),
    ],
)
def test_wsas_band_on_each_side_of_every_edge(total, band):
    result = score("wsas", fill(range(1, 6), total, 8))
    assert (result.scales["total"], result.bands["total"]) == (total, band)


def test_wsas_item_1_not_applicable_gives_the_total_of_items_2_to_5_and_says_so():
    result = score("wsas", {1: "na", 2: 8, 3: 8, 4: 8, 5: 8})
    assert result.scales["total"] == 32.0
    assert result.not_applicable == (1,)
    assert "item 1 not applicable" in result.notes["total"]
    assert "items 2, 3, 4 and 5" in result.notes["total"]
    assert "0-32" in result.notes["total"]
    assert result.prorated == {}
    assert result.bands["total"] is None  # the bands are defined on 0-40, not 0-32


def test_wsas_with_item_1_applicable_keeps_its_band():
    result = score("wsas", {1: 0, 2: 8, 3: 8, 4: 8, 5: 8})
    assert (result.scales["total"], result.bands["total"]) == (32.0, "moderately_severe")


def test_wsas_not_applicable_is_not_prorated_up_to_five_items():
    result = score("wsas", {1: "na", 2: 2, 3: 2, 4: 2, 5: 3})
    assert result.scales["total"] == 9.0
    assert result.bands["total"] is None  # a 0-32 total has no band


def test_wsas_any_missing_item_is_not_scored():
    result = score("wsas", {1: 1, 2: 1, 3: 1, 4: 1})
    assert result.scales["total"] is None
    assert result.not_scored["total"] == "1 item missing (item 5); none may be missing"


def test_wsas_missing_item_with_item_1_not_applicable_is_still_not_scored():
    result = score("wsas", {1: "na", 2: 1, 3: 1, 4: 1})
    assert result.scales["total"] is None


@pytest.mark.parametrize("item", [2, 3, 4, 5])
def test_wsas_not_applicable_is_refused_on_items_other_than_1(item):
    with pytest.raises(ValueError, match=rf"wsas: item {item}: 'na' is not an allowed answer"):
        score("wsas", {item: "na"})


# --------------------------------------------------------------------------- SCS-SF

SCS_REVERSED = [1, 4, 8, 9, 11, 12]
SCS_FORWARD = [2, 3, 5, 6, 7, 10]


def test_scssf_reverses_items_with_6_minus_answer_then_takes_the_mean():
    # forward items 3, reversed items answered 1 (scored 5): (6 x 3 + 6 x 5) / 12 = 4.0
    answers = {n: 3 for n in SCS_FORWARD} | {n: 1 for n in SCS_REVERSED}
    assert score("scssf", answers).scales == {"total": 4.0}


@pytest.mark.parametrize(
    ("forward", "reversed_answer", "expected"),
    [(5, 1, 5.0), (1, 5, 1.0), (1, 1, 3.0), (5, 5, 3.0), (4, 2, 4.0)],
)
def test_scssf_range_is_1_to_5(forward, reversed_answer, expected):
    answers = {n: forward for n in SCS_FORWARD} | {n: reversed_answer for n in SCS_REVERSED}
    assert score("scssf", answers).scales["total"] == expected


def test_scssf_one_missing_item_takes_the_mean_of_the_other_11():
    answers = {n: 3 for n in SCS_FORWARD} | {n: 1 for n in SCS_REVERSED}
    answers[12] = None
    # (6 x 3 + 5 x 5) / 11 = 43 / 11 = 3.909...
    result = score("scssf", answers)
    assert result.scales["total"] == 3.91
    assert result.bands["total"] is None


def test_scssf_two_missing_items_are_not_scored():
    answers = {n: 3 for n in range(1, 11)}
    result = score("scssf", answers)
    assert result.scales["total"] is None
    assert result.not_scored["total"] == "2 items missing (items 11 and 12); at most 1 allowed"


# --------------------------------------------------------------------------- FSCRS

FSCRS = {
    "inadequate_self": [1, 2, 4, 6, 7, 14, 17, 18, 20],
    "hated_self": [9, 10, 12, 15, 22],
    "reassured_self": [3, 5, 8, 11, 13, 16, 19, 21],
}


def test_fscrs_three_sums_without_reversal():
    answers = {n: 4 for n in range(1, 23)}
    assert score("fscrs", answers).scales == {
        "inadequate_self": 36.0,
        "hated_self": 20.0,
        "reassured_self": 32.0,
    }


def test_fscrs_scales_are_summed_from_their_own_items():
    answers = {n: 0 for n in range(1, 23)} | {n: 1 for n in FSCRS["reassured_self"]}
    assert score("fscrs", answers).scales == {
        "inadequate_self": 0.0,
        "hated_self": 0.0,
        "reassured_self": 8.0,
    }


def test_fscrs_one_missing_per_scale_is_prorated_by_that_scales_mean():
    answers = {n: 1 for n in range(1, 23)} | {20: None, 22: None, 21: None}
    answers[1] = 3  # inadequate self: 8 answered summing 10 -> 10 x 9 / 8 = 11.25
    result = score("fscrs", answers)
    assert result.scales == {
        "inadequate_self": 11.25,
        "hated_self": 5.0,  # 4 x 5 / 4
        "reassured_self": 8.0,  # 7 x 8 / 7
    }
    assert result.bands == dict.fromkeys(FSCRS)


def test_fscrs_two_missing_in_hated_self_leave_it_unscored():
    answers = {n: 1 for n in range(1, 23)} | {10: None, 12: None}
    result = score("fscrs", answers)
    assert result.scales["hated_self"] is None
    assert result.scales["inadequate_self"] == 9.0


@pytest.mark.parametrize(
    ("item9", "severity"), [(1, None), (2, "review"), (4, "review"), (None, "review")]
)
def test_fscrs_item_9_at_2_or_more_is_a_review(item9, severity):
    answers = {n: 0 for n in range(1, 23)} | {9: item9}
    hits = score("fscrs", answers).risk
    assert [(h.item, h.severity) for h in hits] == ([(9, severity)] if severity else [])


# --------------------------------------------------------------------------- FCS, OAS, SSPS


def test_fcs_three_scales_cover_items_1_10_11_23_24_38():
    answers = {n: 0 for n in range(1, 39)} | {10: 4, 11: 4, 23: 4, 24: 4, 38: 4}
    assert score("fcs", answers).scales == {
        "for_others": 4.0,
        "from_others": 8.0,
        "for_self": 8.0,
    }


def test_fcs_maximum_scores():
    answers = {n: 4 for n in range(1, 39)}
    assert score("fcs", answers).scales == {
        "for_others": 40.0,
        "from_others": 52.0,
        "for_self": 60.0,
    }


def test_fcs_one_missing_per_scale_is_prorated():
    answers = {n: 2 for n in range(1, 39)} | {1: None, 11: None, 24: None}
    answers[12] = 3  # from others: 12 answered summing 25 -> 25 x 13 / 12 = 27.083...
    assert score("fcs", answers).scales == {
        "for_others": 20.0,
        "from_others": 27.08,
        "for_self": 30.0,
    }


def test_fcs_two_missing_in_one_scale_leave_it_unscored():
    answers = {n: 2 for n in range(1, 39)} | {30: None, 31: None}
    result = score("fcs", answers)
    assert result.scales["for_self"] is None
    assert result.scales["for_others"] == 20.0


def test_oas_total_and_single_missing_item():
    assert score("oas", {n: 4 for n in range(1, 19)}).scales == {"total": 72.0}
    # 17 answered summing 17: 17 x 18 / 17 = 18
    assert score("oas", {n: 1 for n in range(1, 18)}).scales == {"total": 18.0}
    result = score("oas", {n: 1 for n in range(1, 17)})
    assert result.scales == {"total": None}
    assert result.not_scored["total"].startswith("2 items missing")


def test_ssps_total_runs_11_to_55_with_one_missing_prorated():
    assert score("ssps", {n: 1 for n in range(1, 12)}).scales == {"total": 11.0}
    assert score("ssps", {n: 5 for n in range(1, 12)}).scales == {"total": 55.0}
    # 10 answered summing 31: 31 x 11 / 10 = 34.1
    answers = {n: 3 for n in range(1, 11)} | {1: 4}
    assert score("ssps", answers).scales == {"total": 34.1}
    assert score("ssps", {n: 3 for n in range(1, 10)}).scales == {"total": None}


# --------------------------------------------------------------------------- ITQ

ITQ_NONE = dict.fromkeys(range(1, 19), 0)


def itq(**endorsed):
    """All items 0 except the given ones (keyword i<n>=value)."""
    return ITQ_NONE | {int(k[1:]): v for k, v in endorsed.items()}


def test_itq_scales_are_sums_of_items_1_to_6_and_10_to_15():
    answers = {n: 4 for n in range(1, 19)}
    assert score("itq", answers).scales == {"ptsd": 24.0, "dso": 24.0}
    answers = itq(i1=1, i6=3, i7=4, i10=2, i15=1, i16=4)
    assert score("itq", answers).scales == {"ptsd": 4.0, "dso": 3.0}


@pytest.mark.parametrize(
    ("answers", "diagnosis"),
    [
        (ITQ_NONE, "none"),
        (itq(i1=2, i3=2, i5=2, i7=2), "ptsd"),
        (itq(i2=4, i4=3, i6=2, i9=2), "ptsd"),
        (itq(i1=2, i3=2, i5=2, i7=2, i10=2, i12=2, i14=2, i16=2), "cptsd"),
        (itq(i2=3, i4=3, i6=3, i8=3, i11=4, i13=4, i15=4, i18=4), "cptsd"),
        # DSO alone, without PTSD, is not complex PTSD
        (itq(i10=4, i12=4, i14=4, i16=4), "none"),
        # a missing pair: no endorsement in 5-6
        (itq(i1=2, i3=2, i7=2), "none"),
        # no functional impairment among 7-9
        (itq(i1=2, i3=2, i5=2), "none"),
        # PTSD met, DSO missing its impairment item: PTSD
        (itq(i1=2, i3=2, i5=2, i7=2, i10=2, i12=2, i14=2), "ptsd"),
        # answers of 1 are not endorsed
        (itq(i1=1, i3=1, i5=1, i7=1), "none"),
        (dict.fromkeys(range(1, 19), 1), "none"),
        (dict.fromkeys(range(1, 19), 2), "cptsd"),
    ],
)
def test_itq_diagnosis_algorithm(answers, diagnosis):
    assert score("itq", answers).diagnosis == diagnosis


@pytest.mark.parametrize("blank", [1, 9, 10, 18])
def test_itq_diagnosis_cannot_be_decided_with_any_item_missing(blank):
    answers = dict.fromkeys(range(1, 19), 4) | {blank: None}
    assert score("itq", answers).diagnosis is None


def test_itq_missing_dso_item_decides_nothing_even_when_ptsd_is_met():
    answers = itq(i1=2, i3=2, i5=2, i7=2) | {12: None}
    result = score("itq", answers)
    assert result.diagnosis is None
    assert result.scales["dso"] is None
    assert result.scales["ptsd"] == 6.0


def test_non_itq_instruments_have_no_diagnosis():
    assert score("phq9", {}).diagnosis is None


# --------------------------------------------------------------------------- SWEMWBS

SWEMWBS_TABLE = {
    7: 7.00, 8: 9.51, 9: 11.25, 10: 12.40, 11: 13.33, 12: 14.08, 13: 14.75, 14: 15.32,
    15: 15.84, 16: 16.36, 17: 16.88, 18: 17.43, 19: 17.98, 20: 18.59, 21: 19.25, 22: 19.98,
    23: 20.73, 24: 21.54, 25: 22.35, 26: 23.21, 27: 24.11, 28: 25.03, 29: 26.02, 30: 27.03,
    31: 28.13, 32: 29.31, 33: 30.70, 34: 32.55, 35: 35.00,
}  # fmt: skip


@pytest.mark.parametrize(("raw", "metric"), sorted(SWEMWBS_TABLE.items()))
def test_swemwbs_raw_sum_converts_by_the_published_table(raw, metric):
    # answers 1-5: start every item at 1 and add the rest
    answers = {n: 1 + extra for n, extra in fill(range(1, 8), raw - 7, 4).items()}
    result = score("swemwbs", answers)
    assert result.scales == {"raw": float(raw), "metric": metric}


def test_swemwbs_any_missing_item_leaves_both_scores_unscored():
    result = score("swemwbs", {n: 3 for n in range(1, 7)})
    assert result.scales == {"raw": None, "metric": None}
    assert set(result.not_scored) == {"raw", "metric"}


# ----------------------------------------------------------------- occupation, service use


@pytest.mark.parametrize(
    ("answers", "flags"),
    [
        ({1: 0, 2: 0, 3: 0, 4: 0}, (0, 0, 0, 0)),
        ({1: 1, 2: 0, 3: 0, 4: 0}, (1, 0, 0, 1)),
        ({1: 2, 2: 0, 3: 0, 4: 0}, (1, 0, 0, 1)),
        ({1: 3, 2: 0, 3: 0, 4: 0}, (1, 0, 0, 1)),
        ({1: 0, 2: 1, 3: 0, 4: 0}, (0, 1, 0, 1)),
        ({1: 0, 2: 0, 3: 1, 4: 0}, (0, 1, 0, 1)),
        ({1: 0, 2: 0, 3: 0, 4: 1}, (0, 0, 1, 1)),
        ({1: 2, 2: 1, 3: 1, 4: 1}, (1, 1, 1, 1)),
    ],
)
def test_occupation_flags(answers, flags):
    result = score("occupation", answers)
    keys = ("employed", "education_or_training", "volunteering", "engaged")
    assert tuple(result.scales[k] for k in keys) == flags


def test_occupation_a_yes_decides_engaged_even_with_blanks():
    result = score("occupation", {4: 1})
    assert result.scales["engaged"] == 1.0
    assert result.scales["volunteering"] == 1.0
    assert result.scales["employed"] is None
    assert result.scales["education_or_training"] is None
    assert "item 1" in result.not_scored["employed"]


def test_occupation_all_no_but_one_blank_cannot_say_not_engaged():
    result = score("occupation", {1: 0, 2: 0, 4: 0})
    assert result.scales["engaged"] is None
    assert result.scales["education_or_training"] is None
    assert result.scales["employed"] == 0.0
    assert "item 3" in result.not_scored["engaged"]


def test_service_use_scales_are_the_counts():
    result = score("service_use", {1: 14, 2: 1, 3: 3, 4: 0, 5: 21, 6: 250})
    assert result.scales == {
        "inpatient_bed_days": 14.0,
        "admissions": 1.0,
        "ae_attendances": 3.0,
        "crisis_contacts": 0.0,
        "home_treatment_days": 21.0,
        "other_unplanned_contacts": 250.0,
    }
    assert result.risk == ()


def test_service_use_blank_count_is_not_scored_rather_than_zero():
    result = score("service_use", {1: 0, 2: 0, 3: 0, 4: 0, 5: 0})
    assert result.scales["other_unplanned_contacts"] is None
    assert result.not_scored["other_unplanned_contacts"] == (
        "1 item missing (item 6); none may be missing"
    )


@pytest.mark.parametrize("value", [-1, -100, 1.5, True, "3", "na"])
def test_service_use_rejects_negative_and_non_whole_counts(value):
    with pytest.raises(ValueError, match=r"service_use: item 2: .* whole number 0 or more"):
        score("service_use", {2: value})


# --------------------------------------------------------------------------- bad input


def test_unknown_instrument_raises_listing_known_codes():
    with pytest.raises(ValueError, match=r"unknown instrument 'phq10'; known: .*phq9"):
        score("phq10", {})


@pytest.mark.parametrize("item", [0, 10, 11, -1, "x", "01", True, 1.0])
def test_unknown_item_number_raises_naming_it(item):
    with pytest.raises(ValueError, match=r"gad7: item .* does not exist; items are 1-7"):
        score("gad7", {item: 0})


@pytest.mark.parametrize(
    ("value", "shown"),
    [(4, "4"), (-1, "-1"), (True, "True"), (False, "False"), (2.0, "2.0"), ("2", "'2'"),
     ("na", "'na'"), ("", "''"), ([1], r"\[1\]")],
)  # fmt: skip
def test_value_outside_the_options_raises_naming_instrument_item_and_allowed_values(value, shown):
    with pytest.raises(
        ValueError,
        match=rf"^phq9: item 3: {shown} is not an allowed answer; allowed: 0, 1, 2, 3, None",
    ):
        score("phq9", {3: value})


def test_na_message_lists_not_applicable_where_the_item_allows_it():
    with pytest.raises(ValueError, match=r'wsas: item 1: 9 .*allowed: 0, 1, .* 8, "na"'):
        score("wsas", {1: 9})


def test_item_numbers_may_be_given_as_digits_in_text_as_json_stores_them():
    assert score("gad7", {str(n): 1 for n in range(1, 8)}).scales == {"total": 7.0}


def test_the_same_item_given_as_int_and_text_raises():
    with pytest.raises(ValueError, match="item 1 is given twice"):
        score("gad7", {1: 0, "1": 0})


def test_answers_must_be_a_mapping():
    with pytest.raises(ValueError, match="answers must map item numbers"):
        score("gad7", [0, 1, 2])


def test_absent_items_count_as_blank():
    assert (
        score("gad7", {n: 1 for n in range(1, 7)}).scales
        == score("gad7", {n: 1 for n in range(1, 7)} | {7: None}).scales
    )
