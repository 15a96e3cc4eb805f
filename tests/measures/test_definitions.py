"""The instrument definitions: shape, MEASURES.md facts, licences, and the strict loader."""

import json
import shutil

import pytest

from measures.definitions import (
    INSTRUMENTS_DIR,
    InstrumentDefinitionError,
    all_instruments,
    apply_wording,
    get_instrument,
    instrument_codes,
    load_instruments,
    parse_instrument,
    unverified_values,
)

CODES = [
    "core10", "coreom", "dass21", "fcs", "fscrs", "gad7", "itq", "oas", "occupation", "phq9",
    "scssf", "service_use", "ssps", "swemwbs", "wsas",
]  # fmt: skip


def test_every_instrument_in_measures_md_loads():
    assert instrument_codes() == tuple(CODES)
    assert [i.code for i in all_instruments()] == CODES
    assert all(i.version == "1" for i in all_instruments())


def test_unknown_code_raises_listing_the_known_codes():
    with pytest.raises(ValueError, match=r"unknown instrument 'phq'; known: core10, coreom"):
        get_instrument("phq")


@pytest.mark.parametrize(
    ("code", "scales"),
    [
        ("phq9", ["total"]),
        ("gad7", ["total"]),
        ("core10", ["total"]),
        ("coreom", ["total", "non_risk", "wellbeing", "problems", "functioning", "risk"]),
        ("dass21", ["depression", "anxiety", "stress"]),
        ("wsas", ["total"]),
        ("scssf", ["total"]),
        ("fscrs", ["inadequate_self", "hated_self", "reassured_self"]),
        ("fcs", ["for_others", "from_others", "for_self"]),
        ("oas", ["total"]),
        ("ssps", ["total"]),
        ("itq", ["ptsd", "dso"]),
        ("swemwbs", ["raw", "metric"]),
        ("occupation", ["employed", "education_or_training", "volunteering", "engaged"]),
        (
            "service_use",
            [
                "inpatient_bed_days",
                "admissions",
                "ae_attendances",
                "crisis_contacts",
                "home_treatment_days",
                "other_unplanned_contacts",
            ],
        ),
    ],
)
def test_scale_keys_are_the_public_vocabulary(code, scales):
    assert list(get_instrument(code).scale_keys) == scales


@pytest.mark.parametrize(
    ("code", "scored_items", "low", "high"),
    [
        ("phq9", 9, 0, 3),
        ("gad7", 7, 0, 3),
        ("core10", 10, 0, 4),
        ("coreom", 34, 0, 4),
        ("dass21", 21, 0, 3),
        ("wsas", 5, 0, 8),
        ("scssf", 12, 1, 5),
        ("fscrs", 22, 0, 4),
        ("fcs", 38, 0, 4),
        ("oas", 18, 0, 4),
        ("ssps", 11, 1, 5),
        ("itq", 18, 0, 4),
        ("swemwbs", 7, 1, 5),
    ],
)
def test_items_and_answer_values(code, scored_items, low, high):
    instrument = get_instrument(code)
    scored = [item for item in instrument.items if item.scored]
    assert len(scored) == scored_items
    assert [item.number for item in scored] == list(range(1, scored_items + 1))
    for item in scored:
        assert item.option_values == tuple(range(low, high + 1))


def test_phq9_difficulty_item_is_extra_and_unscored():
    item = get_instrument("phq9").item(10)
    assert item.scored is False
    assert item.text.startswith("If you checked off any problems")


def test_only_wsas_item_1_allows_not_applicable():
    allowing = [
        (i.code, item.number) for i in all_instruments() for item in i.items if item.allows_na
    ]
    assert allowing == [("wsas", 1)]


def test_service_use_items_are_unbounded_counts():
    instrument = get_instrument("service_use")
    assert all(item.count and item.options == () for item in instrument.items)
    assert instrument.scale("admissions").range_max is None


@pytest.mark.parametrize(
    ("code", "scale", "low", "high", "higher_is"),
    [
        ("phq9", "total", 0, 27, "worse"),
        ("gad7", "total", 0, 21, "worse"),
        ("core10", "total", 0, 40, "worse"),
        ("coreom", "total", 0, 40, "worse"),
        ("coreom", "risk", 0, 40, "worse"),
        ("dass21", "stress", 0, 42, "worse"),
        ("wsas", "total", 0, 40, "worse"),
        ("scssf", "total", 1, 5, "better"),
        ("fscrs", "inadequate_self", 0, 36, "worse"),
        ("fscrs", "hated_self", 0, 20, "worse"),
        ("fscrs", "reassured_self", 0, 32, "better"),
        ("fcs", "from_others", 0, 52, "worse"),
        ("oas", "total", 0, 72, "worse"),
        ("ssps", "total", 11, 55, "better"),
        ("itq", "ptsd", 0, 24, "worse"),
        ("swemwbs", "raw", 7, 35, "better"),
        ("swemwbs", "metric", 7, 35, "better"),
        ("occupation", "engaged", 0, 1, "better"),
        ("service_use", "admissions", 0, None, "worse"),
    ],
)
def test_ranges_and_directions(code, scale, low, high, higher_is):
    s = get_instrument(code).scale(scale)
    assert (s.range_min, s.range_max, s.higher_is) == (low, high, higher_is)


@pytest.mark.parametrize(
    ("code", "scale", "reversed_items", "subtract_from"),
    [
        ("core10", "total", (2, 3), 4),
        ("coreom", "total", (3, 4, 7, 12, 19, 21, 31, 32), 4),
        ("coreom", "wellbeing", (4, 31), 4),
        ("coreom", "functioning", (3, 7, 12, 19, 21, 32), 4),
        ("scssf", "total", (1, 4, 8, 9, 11, 12), 6),
    ],
)
def test_reversed_items_and_formula(code, scale, reversed_items, subtract_from):
    reversal = get_instrument(code).scale(scale).reversed
    assert reversal.items == reversed_items
    assert reversal.formula == f"{subtract_from} - answer"


@pytest.mark.parametrize(
    ("scale", "items", "max_missing"),
    [
        ("wellbeing", (4, 14, 17, 31), 0),
        ("problems", (2, 5, 8, 11, 13, 15, 18, 20, 23, 27, 28, 30), 1),
        ("functioning", (1, 3, 7, 10, 12, 19, 21, 25, 26, 29, 32, 33), 1),
        ("risk", (6, 9, 16, 22, 24, 34), 0),
        ("total", tuple(range(1, 35)), 3),
    ],
)
def test_coreom_domains_and_missing_limits(scale, items, max_missing):
    s = get_instrument("coreom").scale(scale)
    assert (s.items, s.missing.max) == (items, max_missing)


def test_coreom_non_risk_is_the_28_items_outside_risk():
    s = get_instrument("coreom").scale("non_risk")
    assert s.items == tuple(n for n in range(1, 35) if n not in (6, 9, 16, 22, 24, 34))
    assert s.missing.max == 3


def test_phq9_item_9_may_never_be_missing():
    assert get_instrument("phq9").scale("total").missing.never == (9,)


@pytest.mark.parametrize(
    ("code", "scale", "bands"),
    [
        ("phq9", "total", ["minimal", "mild", "moderate", "moderately_severe", "severe"]),
        ("gad7", "total", ["minimal", "mild", "moderate", "severe"]),
        (
            "core10",
            "total",
            ["healthy", "low", "mild", "moderate", "moderate_severe", "severe"],
        ),
        (
            "coreom",
            "total",
            ["healthy", "low", "mild", "moderate", "moderate_severe", "severe"],
        ),
        ("dass21", "depression", ["normal", "mild", "moderate", "severe", "extremely_severe"]),
        ("wsas", "total", ["subclinical", "significant", "moderately_severe"]),
    ],
)
def test_band_keys(code, scale, bands):
    assert [b.key for b in get_instrument(code).scale(scale).bands] == bands


# Every score 0-42 against the DASS-21 table in MEASURES.md, so each edge is tested both sides.
DASS_TABLE = {
    "depression": [(0, 9, "normal"), (10, 13, "mild"), (14, 20, "moderate"), (21, 27, "severe"),
                   (28, 42, "extremely_severe")],
    "anxiety": [(0, 7, "normal"), (8, 9, "mild"), (10, 14, "moderate"), (15, 19, "severe"),
                (20, 42, "extremely_severe")],
    "stress": [(0, 14, "normal"), (15, 18, "mild"), (19, 25, "moderate"), (26, 33, "severe"),
               (34, 42, "extremely_severe")],
}  # fmt: skip


@pytest.mark.parametrize(
    ("scale", "value", "band"),
    [
        (scale, value, band)
        for scale, rows in DASS_TABLE.items()
        for low, high, band in rows
        for value in range(low, high + 1)
    ],
)
def test_dass21_band_table(scale, value, band):
    assert get_instrument("dass21").scale(scale).band_for(value).key == band


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (5.99, "healthy"),
        (6, "low"),
        (9.9, "low"),
        (9.99, "low"),
        (10, "mild"),
        (14.99, "mild"),
        (15, "moderate"),
        (19.99, "moderate"),
        (20, "moderate_severe"),
        (24.99, "moderate_severe"),
        (25, "severe"),
    ],
)
def test_coreom_fractional_band_edges(value, band):
    assert get_instrument("coreom").scale("total").band_for(value).key == band


@pytest.mark.parametrize(
    ("value", "band"), [(9.5, "mild"), (4.99, "minimal"), (19.5, "moderately_severe")]
)
def test_a_score_between_printed_bands_takes_the_band_whose_lower_bound_it_reaches(value, band):
    assert get_instrument("phq9").scale("total").band_for(value).key == band


@pytest.mark.parametrize(
    ("code", "scale", "rci", "cutoff"),
    [
        ("phq9", "total", 6, 10),
        ("gad7", "total", 4, 8),
        ("core10", "total", 6, 11),
        ("coreom", "total", 5, 10),
        ("swemwbs", "metric", 3, None),
    ],
)
def test_fixed_rcis_and_cut_offs(code, scale, rci, cutoff):
    s = get_instrument(code).scale(scale)
    assert (s.rci.computed, s.rci.value, s.cutoff) == (False, rci, cutoff)


@pytest.mark.parametrize("scale", ["depression", "anxiety", "stress"])
def test_dass21_rci_is_computed_and_case_is_the_first_band_above_normal(scale):
    s = get_instrument("dass21").scale(scale)
    assert s.rci.computed
    assert s.rci.norm_sd is not None and s.rci.reliability is not None
    assert "Henry & Crawford 2005" in s.rci.source
    assert s.cutoff == s.bands[1].lower == {"depression": 10, "anxiety": 8, "stress": 15}[scale]


def test_wsas_rci_is_computed_with_case_at_10():
    s = get_instrument("wsas").scale("total")
    assert s.rci.computed
    assert s.cutoff == 10


def test_other_scales_compute_their_rci_and_have_no_cut_off():
    fixed_or_cutoff = {
        ("phq9", "total"), ("gad7", "total"), ("core10", "total"), ("coreom", "total"),
        ("dass21", "depression"), ("dass21", "anxiety"), ("dass21", "stress"),
        ("wsas", "total"), ("swemwbs", "metric"),
    }  # fmt: skip
    for instrument in all_instruments():
        if instrument.code in ("occupation", "service_use"):
            assert all(s.rci is None for s in instrument.scales)
            continue
        for s in instrument.scales:
            if (instrument.code, s.key) in fixed_or_cutoff:
                continue
            assert s.rci.computed, (instrument.code, s.key)
            assert s.cutoff is None, (instrument.code, s.key)


@pytest.mark.parametrize(
    ("code", "rules"),
    [
        ("phq9", [(9, 1, "urgent")]),
        ("core10", [(6, 1, "urgent")]),
        (
            "coreom",
            [
                (6, 1, "review"),
                (9, 1, "review"),
                (16, 1, "urgent"),
                (22, 1, "review"),
                (24, 1, "urgent"),
                (34, 1, "review"),
            ],
        ),
        ("dass21", [(21, 2, "review")]),
        ("fscrs", [(9, 2, "review")]),
        ("gad7", []),
        ("itq", []),
    ],
)
def test_risk_rules(code, rules):
    instrument = get_instrument(code)
    got = sorted((r.item, r.at_least, r.severity) for r in instrument.risk_rules)
    assert got == rules
    if rules:
        assert instrument.risk_unanswered == "review"


def test_itq_diagnosis_endorses_at_2_and_complex_ptsd_comes_first():
    rule = get_instrument("itq").diagnosis
    assert rule.endorsed_at == 2
    assert [o.key for o in rule.outcomes] == ["cptsd", "ptsd"]
    assert rule.needed_items == tuple(range(1, 19))
    for key in ("cptsd", "ptsd", "none"):
        assert "questionnaire criteria" in rule.label_for(key).lower()
        assert "diagnos" not in rule.label_for(key).lower()


# --------------------------------------------------------------------------- licences


SHIPS = {"phq9", "gad7", "core10", "coreom", "dass21", "scssf", "itq", "occupation", "service_use"}


@pytest.mark.parametrize("code", CODES)
def test_wording_ships_only_where_the_licence_allows(code):
    instrument = get_instrument(code)
    assert instrument.ships_wording is (code in SHIPS)
    if code in SHIPS:
        assert all(item.text for item in instrument.items)
        assert instrument.has_wording
    else:
        assert all(item.text is None and item.preamble is None for item in instrument.items)
        assert all(o.label is None for item in instrument.items for o in item.options)
        assert instrument.instructions is None
        assert not instrument.has_wording


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("phq9", "Pfizer"),
        ("gad7", "Pfizer"),
        ("core10", "© CORE System Trust"),
        ("coreom", "© CORE System Trust"),
        ("scssf", "Raes"),
        ("itq", "Cloitre"),
    ],
)
def test_attribution_lines(code, expected):
    licence = get_instrument(code).licence
    assert expected in licence.attribution
    if code.startswith("core"):
        assert licence.link.startswith("https://www.coresystemtrust.org.uk/")
        assert "CC BY-NC-ND 4.0" in licence.name
    if code in ("scssf", "itq"):
        assert {"scssf": "2011", "itq": "2018"}[code] in licence.attribution


def test_core_items_keep_their_published_risk_wording():
    assert get_instrument("core10").item(6).text == "I made plans to end my life"
    assert get_instrument("coreom").item(16).text == "I made plans to end my life"
    assert get_instrument("phq9").item(9).text.startswith("Thoughts that you would be better off")


# --------------------------------------------------------------------------- unverified values


@pytest.mark.parametrize(
    ("code", "path"),
    [
        ("phq9", "scales.total.missing"),
        ("gad7", "scales.total.missing"),
        ("core10", "scales.total.bands"),
        ("coreom", "scales.total.bands"),
        ("coreom", "scales.total.rci"),
        ("dass21", "scales.depression.missing"),
        ("dass21", "scales.anxiety.rci.norm_sd"),
        ("dass21", "scales.stress.rci.reliability"),
        ("fscrs", "scales.hated_self.missing"),
    ],
)
def test_values_marked_u_in_measures_md_are_unverified(code, path):
    assert not get_instrument(code).is_verified(path)
    assert (code, path) in {(u.code, u.path) for u in unverified_values()}


def test_a_field_below_an_unverified_one_is_unverified_too():
    assert not get_instrument("coreom").is_verified("scales.total.rci.value")


@pytest.mark.parametrize(
    ("code", "path"),
    [
        ("phq9", "scales.total.bands"),
        ("phq9", "scales.total.rci"),
        ("core10", "scales.total.rci"),
        ("gad7", "scales.total.bands"),
        ("swemwbs", "scales.metric.table"),
    ],
)
def test_values_not_marked_u_are_verified(code, path):
    assert get_instrument(code).is_verified(path)


def test_wording_verification_is_reported_per_instrument():
    unverified = {i.code for i in all_instruments() if not i.wording_verified}
    assert unverified == {"core10", "coreom", "dass21", "scssf", "itq"}


def test_every_unverified_value_carries_a_note():
    values = unverified_values()
    assert values
    assert all(v.note.strip() for v in values)


# --------------------------------------------------------------------------- pages


@pytest.mark.parametrize(
    ("code", "pages"),
    [
        # Up to 25 items: one page, section starts and all (PHQ-9's difficulty item too).
        ("phq9", [range(1, 11)]),
        ("gad7", [range(1, 8)]),
        ("dass21", [range(1, 22)]),
        ("itq", [range(1, 19)]),
        ("fscrs", [range(1, 23)]),
        # Longer: pages of items_per_page, and a new page at each section start.
        ("coreom", [range(1, 18), range(18, 35)]),
        ("fcs", [range(1, 11), range(11, 24), range(24, 39)]),
    ],
)
def test_one_page_an_instrument_unless_it_has_more_than_25_items(code, pages):
    got = [[item.number for item in page] for page in get_instrument(code).pages()]
    assert got == [list(page) for page in pages]


def test_fcs_pages_never_mix_its_three_scales():
    instrument = get_instrument("fcs")
    for page in instrument.pages():
        numbers = {item.number for item in page}
        owners = {s.key for s in instrument.scales if numbers & set(s.items)}
        assert len(owners) == 1
        assert len(page) <= instrument.items_per_page


def test_items_per_page_is_required_over_25_items_and_refused_up_to_it():
    raw = json.loads((INSTRUMENTS_DIR / "coreom.json").read_text())
    raw["items_per_page"] = None
    with pytest.raises(InstrumentDefinitionError, match="items_per_page: is required"):
        parse_instrument(raw, "coreom.json")
    raw = json.loads((INSTRUMENTS_DIR / "gad7.json").read_text())
    raw["items_per_page"] = 4
    with pytest.raises(InstrumentDefinitionError, match="items_per_page: must be null"):
        parse_instrument(raw, "gad7.json")


@pytest.mark.parametrize(
    ("code", "minutes"), [("phq9", 2), ("gad7", 2), ("dass21", 4), ("coreom", 5)]
)
def test_the_time_estimate_is_worked_out_from_the_items(code, minutes):
    assert get_instrument(code).minutes == minutes


def test_sensitive_items_follow_measures_md():
    assert get_instrument("phq9").sensitive_items == (9,)
    assert get_instrument("core10").sensitive_items == (6, 10)
    assert get_instrument("coreom").sensitive_items == (6, 9, 16, 22, 24, 34)
    assert get_instrument("dass21").sensitive_items == (21,)
    assert get_instrument("fscrs").sensitive_items == (9,)
    assert get_instrument("itq").sensitive_all
    assert all(i.plain_name for i in all_instruments())


# --------------------------------------------------------------------------- service wording


def full_wording(code):
    return {n: f"Statement {n}" for n in get_instrument(code).item_numbers}


def test_apply_wording_returns_a_new_instrument_with_every_item_worded():
    wsas = get_instrument("wsas")
    worded = apply_wording(
        wsas, full_wording("wsas"), option_labels={0: "Not at all", 8: "Very severely"}
    )
    assert worded.has_wording
    assert worded.wording_from_service
    assert worded.item(3).text == "Statement 3"
    assert worded.item(1).options[0].label == "Not at all"
    assert worded.item(1).options[1].display_label == "1"
    assert worded.scales == wsas.scales
    assert not wsas.has_wording  # the shipped definition is untouched
    assert get_instrument("wsas").item(3).text is None


def test_apply_wording_accepts_item_numbers_as_text_as_json_stores_them():
    wording = {str(n): text for n, text in full_wording("ssps").items()}
    assert apply_wording(get_instrument("ssps"), wording).item(11).text == "Statement 11"


def test_apply_wording_refuses_partial_wording_naming_the_missing_items():
    wording = full_wording("fscrs")
    del wording[3], wording[17]
    with pytest.raises(ValueError, match=r"fscrs: wording is missing for items 3, 17"):
        apply_wording(get_instrument("fscrs"), wording)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({12: "Extra"}, r"item 12 does not exist"),
        ({"x": "Extra"}, r"item 'x' does not exist"),
        ({3: "  "}, r"item 3: text must be non-empty"),
        ({3: None}, r"item 3: text must be non-empty"),
    ],
)
def test_apply_wording_rejects_bad_entries(change, message):
    wording = full_wording("ssps") | change
    with pytest.raises(ValueError, match=message):
        apply_wording(get_instrument("ssps"), wording)


def test_apply_wording_rejects_labels_for_values_the_items_do_not_have():
    with pytest.raises(ValueError, match=r"answer value 0 does not exist"):
        apply_wording(get_instrument("ssps"), full_wording("ssps"), option_labels={0: "Never"})


def test_apply_wording_refuses_instruments_that_ship_their_own():
    with pytest.raises(ValueError, match="core10: ships its own wording"):
        apply_wording(get_instrument("core10"), full_wording("core10"))


# --------------------------------------------------------------------------- strict loader


@pytest.fixture
def definitions(tmp_path):
    """A copy of the shipped definitions; edit one with `edit(code, fn)` and reload."""
    directory = tmp_path / "instruments"
    shutil.copytree(INSTRUMENTS_DIR, directory)

    def edit(code, change):
        path = directory / f"{code}.json"
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))
        return directory

    return edit


def test_the_shipped_definitions_reload_cleanly(tmp_path):
    directory = tmp_path / "copy"
    shutil.copytree(INSTRUMENTS_DIR, directory)
    assert sorted(load_instruments(directory)) == CODES


def test_a_broken_item_reference_names_the_file_from_the_repo_root_and_the_field():
    assert get_instrument("phq9").source == "measures/instruments/phq9.json"
    broken = json.loads((INSTRUMENTS_DIR / "phq9.json").read_text())
    broken["scales"][0]["items"].append(12)
    with pytest.raises(InstrumentDefinitionError) as error:
        parse_instrument(broken, "measures/instruments/phq9.json")
    assert str(error.value) == (
        "measures/instruments/phq9.json: scales[0].items: item 12 does not exist"
    )


def set_path(data, path, value):
    *parents, last = path
    for key in parents:
        data = data[key]
    data[last] = value


BROKEN = [
    ("phq9", ["scales", 0, "items", 0], 12, "scales[0].items: item 12 does not exist"),
    ("phq9", ["scales", 0, "items", 1], 1, "scales[0].items: item 1 is listed twice"),
    ("phq9", ["scales", 0, "method"], "median", "scales[0].method: must be one of sum"),
    ("phq9", ["scales", 0, "range", 1], 28, "scales[0].range: [0, 28] does not match"),
    ("phq9", ["scales", 0, "higher_is"], "up", "scales[0].higher_is: must be one of worse"),
    ("phq9", ["scales", 0, "bands", 1, "lower"], 4, "scales[0].bands[1].lower: overlaps"),
    ("phq9", ["scales", 0, "bands", 0, "lower"], 1, "scales[0].bands[0].lower: the first band"),
    ("phq9", ["scales", 0, "bands", 4, "upper"], 26, "scales[0].bands[4].upper: the last band"),
    ("phq9", ["scales", 0, "cutoff"], 30, "scales[0].cutoff: 30 is outside"),
    ("phq9", ["scales", 0, "missing", "max"], 9, "scales[0].missing.max: must be less than"),
    ("phq9", ["scales", 0, "missing", "prorate"], None, "scales[0].missing.prorate: is required"),
    ("phq9", ["scales", 0, "missing", "never"], [12], "scales[0].missing.never: item 12"),
    ("phq9", ["scales", 0, "rci", "value"], -6, "scales[0].rci.value: must be above 0"),
    ("phq9", ["scales", 0, "colour"], "red", "scales[0].colour: is not a known field"),
    ("phq9", ["risk", "rules", 0, "item"], 11, "risk.rules[0].item: item 11 does not exist"),
    ("phq9", ["risk", "rules", 0, "severity"], "high", "risk.rules[0].severity: must be one"),
    ("phq9", ["risk", "rules", 0, "at_least"], 4, "risk.rules[0].at_least: must be one of"),
    ("phq9", ["items", 2, "number"], 4, "items[2].number: items must be numbered"),
    ("phq9", ["items", 2, "text"], None, "items[2].text: is required"),
    ("phq9", ["items", 2, "options"], "sometimes", "items[2].options: option set 'sometimes'"),
    ("phq9", ["option_sets", "frequency", 1, "value"], 5, "option_sets.frequency[1].value"),
    ("phq9", ["version"], 1, "version: must be a non-empty string"),
    ("phq9", ["code"], "gad7", "code: 'gad7' does not match the file name"),
    ("phq9", ["unverified", 0, "path"], "scales.sum.missing", "unverified[0].path: 'scales.sum"),
    ("phq9", ["licence", "ships_wording"], "yes", "licence.ships_wording: must be true or false"),
    ("wsas", ["items", 1, "text"], "Home management", "items[1].text: must be null"),
    ("wsas", ["scales", 0, "method"], "mean", "scales[0].method: items allowing not applicable"),
    ("wsas", ["option_sets", "impairment", 0, "label"], "None", "must be null"),
    ("core10", ["scales", 0, "reversed", "subtract_from"], 5, "reversed.subtract_from"),
    ("core10", ["scales", 0, "reversed", "items"], [2, 33], "reversed.items: item 33"),
    ("core10", ["scales", 0, "reversed", "printed"], "both", "reversed.printed: must be one"),
    ("coreom", ["scales", 1, "reversed", "printed"], "answer", "item 3 is printed as 'scored'"),
    ("swemwbs", ["scales", 1, "table", "36"], 36.0, "scales[1].table: must have exactly one"),
    ("itq", ["diagnosis", "outcomes", 0, "groups", 0], [1, 19], "groups[0]: item 19"),
    ("itq", ["diagnosis", "endorsed_at"], 7, "diagnosis.endorsed_at: is not an answer"),
    ("occupation", ["scales", 0, "yes", "1"], [5], "scales[0].yes.1: values must be among"),
    ("dass21", ["scales", 0, "rci", "reliability"], 1.2, "rci.reliability: must be at least 0"),
]


@pytest.mark.parametrize(("code", "path", "value", "message"), BROKEN)
def test_a_broken_definition_is_refused_naming_the_file_and_field(
    definitions, code, path, value, message
):
    directory = definitions(code, lambda data: set_path(data, path, value))
    with pytest.raises(InstrumentDefinitionError) as error:
        load_instruments(directory)
    assert f"{code}.json: " in str(error.value)
    assert message in str(error.value)


def test_an_unscored_item_outside_every_scale_must_say_so(definitions):
    def change(data):
        data["scales"][0]["items"].remove(8)
        data["scales"][0]["range"] = [0, 24]
        data["scales"][0]["bands"][-1]["upper"] = 24

    directory = definitions("phq9", change)
    with pytest.raises(InstrumentDefinitionError, match=r"items\[7\]: item 8 is in no scale"):
        load_instruments(directory)


def test_invalid_json_names_the_file(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InstrumentDefinitionError, match=r"bad.json: not valid JSON"):
        load_instruments(tmp_path)


def test_a_missing_required_field_is_named(definitions):
    directory = definitions("gad7", lambda data: data.pop("licence"))
    with pytest.raises(InstrumentDefinitionError, match=r"gad7.json: licence: is required"):
        load_instruments(directory)


def test_an_empty_directory_is_an_error(tmp_path):
    with pytest.raises(InstrumentDefinitionError, match="no definitions found"):
        load_instruments(tmp_path)
