import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from measures import services
from measures.models import Administration, RiskAlert, Score, Timepoint
from tests.questionnaires.conftest import administration, answer_all, exchange, issue

pytestmark = pytest.mark.django_db


def _phq9(enrolment) -> Administration:
    baseline = Timepoint.objects.get(programme=enrolment.cohort.programme, key="baseline")
    core10 = administration(enrolment, "core10")
    return Administration.objects.create(
        enrolment=enrolment,
        timepoint=baseline,
        instrument_code="phq9",
        due_on=core10.due_on,
        opens_on=core10.opens_on,
        closes_on=core10.closes_on,
        status=Administration.Status.OPEN,
    )


def test_phq9_item_9_raises_an_urgent_alert_emailed_without_identifying_detail(
    client, participant, clinician, mailoutbox, django_capture_on_commit_callbacks
):
    adm = _phq9(participant.enrolments.get())
    exchange(client, issue(participant))
    answers = {f"item_{n}": "0" for n in range(1, 11)} | {"item_9": "1"}
    # One page, difficulty item included: saving it with nothing missing sends it.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("questionnaire:page", args=[adm.pk, 1]), answers)
    alert = RiskAlert.objects.get()
    assert (alert.administration_id, alert.item, alert.severity) == (adm.pk, 9, "urgent")
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [clinician.email]
    assert mail.subject == "Urgent: a questionnaire answer needs same-day review in Safeground"
    text = mail.subject + mail.body
    assert reverse("measures:alert_detail", args=[alert.pk]) in mail.body
    assert "How urgent: Urgent: review it today (same-day review)." in mail.body
    assert "sign in to Safeground and choose Risk alerts" in mail.body
    for detail in (
        participant.given_name,
        participant.family_name,
        participant.reference,
        participant.email,
        participant.enrolments.get().cohort.name,
        "PHQ-9",
        "phq9",
        "Questionnaire code",
    ):
        assert detail not in text


def test_core10_item_6_raises_an_alert_and_nothing_else_does(participant, mailoutbox):
    enrolment = participant.enrolments.get()
    adm = administration(enrolment, "core10")
    services.response_save(
        administration_id=adm.pk, answers=dict.fromkeys(range(1, 11), 0) | {6: 2}
    )
    services.response_submit(administration_id=adm.pk)
    assert list(RiskAlert.objects.values_list("item", "severity")) == [(6, "urgent")]
    quiet = administration(enrolment, "dass21")
    services.response_save(administration_id=quiet.pk, answers=dict.fromkeys(range(1, 22), 1))
    services.response_submit(administration_id=quiet.pk)
    assert RiskAlert.objects.count() == 1


def test_an_alert_with_no_named_facilitator_goes_to_the_services_clinicians(
    participant, clinician, mailoutbox, django_capture_on_commit_callbacks
):
    cohort = participant.enrolments.get().cohort
    cohort.facilitators.clear()
    adm = administration(participant.enrolments.get(), "core10")
    with django_capture_on_commit_callbacks(execute=True):
        services.administration_enter(
            administration=adm,
            answers=dict.fromkeys(range(1, 11), 0) | {6: 1},
            entered_by=clinician,
            completed_at=timezone.now(),
        )
    assert [m.to for m in mailoutbox] == [[clinician.email]]


def _alert(enrolment, clinician):
    adm = administration(enrolment, "core10")
    services.administration_enter(
        administration=adm,
        answers=dict.fromkeys(range(1, 11), 0) | {6: 3},
        entered_by=clinician,
        completed_at=timezone.now(),
    )
    return RiskAlert.objects.get(administration=adm)


# ------------------------------------------------------------------ alert list


def test_alert_list_shows_open_alerts_for_the_users_services(
    persona_client, participant, clinician, other_clinician
):
    alert = _alert(participant.enrolments.get(), clinician)
    body = persona_client(clinician).get(reverse("measures:alert_list")).content.decode()
    assert reverse("measures:alert_detail", args=[alert.pk]) in body
    other = persona_client(other_clinician).get(reverse("measures:alert_list"))
    assert other.status_code == 200
    assert reverse("measures:alert_detail", args=[alert.pk]) not in other.content.decode()


def test_alert_list_refuses_anonymous_and_roles_without_clinical_view(persona_client, admin_user):
    anonymous = persona_client(None).get(reverse("measures:alert_list"))
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]
    assert persona_client(admin_user).get(reverse("measures:alert_list")).status_code == 403


def test_alert_detail_happy_anonymous_other_service_and_wrong_role(
    persona_client, participant, clinician, other_clinician, admin_user
):
    alert = _alert(participant.enrolments.get(), clinician)
    url = reverse("measures:alert_detail", args=[alert.pk])
    ok = persona_client(clinician).get(url)
    assert ok.status_code == 200
    assert participant.reference in ok.content.decode()
    assert persona_client(None).get(url).status_code == 302
    assert persona_client(other_clinician).get(url).status_code == 404
    assert persona_client(admin_user).get(url).status_code == 403


def test_acknowledging_needs_a_note_and_closes_the_alert(persona_client, participant, clinician):
    alert = _alert(participant.enrolments.get(), clinician)
    url = reverse("measures:alert_acknowledge", args=[alert.pk])
    client = persona_client(clinician)
    refused = client.post(url, {"note": "   "})
    assert refused.status_code == 200
    assert "Write a note" in refused.content.decode() or "required" in refused.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    done = client.post(url, {"note": "Rang the participant; safety plan reviewed."})
    assert done.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == clinician
    assert alert.acknowledgement_note == "Rang the participant; safety plan reviewed."
    assert (
        reverse("measures:alert_detail", args=[alert.pk])
        not in client.get(reverse("measures:alert_list")).content.decode()
    )


def test_acknowledge_refuses_anonymous_other_service_and_wrong_role(
    persona_client, participant, clinician, other_clinician, manager
):
    alert = _alert(participant.enrolments.get(), clinician)
    url = reverse("measures:alert_acknowledge", args=[alert.pk])
    data = {"note": "Seen"}
    assert persona_client(None).post(url, data).status_code == 302
    assert persona_client(other_clinician).post(url, data).status_code == 404
    assert persona_client(manager).post(url, data).status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


# ------------------------------------------------------------------ paper entry


def test_paper_entry_is_scored_and_marked_as_entered_by_staff(
    persona_client, participant, clinician
):
    adm = administration(participant.enrolments.get(), "dass21")
    url = reverse("measures:administration_enter", args=[adm.pk])
    client = persona_client(clinician)
    assert client.get(url).status_code == 200
    data = {f"item_{n}": "1" for n in range(1, 22)} | {"completed_on": "2026-01-07"}
    response = client.post(url, data)
    assert response.status_code == 302
    adm.refresh_from_db()
    assert adm.status == "completed"
    assert adm.source == "paper"
    assert adm.entered_by == clinician
    assert timezone.localdate(adm.completed_at) == datetime.date(2026, 1, 7)
    assert dict(Score.objects.filter(administration=adm).values_list("scale", "value")) == {
        "depression": 14.0,
        "anxiety": 14.0,
        "stress": 14.0,
    }


def test_paper_entry_works_for_an_instrument_without_wording(
    persona_client, participant, clinician
):
    adm = administration(participant.enrolments.get(), "wsas")
    url = reverse("measures:administration_enter", args=[adm.pk])
    data = {f"item_{n}": "4" for n in range(2, 6)} | {"item_1": "na", "completed_on": "2026-01-07"}
    assert persona_client(clinician).post(url, data).status_code == 302
    score = Score.objects.get(administration=adm)
    assert score.value == 16.0


def test_service_use_is_recorded_by_staff_from_records(persona_client, participant, clinician):
    adm = administration(participant.enrolments.get(), "service_use")
    url = reverse("measures:administration_enter", args=[adm.pk])
    data = {f"item_{n}": "0" for n in range(1, 7)} | {"item_1": "12", "completed_on": "2026-01-07"}
    assert persona_client(clinician).post(url, data).status_code == 302
    adm.refresh_from_db()
    assert adm.source == "staff"
    assert Score.objects.get(administration=adm, scale="inpatient_bed_days").value == 12.0


def test_paper_entry_rejects_bad_input_on_the_form(persona_client, participant, clinician):
    adm = administration(participant.enrolments.get(), "core10")
    url = reverse("measures:administration_enter", args=[adm.pk])
    data = {"item_1": "7", "completed_on": "2030-01-01"}
    response = persona_client(clinician).post(url, data)
    assert response.status_code == 200
    assert "cannot be in the future" in response.content.decode()
    adm.refresh_from_db()
    assert adm.status == "open"


def test_paper_entry_twice_is_refused_calmly(persona_client, participant, clinician):
    adm = administration(participant.enrolments.get(), "core10")
    url = reverse("measures:administration_enter", args=[adm.pk])
    data = {f"item_{n}": "1" for n in range(1, 11)} | {"completed_on": "2026-01-07"}
    client = persona_client(clinician)
    client.post(url, data)
    again = client.post(url, data)
    assert again.status_code == 409
    assert Score.objects.filter(administration=adm).count() == 1


def test_paper_entry_refuses_anonymous_other_service_and_wrong_role(
    persona_client, participant, other_clinician, manager
):
    adm = administration(participant.enrolments.get(), "core10")
    url = reverse("measures:administration_enter", args=[adm.pk])
    assert persona_client(None).get(url).status_code == 302
    assert persona_client(other_clinician).get(url).status_code == 404
    assert persona_client(manager).get(url).status_code == 403


# ------------------------------------------------------------------ links


def test_staff_can_copy_a_new_link_once_and_it_works(persona_client, participant, clinician):
    from django.test import Client

    from measures.models import ParticipantLink

    url = reverse("measures:link_new", args=[participant.pk])
    client = persona_client(clinician)
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 200
    body = response.content.decode()
    link = ParticipantLink.objects.get()
    token = body.split("/q/")[1].split('"')[0]
    assert link.token_hash != token
    page = client.get(reverse("measures:participant_questionnaires", args=[participant.pk]))
    assert token not in page.content.decode()
    participant_client = Client()
    assert exchange(participant_client, token).status_code == 302


def test_revoking_links_makes_them_unusable(persona_client, participant, clinician):
    token = issue(participant)
    url = reverse("measures:links_revoke", args=[participant.pk])
    assert persona_client(clinician).post(url).status_code == 302
    from django.test import Client

    assert exchange(Client(), token).status_code == 404


@pytest.mark.parametrize("name", ["link_new", "links_revoke"])
def test_link_actions_refuse_anonymous_other_service_and_wrong_role(
    name, persona_client, participant, other_clinician, manager
):
    url = reverse(f"measures:{name}", args=[participant.pk])
    assert persona_client(None).post(url).status_code == 302
    assert persona_client(other_clinician).post(url).status_code == 404
    assert persona_client(manager).post(url).status_code == 403


def test_participant_questionnaires_page_and_refusals(
    persona_client, participant, clinician, manager, other_clinician, admin_user
):
    url = reverse("measures:participant_questionnaires", args=[participant.pk])
    body = persona_client(clinician).get(url).content.decode()
    assert "cannot be sent or answered online yet" in body
    assert 'id="new-link"' in body
    manager_view = persona_client(manager).get(url)
    assert manager_view.status_code == 200
    assert 'id="new-link"' not in manager_view.content.decode()
    assert persona_client(None).get(url).status_code == 302
    assert persona_client(other_clinician).get(url).status_code == 404
    assert persona_client(admin_user).get(url).status_code == 403


def test_online_answering_completes_via_the_participant_and_paper_is_then_refused(
    client, persona_client, participant, clinician
):
    adm = administration(participant.enrolments.get(), "core10")
    exchange(client, issue(participant))
    answer_all(client, adm, value=1)
    client.post(reverse("questionnaire:submit", args=[adm.pk]))
    url = reverse("measures:administration_enter", args=[adm.pk])
    page = persona_client(clinician).get(url)
    assert "already completed" in page.content.decode()
