import json

import pytest

from fhir import r4
from fhir.bundles import cohort_research_bundle, participant_bundle, to_json
from fhir.identity import IDENTIFIABLE, RESEARCH
from fhir.observations import observations, scale_code
from fhir.patients import patient
from fhir.questionnaires import questionnaire
from fhir.responses import questionnaire_response
from fhir.selectors import completed_administrations
from measures.definitions import NOT_APPLICABLE, all_instruments, get_instrument
from measures.scoring import score

RESOURCE_TYPES = {
    "Patient": r4.Patient,
    "Questionnaire": r4.Questionnaire,
    "QuestionnaireResponse": r4.QuestionnaireResponse,
    "Observation": r4.Observation,
    "Bundle": r4.Bundle,
}


def reparsed(resource):
    """Serialised to JSON and read back with the library's model for its resource type."""
    text = to_json(resource)
    kind = json.loads(text)["resourceType"]
    again = RESOURCE_TYPES[kind].model_validate_json(text)
    assert json.loads(to_json(again)) == json.loads(text)
    return again


def answers_from(response: r4.QuestionnaireResponse, code: str) -> dict:
    """The answers as measures.scoring reads them, taken back out of the FHIR resource."""
    instrument = get_instrument(code)
    given = {}
    for item in response.item or []:
        answer = item.answer[0]
        number = int(item.linkId)
        if answer.valueInteger is not None:
            given[number] = answer.valueInteger
        elif answer.valueCoding.code == NOT_APPLICABLE:
            given[number] = NOT_APPLICABLE
        else:
            given[number] = int(answer.valueCoding.code)
    assert set(given) <= set(instrument.item_numbers)
    return given


@pytest.mark.django_db
def test_every_completed_administration_leaves_as_valid_resources(dataset):
    administrations = list(completed_administrations())
    assert {adm.pk for adm in administrations} == set(dataset.answers)
    assert {adm.instrument_code for adm in administrations} == {i.code for i in all_instruments()}
    for adm in administrations:
        response = reparsed(questionnaire_response(adm, IDENTIFIABLE))
        assert response.status == "completed"
        assert response.subject.reference == f"Patient/{adm.enrolment.participant_id}"
        found = [reparsed(obs) for obs in observations(adm, IDENTIFIABLE)]
        assert len(found) == len(get_instrument(adm.instrument_code).scales)
        for obs in found:
            assert obs.derivedFrom[0].reference == f"QuestionnaireResponse/{adm.pk}"
    for instrument in all_instruments():
        reparsed(questionnaire(instrument.code))
    for enrolment in dataset.enrolments:
        reparsed(patient(enrolment.participant, IDENTIFIABLE))
        reparsed(patient(enrolment.participant, RESEARCH))
        reparsed(participant_bundle(enrolment.participant))
    reparsed(cohort_research_bundle(dataset.cohort))


@pytest.mark.django_db
def test_each_observation_equals_the_score_of_the_answers_in_its_response(dataset):
    checked = 0
    for adm in completed_administrations():
        response = questionnaire_response(adm, IDENTIFIABLE)
        given = answers_from(response, adm.instrument_code)
        # The answers given, minus the blanks, are what the response carries.
        assert given == {n: v for n, v in dataset.answers[adm.pk].items() if v is not None}
        result = score(adm.instrument_code, given)
        for obs in observations(adm, IDENTIFIABLE):
            own = next(c.code for c in obs.code.coding if c.system.endswith("/CodeSystem/scale"))
            scale = own.split(".", 1)[1]
            assert own == scale_code(adm.instrument_code, scale)
            expected = result.scales[scale]
            if expected is None:
                assert obs.valueQuantity is None and obs.valueBoolean is None
                assert obs.dataAbsentReason.text.startswith("Not scored: ")
            elif obs.valueBoolean is not None:
                assert obs.valueBoolean == bool(expected)
            else:
                assert float(obs.valueQuantity.value) == pytest.approx(expected)
                checked += 1
            band = result.bands.get(scale)
            if band:
                assert obs.interpretation[0].coding[0].code == band
            else:
                assert obs.interpretation is None
    assert checked > 50


@pytest.mark.django_db
def test_phq9_and_gad7_totals_carry_their_loinc_codes(dataset):
    codes = {}
    for adm in completed_administrations().filter(instrument_code__in=["phq9", "gad7"]):
        for obs in observations(adm, IDENTIFIABLE):
            loinc = [c.code for c in obs.code.coding if c.system == r4.LOINC]
            codes[adm.instrument_code] = loinc
    assert codes == {"phq9": ["44261-6"], "gad7": ["70274-6"]}


def test_every_scale_code_in_the_definitions_says_whether_it_is_verified():
    for instrument in all_instruments():
        for scale in instrument.scales:
            for code in scale.codes:
                assert isinstance(code.verified, bool)
                assert code.system == r4.LOINC


def test_questionnaire_text_only_where_the_licence_lets_it_ship():
    for instrument in all_instruments():
        q = questionnaire(instrument.code)
        texts = [item.text for item in q.item]
        labels = [
            option.valueCoding.display
            for item in q.item
            for option in item.answerOption or []
            if option.valueCoding.code != NOT_APPLICABLE
        ]
        if instrument.ships_wording:
            assert all(texts), instrument.code
        else:
            assert texts == [None] * len(texts), instrument.code
            assert set(labels) <= {None}, instrument.code


def test_answer_options_carry_the_score_they_count_for():
    core10 = questionnaire("core10")
    item2 = next(item for item in core10.item if item.linkId == "2")  # reversed
    item1 = next(item for item in core10.item if item.linkId == "1")
    ordinal = {o.valueCoding.code: o.extension[0].valueDecimal for o in item2.answerOption}
    assert ordinal == {"0": 4, "1": 3, "2": 2, "3": 1, "4": 0}
    assert [o.extension[0].url for o in item1.answerOption] == [r4.ORDINAL_VALUE] * 5
    assert {o.valueCoding.code: o.extension[0].valueDecimal for o in item1.answerOption} == {
        str(v): v for v in range(5)
    }


@pytest.mark.django_db
def test_paper_responses_name_who_entered_them_and_online_ones_do_not(dataset):
    modes = set()
    for adm in completed_administrations():
        response = questionnaire_response(adm, IDENTIFIABLE)
        mode = response.meta.tag[0].code
        modes.add(mode)
        if mode == "online":
            assert response.author is None
            assert response.source.reference.startswith("Patient/")
        else:
            assert response.author.identifier.value == str(dataset.clinician.pk)
    assert modes == {"online", "paper", "staff"}


@pytest.mark.django_db
def test_patient_has_the_nhs_number_under_the_nhs_system_and_an_opaque_id(dataset):
    person = dataset.enrolments[0].participant
    resource = patient(person, IDENTIFIABLE)
    assert resource.id == str(person.pk)
    nhs = [i.value for i in resource.identifier if i.system == "https://fhir.nhs.uk/Id/nhs-number"]
    assert nhs == [person.nhs_number]


@pytest.mark.django_db
def test_the_research_bundle_names_nobody(dataset):
    text = to_json(cohort_research_bundle(dataset.cohort)).decode()
    for enrolment in dataset.enrolments:
        person = enrolment.participant
        for value in (
            person.given_name,
            person.family_name,
            person.nhs_number,
            person.reference,
            person.date_of_birth.isoformat(),
            f'Patient/{person.pk}"',
        ):
            assert value not in text
    for staff in (dataset.clinician,):
        assert staff.last_name not in text
    bundle = r4.Bundle.model_validate_json(text)
    patients = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "Patient"]
    assert len(patients) == len(dataset.enrolments)
    assert all(p.name is None for p in patients)
    born = sorted(
        entry["resource"]["birthDate"]
        for entry in json.loads(text)["entry"]
        if entry["resource"]["resourceType"] == "Patient"
    )
    assert born == sorted(str(e.participant.date_of_birth.year) for e in dataset.enrolments)
