"""Properties of score() over any answers at all, valid or not."""

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from measures.definitions import all_instruments, get_instrument
from measures.scoring import score

INSTRUMENTS = all_instruments()
CODES = [i.code for i in INSTRUMENTS]

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def valid_value(item, *, blank=True):
    choices = (
        [st.integers(min_value=0, max_value=10_000)]
        if item.count
        else [st.sampled_from(item.option_values)]
    )
    if item.allows_na:
        choices.append(st.just("na"))
    if blank:
        choices.append(st.none())
    return st.one_of(*choices)


@st.composite
def answers_for(draw, code, *, blank=True):
    """Any valid answers: each item answered, left blank (None) or left out of the mapping."""
    instrument = get_instrument(code)
    answers = {}
    for item in instrument.items:
        if blank and draw(st.booleans()) and draw(st.booleans()):
            continue  # absent from the mapping altogether
        answers[item.number] = draw(valid_value(item, blank=blank))
    return answers


@st.composite
def any_instrument_answers(draw, *, blank=True):
    code = draw(st.sampled_from(CODES))
    return code, draw(answers_for(code, blank=blank))


@PROPERTY_SETTINGS
@given(any_instrument_answers())
# Always tried: WSAS with item 1 not applicable, scored over 0-32 and so without a band.
@example(("wsas", {1: "na", 2: 3, 3: 3, 4: 3, 5: 3}))
def test_any_valid_answers_score_inside_the_range_or_are_not_scored_with_a_reason(case):
    code, answers = case
    instrument = get_instrument(code)
    result = score(code, answers)
    assert result.code == code
    assert result.version == instrument.version
    assert set(result.scales) == set(instrument.scale_keys)
    for scale in instrument.scales:
        value = result.scales[scale.key]
        if value is None:
            assert result.not_scored[scale.key].strip()
            assert result.bands[scale.key] is None
        else:
            assert scale.key not in result.not_scored
            assert isinstance(value, float)
            assert value >= scale.range_min
            if scale.range_max is not None:
                assert value <= scale.range_max
            partial = any(answers.get(n) == "na" for n in scale.items)
            if scale.bands and not partial:
                assert result.bands[scale.key] in {b.key for b in scale.bands}
            else:
                # Bands span the whole range: a score over fewer items (some "not
                # applicable", as WSAS item 1) has none, and its note says why.
                assert result.bands[scale.key] is None
                if scale.bands:
                    assert "not applicable" in result.notes[scale.key]


@PROPERTY_SETTINGS
@given(any_instrument_answers(blank=False))
def test_complete_answers_are_always_scored(case):
    code, answers = case
    result = score(code, answers)
    assert result.not_scored == {}
    assert None not in result.scales.values()
    if get_instrument(code).diagnosis:
        assert result.diagnosis in {"cptsd", "ptsd", "none"}


@pytest.mark.parametrize("code", CODES)
def test_no_answers_at_all_score_nothing_and_never_zero(code):
    result = score(code, {})
    assert set(result.scales.values()) == {None}
    assert set(result.not_scored) == set(result.scales)
    assert result.diagnosis is None


@PROPERTY_SETTINGS
@given(any_instrument_answers())
def test_a_risk_item_left_blank_always_raises_a_review_or_worse(case):
    code, answers = case
    instrument = get_instrument(code)
    hits = {hit.item: hit for hit in score(code, answers).risk}
    for rule in instrument.risk_rules:
        value = answers.get(rule.item)
        if value is None:
            assert hits[rule.item].severity in ("review", "urgent")
            assert hits[rule.item].answer is None
        elif value >= rule.at_least:
            assert rule.item in hits
        assert set(hits) <= set(instrument.risk_items)


@PROPERTY_SETTINGS
@given(st.data())
def test_prorated_sums_equal_the_mean_of_the_answered_times_the_item_count(data):
    # Every prorating sum scale: one item blank scores as sum x n / (n - 1), rounded half up.
    candidates = [
        (i, s)
        for i in INSTRUMENTS
        for s in i.scales
        if s.method in ("sum", "sum_x2") and s.missing.max >= 1
    ]
    instrument, scale = data.draw(st.sampled_from(candidates))
    answers = data.draw(answers_for(instrument.code, blank=False))
    blank = data.draw(st.sampled_from([n for n in scale.items if n not in scale.missing.never]))
    answers[blank] = None
    values = [answers[n] for n in scale.items if n != blank]
    if scale.reversed:
        values = [
            scale.reversed.subtract_from - answers[n] if n in scale.reversed.items else answers[n]
            for n in scale.items
            if n != blank
        ]
    factor = 2 if scale.method == "sum_x2" else 1
    exact = Fraction(sum(values) * len(scale.items) * factor, len(values))
    result = score(instrument.code, answers).scales[scale.key]
    # at most half a unit in the second decimal place, plus binary floating point's slack
    assert abs(result - float(exact)) <= 0.005 + 1e-9


def invalid_value(item):
    bad = [
        st.booleans(),
        st.floats(allow_nan=True),
        st.text(max_size=3).filter(lambda s: s != "na"),
        st.lists(st.integers(), max_size=2),
    ]
    if item.count:
        bad.append(st.integers(max_value=-1))
    else:
        bad.append(st.integers().filter(lambda v: v not in item.option_values))
    if not item.allows_na:
        bad.append(st.just("na"))
    return st.one_of(*bad)


@PROPERTY_SETTINGS
@given(st.data())
def test_any_invalid_value_raises_naming_the_instrument_and_item(data):
    code = data.draw(st.sampled_from(CODES))
    instrument = get_instrument(code)
    answers = data.draw(answers_for(code))
    item = data.draw(st.sampled_from(instrument.items))
    value = data.draw(invalid_value(item))
    answers[item.number] = value
    with pytest.raises(ValueError) as error:
        score(code, answers)
    message = str(error.value)
    assert message.startswith(f"{code}: item {item.number}: ")
    assert "allowed:" in message


@PROPERTY_SETTINGS
@given(st.data())
def test_any_unknown_item_number_raises(data):
    code = data.draw(st.sampled_from(CODES))
    instrument = get_instrument(code)
    number = data.draw(st.integers().filter(lambda n: n not in instrument.item_numbers))
    with pytest.raises(ValueError, match=rf"^{code}: item {number} does not exist"):
        score(code, {number: 0})
