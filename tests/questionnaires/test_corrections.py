"""Paper entry checks its date and its blank items; a completed questionnaire is corrected
(the original kept, superseded) or voided, and figures use only the current version."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from dashboards import exports as dashboard_selectors
from dashboards import figures
from dashboards.models import CohortFigures
from measures import selectors, services
from measures.models import Administration, RiskAlert, Score
from programmes.models import Cohort
from tests.questionnaires.conftest import administration

pytestmark = pytest.mark.django_db

ON_TIME = datetime.datetime(2026, 1, 7, 12, 0, tzinfo=datetime.UTC)


def _items(value, count=10, **overrides):
    data = {f"item_{n}": str(value) for n in range(1, count + 1)}
    return data | {f"item_{k}": v for k, v in overrides.items()}


def _enter(adm, answers, by, when=ON_TIME):
    return services.administration_enter(
        administration=adm, answers=answers, entered_by=by, completed_at=when
    )


def _total(adm) -> float:
    return Score.objects.get(administration=adm, scale="total").value


# ------------------------------------------------------------------ the completed date


def test_a_date_before_the_enrolment_is_a_form_error_and_nothing_is_saved(
    persona_client, participant, clinician
):
    adm = administration(participant.enrolments.get(), "core10")
    url = reverse("measures:administration_enter", args=[adm.pk])
    # Inside the baseline window (it opens three weeks before the start), before enrolment.
    response = persona_client(clinician).post(url, _items(1) | {"completed_on": "2026-01-02"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "before the person was enrolled (6 January 2026)" in html
    adm.refresh_from_db()
    assert adm.status == Administration.Status.OPEN


def test_a_date_in_the_future_is_refused_by_the_service_too(participant, clinician):
    adm = administration(participant.enrolments.get(), "core10")
    with pytest.raises(ValidationError) as refused:
        _enter(adm, dict.fromkeys(range(1, 11), 1), clinician, when=ON_TIME.replace(day=20))
    assert "cannot be in the future" in str(refused.value)


def test_a_date_outside_the_window_needs_the_box_ticked_and_a_reason(
    persona_client, participant, clinician
):
    """The issue's case: a later timepoint entered with a date in the first month."""
    adm = administration(participant.enrolments.get(), "core10", timepoint="week12")
    url = reverse("measures:administration_enter", args=[adm.pk])
    client = persona_client(clinician)
    data = _items(1) | {"completed_on": "2026-01-07"}
    refused = client.post(url, data)
    assert refused.status_code == 200
    html = refused.content.decode()
    assert "7 January 2026 is outside this questionnaire&#x27;s window" in html
    assert "24 March 2026 to 21 April 2026" in html
    no_reason = client.post(url, data | {"outside_window": "on"})
    assert "Say why a questionnaire completed outside its window" in no_reason.content.decode()
    adm.refresh_from_db()
    assert adm.status == Administration.Status.SCHEDULED

    done = client.post(
        url, data | {"outside_window": "on", "outside_window_reason": "Filled in at clinic early"}
    )
    assert done.status_code == 302
    adm.refresh_from_db()
    assert adm.status == Administration.Status.COMPLETED
    assert adm.outside_window_reason == "Filled in at clinic early"


# ------------------------------------------------------------------ blank items


def test_blank_items_are_named_with_what_the_rule_does_before_anything_is_saved(
    persona_client, participant, clinician
):
    adm = administration(participant.enrolments.get(), "core10")
    url = reverse("measures:administration_enter", args=[adm.pk])
    client = persona_client(clinician)
    one_blank = _items(2, **{"4": ""}) | {"completed_on": "2026-01-07"}
    first = client.post(url, one_blank)
    assert first.status_code == 200
    html = first.content.decode()
    assert "Item 4 is left blank." in html
    assert "prorated" in html and "item 4 missing; scored from the mean of the 9 answered" in html
    assert "Save as it is" in html
    assert not Score.objects.filter(administration=adm).exists()

    saved = client.post(url, one_blank | {"save_as_it_is": "True"})
    assert saved.status_code == 302
    assert _total(adm) == 20.0


def test_too_many_blank_items_say_the_scale_will_not_be_scored(
    persona_client, participant, clinician
):
    adm = administration(participant.enrolments.get(), "core10")
    url = reverse("measures:administration_enter", args=[adm.pk])
    data = _items(1, **{"2": "", "3": "", "9": ""}) | {"completed_on": "2026-01-07"}
    html = persona_client(clinician).post(url, data).content.decode()
    assert "Items 2, 3 and 9 are left blank." in html
    assert "not scored (3 items missing (items 2, 3 and 9); at most 1 allowed)" in html
    adm.refresh_from_db()
    assert adm.status == Administration.Status.OPEN


# ------------------------------------------------------------------ corrections


def test_a_correction_makes_a_new_scored_version_and_keeps_the_original(participant, clinician):
    adm = administration(participant.enrolments.get(), "core10")
    _enter(adm, dict.fromkeys(range(1, 11), 1), clinician)
    new = services.administration_correct(
        administration=adm,
        answers=dict.fromkeys(range(1, 11), 3),
        completed_at=ON_TIME,
        reason="Copied from the wrong form",
        by=clinician,
    )
    adm.refresh_from_db()
    assert adm.status == Administration.Status.SUPERSEDED
    assert _total(adm) == 14.0  # kept as it was
    assert new.status == Administration.Status.COMPLETED and new.supersedes == adm
    assert (new.change_reason, new.entered_by, new.source) == (
        "Copied from the wrong form",
        clinician,
        Administration.Source.PAPER,
    )
    # All items at 3, two of them reversed: 8 x 3 + 2 x 1.
    assert _total(new) == 26.0
    # The record and the exports count the current version only.
    scores = dashboard_selectors.export_scores(participant.enrolments.all())
    assert [row[8] for row in scores if row[7] == "total" and row[6] == "core10"] == [26.0]
    with pytest.raises(ValidationError, match="already been corrected"):
        services.administration_correct(
            administration=adm,
            answers=dict.fromkeys(range(1, 11), 0),
            completed_at=ON_TIME,
            reason="Again",
            by=clinician,
        )


def test_a_correction_re_runs_the_risk_rules_without_raising_the_same_alert_twice(
    participant, clinician, mailoutbox
):
    adm = administration(participant.enrolments.get(), "core10")
    _enter(adm, dict.fromkeys(range(1, 11), 0) | {6: 2}, clinician)
    assert RiskAlert.objects.filter(administration=adm, item=6).count() == 1
    sent = len(mailoutbox)
    same_risk = services.administration_correct(
        administration=adm,
        answers=dict.fromkeys(range(1, 11), 1) | {6: 3},
        completed_at=ON_TIME,
        reason="Item 1 misread",
        by=clinician,
    )
    assert not RiskAlert.objects.filter(administration=same_risk).exists()
    assert len(mailoutbox) == sent


def test_an_alert_on_corrected_answers_says_so(persona_client, participant, clinician):
    adm = administration(participant.enrolments.get(), "core10")
    _enter(adm, dict.fromkeys(range(1, 11), 0) | {6: 2}, clinician)
    services.administration_correct(
        administration=adm,
        answers=dict.fromkeys(range(1, 11), 0),
        completed_at=ON_TIME,
        reason="Item 6 was copied from the row below",
        by=clinician,
    )
    alert = RiskAlert.objects.get()
    page = persona_client(clinician).get(reverse("measures:alert_detail", args=[alert.pk]))
    assert "These answers have since been corrected" in page.content.decode()


def test_a_risk_answer_found_by_a_correction_raises_a_new_alert(
    participant, clinician, django_capture_on_commit_callbacks, mailoutbox
):
    adm = administration(participant.enrolments.get(), "core10")
    _enter(adm, dict.fromkeys(range(1, 11), 0), clinician)
    assert not RiskAlert.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        new = services.administration_correct(
            administration=adm,
            answers=dict.fromkeys(range(1, 11), 0) | {6: 1},
            completed_at=ON_TIME,
            reason="Item 6 was circled, missed on entry",
            by=clinician,
        )
    alert = RiskAlert.objects.get()
    assert (alert.administration, alert.item, alert.severity) == (new, 6, "urgent")
    assert mailoutbox and "Urgent" in mailoutbox[-1].subject


def test_the_correction_page_shows_the_answers_and_saves_a_new_version(
    persona_client, participant, clinician
):
    adm = administration(participant.enrolments.get(), "core10")
    _enter(adm, dict.fromkeys(range(1, 11), 1), clinician)
    client = persona_client(clinician)
    listing = client.get(reverse("measures:participant_questionnaires", args=[participant.pk]))
    url = reverse("measures:administration_correct", args=[adm.pk])
    assert url in listing.content.decode()
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["form"].initial["item_3"] == "1"
    no_reason = client.post(url, _items(2) | {"completed_on": "2026-01-07"})
    assert no_reason.status_code == 200 and "This field is required" in no_reason.content.decode()
    before_enrolment = client.post(
        url, _items(2) | {"completed_on": "2026-01-05", "reason": "Wrong row"}
    )
    assert "before the person was enrolled" in before_enrolment.content.decode()
    done = client.post(url, _items(2) | {"completed_on": "2026-01-07", "reason": "Wrong row"})
    assert done.status_code == 302
    adm.refresh_from_db()
    assert adm.status == Administration.Status.SUPERSEDED
    assert _total(adm.superseded_by) == 20.0


def test_the_trajectory_shows_the_corrected_score_and_the_original_superseded(
    persona_client, participant, clinician
):
    adm = administration(participant.enrolments.get(), "core10")
    _enter(adm, dict.fromkeys(range(1, 11), 1), clinician)
    services.administration_correct(
        administration=adm,
        answers=dict.fromkeys(range(1, 11), 2),
        completed_at=ON_TIME,
        reason="Wrong row",
        by=clinician,
    )
    (scale,) = selectors.participant_trajectory(participant)
    assert [(p.value, p.superseded, p.corrected) for p in scale.points] == [
        (14.0, True, False),
        (20.0, False, True),
    ]
    (chart,) = selectors.trajectory_chart_data([scale])
    assert chart["values"] == [20.0]
    html = persona_client(clinician).get(
        reverse("participants:participant_detail", args=[participant.pk])
    )
    body = html.content.decode()
    assert "<s>14.0</s>" in body and "superseded</strong> by a correction" in body
    assert ": corrected" in body


def test_figures_go_stale_on_a_correction_and_count_only_the_current_version(
    participant, clinician
):
    enrolment = participant.enrolments.get()
    adm = administration(enrolment, "core10")
    _enter(adm, dict.fromkeys(range(1, 11), 1), clinician)
    cohorts = Cohort.objects.filter(pk=enrolment.cohort_id)
    before = figures.current_figures(cohorts)[enrolment.cohort_id]
    assert before["pairs"]["core10.total"] == [[14.0, None, 1]]
    assert CohortFigures.objects.get(cohort_id=enrolment.cohort_id).is_current
    services.administration_correct(
        administration=adm,
        answers=dict.fromkeys(range(1, 11), 2),
        completed_at=ON_TIME,
        reason="Wrong row",
        by=clinician,
    )
    assert not CohortFigures.objects.get(cohort_id=enrolment.cohort_id).is_current
    after = figures.current_figures(cohorts)[enrolment.cohort_id]
    # One completed questionnaire, as before: the superseded original is not a second one.
    assert after["completion"] == before["completion"]
    assert after["pairs"]["core10.total"] == [[20.0, None, 1]]


# ------------------------------------------------------------------ voids


def test_a_voided_questionnaire_is_kept_counts_nowhere_and_cannot_be_corrected(
    persona_client, participant, clinician
):
    adm = administration(participant.enrolments.get(), "core10")
    _enter(adm, dict.fromkeys(range(1, 11), 1), clinician)
    client = persona_client(clinician)
    void_url = reverse("measures:administration_void", args=[adm.pk])
    assert client.post(void_url, {"reason": ""}).status_code == 200
    assert client.post(void_url, {"reason": "Filled in by a relative"}).status_code == 302
    adm.refresh_from_db()
    assert adm.status == Administration.Status.VOIDED
    assert (adm.change_reason, adm.voided_by) == ("Filled in by a relative", clinician)
    assert adm.voided_at == timezone.now()
    assert _total(adm) == 14.0
    assert selectors.participant_trajectory(participant) == []
    assert not list(dashboard_selectors.export_scores(participant.enrolments.all()))

    url = reverse("measures:administration_correct", args=[adm.pk])
    page = client.get(url).content.decode()
    assert "was voided (Filled in by a relative), so it cannot be corrected" in page
    refused = client.post(url, _items(2) | {"completed_on": "2026-01-07", "reason": "Typo"})
    assert refused.status_code == 200
    assert "so it cannot be corrected" in refused.content.decode()
    assert not Administration.objects.filter(supersedes=adm).exists()
    again = client.post(void_url, {"reason": "Again"})
    assert "already been voided" in again.content.decode()


# ------------------------------------------------------------------ personas


@pytest.mark.parametrize("name", ["administration_correct", "administration_void"])
def test_correct_and_void_refuse_anonymous_other_service_and_wrong_role(
    persona_client, participant, clinician, other_clinician, manager, name
):
    adm = administration(participant.enrolments.get(), "core10")
    _enter(adm, dict.fromkeys(range(1, 11), 1), clinician)
    url = reverse(f"measures:{name}", args=[adm.pk])
    data = _items(2) | {"completed_on": "2026-01-07", "reason": "Wrong row"}
    assert persona_client(None).get(url).status_code == 302
    assert persona_client(other_clinician).get(url).status_code == 404
    assert persona_client(other_clinician).post(url, data).status_code == 404
    assert persona_client(manager).get(url).status_code == 403
    assert persona_client(manager).post(url, data).status_code == 403
    adm.refresh_from_db()
    assert adm.status == Administration.Status.COMPLETED
    assert persona_client(clinician).get(url).status_code == 200
    assert persona_client(clinician).post(url, data).status_code == 302
