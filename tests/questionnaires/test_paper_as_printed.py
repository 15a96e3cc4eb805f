"""Paper entry shows each answer with the number printed on the paper form.

A clerk copies the circled number. On CORE-10 and CORE-OM the positively worded items print
their scores reversed ("4 3 2 1 0"), so the form must label those answers with the printed
number and still store the answer itself, which is what scoring reverses.
"""

import datetime

import pytest
from django.urls import reverse

from measures import services
from measures.definitions import all_instruments, get_instrument
from measures.forms import AdministrationEntryForm
from measures.models import Score
from measures.scoring import score
from tests.factories import EnrolmentFactory
from tests.questionnaires.conftest import START, administration

pytestmark = pytest.mark.django_db

REVERSED = [i for i in all_instruments() if any(s.reversed for s in i.scales)]


def _varied_answers(instrument) -> dict[int, int]:
    """A different answer on neighbouring items, so a reversal mistake changes the score."""
    answers = {}
    for item in instrument.items:
        values = item.option_values
        answers[item.number] = values[(item.number * 3) % len(values)]
    return answers


def _printed(instrument, answers) -> dict[int, int]:
    """What the participant circled, read as the numbers printed on the paper form."""
    return {n: instrument.printed_value(n, value) for n, value in answers.items()}


def _clerk_copies(form, printed: dict[int, int]) -> dict[str, str]:
    """Pick, for each item, the choice whose label starts with the number on the paper."""
    data = {"completed_on": "2026-01-07"}
    for number, circled in printed.items():
        choices = form.fields[f"item_{number}"].choices
        matching = [value for value, label in choices if label.split(" – ")[0] == str(circled)]
        assert len(matching) == 1, (number, circled, choices)
        data[f"item_{number}"] = matching[0]
    return data


def test_the_instruments_with_reversed_items_say_what_their_paper_form_prints():
    printed = {i.code: {s.reversed.printed for s in i.scales if s.reversed} for i in REVERSED}
    assert printed == {"core10": {"scored"}, "coreom": {"scored"}, "scssf": {"answer"}}


def test_core10_positively_worded_items_offer_the_reversed_printed_numbers():
    form = AdministrationEntryForm(instrument=get_instrument("core10"))
    labels = [label for _, label in form.fields["item_2"].choices]
    assert labels == [
        "Left blank",
        "4 – Not at all",
        "3 – Only occasionally",
        "2 – Sometimes",
        "1 – Often",
        "0 – Most or all of the time",
    ]
    # The choice labelled 4 stores the answer "Not at all", which scoring reverses to 4.
    assert dict(form.fields["item_2"].choices)["0"] == "4 – Not at all"
    assert dict(form.fields["item_1"].choices)["0"] == "0 – Not at all"


@pytest.mark.parametrize("instrument", REVERSED, ids=lambda i: i.code)
def test_every_option_label_shows_the_printed_number(instrument):
    form = AdministrationEntryForm(instrument=instrument)
    for item in instrument.items:
        choices = dict(form.fields[f"item_{item.number}"].choices)
        for option in item.options:
            printed = instrument.printed_value(item.number, option.value)
            assert choices[str(option.value)].split(" – ")[0] == str(printed)


@pytest.mark.parametrize("instrument", REVERSED, ids=lambda i: i.code)
def test_a_paper_form_copied_by_its_printed_numbers_scores_as_the_same_answers_online(
    instrument,
):
    answers = _varied_answers(instrument)
    blank_form = AdministrationEntryForm(instrument=instrument)
    form = AdministrationEntryForm(
        _clerk_copies(blank_form, _printed(instrument, answers)), instrument=instrument
    )
    assert form.is_valid(), form.errors
    assert form.answers() == answers
    assert score(instrument.code, form.answers()).scales == score(instrument.code, answers).scales


def test_core10_entered_by_its_printed_numbers_stores_the_online_score(
    persona_client, clinician, enrolment, cohort
):
    instrument = get_instrument("core10")
    answers = _varied_answers(instrument) | {6: 0}
    online = EnrolmentFactory(cohort=cohort, enrolled_on=START)
    services.administrations_lay_out(enrolment=online)
    online_adm = administration(online, "core10")
    services.response_save(administration_id=online_adm.pk, answers=answers)
    services.response_submit(administration_id=online_adm.pk)

    paper_adm = administration(enrolment, "core10")
    url = reverse("measures:administration_enter", args=[paper_adm.pk])
    client = persona_client(clinician)
    page = client.get(url)
    assert "4 – Not at all" in page.content.decode()
    data = _clerk_copies(page.context["form"], _printed(instrument, answers))
    assert client.post(url, data).status_code == 302

    def total(adm):
        return Score.objects.get(administration=adm, scale="total").value

    assert total(paper_adm) == total(online_adm) == score("core10", answers).scales["total"]
    paper_adm.refresh_from_db()
    assert paper_adm.completed_at.date() == datetime.date(2026, 1, 7)
