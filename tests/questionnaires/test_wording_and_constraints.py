import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from measures import services
from measures.catalogue import PLACEHOLDER_LABEL
from measures.models import (
    Administration,
    InstrumentWording,
    RiskAlert,
    Score,
    Timepoint,
)
from measures.participant_views import SESSION_KEY
from tests.factories import MembershipFactory
from tests.questionnaires.conftest import administration, exchange, issue

pytestmark = pytest.mark.django_db


def _csv(rows):
    text = "item,text\n" + "".join(f"{n},{t}\n" for n, t in rows)
    return SimpleUploadedFile("wsas.csv", text.encode(), content_type="text/csv")


def _import_url(service, code="wsas"):
    return reverse("measures:wording_import", args=[service.pk, code])


def test_an_admin_imports_wording_from_csv_and_the_instrument_can_then_be_answered(
    persona_client, admin_user, service, participant, client
):
    response = persona_client(admin_user).post(
        _import_url(service), {"file": _csv((n, f"Licensed item {n}") for n in range(1, 6))}
    )
    assert response.status_code == 302
    wording = InstrumentWording.objects.get(service=service, instrument_code="wsas")
    assert wording.items == {str(n): f"Licensed item {n}" for n in range(1, 6)}
    assert wording.imported_by == admin_user
    client.logout()
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "wsas")
    assert adm.pk in client.session[SESSION_KEY]["administrations"]
    page = client.get(reverse("questionnaire:page", args=[adm.pk, 1])).content.decode()
    assert "Licensed item 3" in page
    assert "Does not apply to me" in page


def test_wording_import_from_json_with_answer_labels(persona_client, admin_user, service):
    payload = (
        '{"items": {"1": "a", "2": "b", "3": "c", "4": "d", "5": "e"},'
        ' "answer_labels": {"0": "Not at all", "8": "Very severely"}}'
    )
    upload = SimpleUploadedFile("wsas.json", payload.encode(), content_type="application/json")
    assert (
        persona_client(admin_user).post(_import_url(service), {"file": upload}).status_code == 302
    )
    wording = InstrumentWording.objects.get()
    assert wording.option_labels == {"0": "Not at all", "8": "Very severely"}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(n, "x") for n in range(1, 5)], "wording is missing for item 5"),
        ([(n, "x") for n in range(1, 7)], "item &#x27;6&#x27; does not exist"),
        ([(1, "x"), (1, "y")], "Item 1 appears twice"),
        ([(n, "" if n == 2 else "x") for n in range(1, 6)], "text must be non-empty"),
    ],
)
def test_wording_import_refuses_incomplete_or_extra_items_with_a_clear_message(
    rows, message, persona_client, admin_user, service
):
    response = persona_client(admin_user).post(_import_url(service), {"file": _csv(rows)})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not InstrumentWording.objects.exists()


def test_wording_import_refuses_a_file_that_is_not_csv_or_json(persona_client, admin_user, service):
    upload = SimpleUploadedFile("wsas.json", b"{not json", content_type="application/json")
    response = persona_client(admin_user).post(_import_url(service), {"file": upload})
    assert "cannot be read" in response.content.decode()


def test_wording_pages_refuse_anonymous_other_service_and_wrong_role(
    persona_client, admin_user, clinician, service, other_service
):
    other_admin = MembershipFactory(service=other_service, role="admin").user
    assert persona_client(admin_user).get(reverse("measures:wording_list")).status_code == 200
    assert persona_client(None).get(reverse("measures:wording_list")).status_code == 302
    assert persona_client(clinician).get(reverse("measures:wording_list")).status_code == 403
    assert persona_client(None).get(_import_url(service)).status_code == 302
    assert persona_client(other_admin).get(_import_url(service)).status_code == 404
    assert persona_client(clinician).get(_import_url(service)).status_code == 403
    assert persona_client(admin_user).get(_import_url(service, "phq9")).status_code == 404


def test_the_wording_list_says_an_instrument_cannot_be_sent_until_it_has_wording(
    persona_client, admin_user
):
    body = persona_client(admin_user).get(reverse("measures:wording_list")).content.decode()
    assert "cannot be sent or answered online until your service loads the wording" in body
    assert body.count("Not loaded") == 6  # fcs, fscrs, oas, ssps, swemwbs, wsas


def test_instrument_status_command_lists_wording_and_unverified_values(service):
    services.wording_import(
        service=service,
        instrument_code="ssps",
        items={n: "x" for n in range(1, 12)},
        is_placeholder=True,
    )
    out = io.StringIO()
    call_command("instrument_status", stdout=out)
    text = out.getvalue()
    assert "phq9" in text and "ships with Safeground" in text
    assert "ssps" in text and "Riverside Team (demo placeholder)" in text
    assert "Unverified values" in text
    assert "core10: scales.total.bands" in text
    assert "Scales without a reliable change index (28)" in text
    assert "itq.ptsd: computed, but no reliability recorded" in text
    assert "itq.dso: computed, but no reliability recorded" in text
    assert "service_use.admissions: no reliable change index defined" in text
    assert "wsas.total: none until the service has 20 baseline scores" in text
    assert "dass21.depression" not in text.split("Unverified values")[0]  # a published SD
    assert "wsas: scales.total.rci.reliability" in text  # ... marked unverified


def test_demo_placeholder_wording_is_labelled_on_the_page(client, participant, service):
    services.wording_import(
        service=service,
        instrument_code="ssps",
        items={n: f"{PLACEHOLDER_LABEL} {n}" for n in range(1, 12)},
        is_placeholder=True,
    )
    exchange(client, issue(participant))
    adm = administration(participant.enrolments.get(), "ssps")
    page = client.get(reverse("questionnaire:page", args=[adm.pk, 1])).content.decode()
    assert 'id="placeholder-notice"' in page
    assert PLACEHOLDER_LABEL in page


# ------------------------------------------------------------------ constraints


def _fails(callable_):
    with pytest.raises(IntegrityError), transaction.atomic():
        callable_()


def test_timepoint_constraints(enrolment):
    tp = Timepoint.objects.filter(programme=enrolment.cohort.programme).first()
    _fails(
        lambda: Timepoint.objects.create(
            programme=tp.programme, key=tp.key, name="x", week=1, opens_days=-1, closes_days=1
        )
    )  # timepoint_key_unique
    _fails(
        lambda: Timepoint.objects.create(
            programme=tp.programme, key="new", name="x", week=1, opens_days=3, closes_days=3
        )
    )  # timepoint_window_positive


def test_wording_one_per_instrument(service):
    InstrumentWording.objects.create(service=service, instrument_code="wsas", items={})
    _fails(
        lambda: InstrumentWording.objects.create(service=service, instrument_code="wsas", items={})
    )


def test_administration_constraints(enrolment):
    adm = administration(enrolment, "core10")

    def duplicate():
        adm.pk = None
        adm.save()

    _fails(duplicate)  # administration_one_per_timepoint_instrument
    adm = administration(enrolment, "core10")
    _fails(lambda: Administration.objects.filter(pk=adm.pk).update(closes_on=adm.opens_on))
    _fails(lambda: Administration.objects.filter(pk=adm.pk).update(status="completed"))
    _fails(
        lambda: Administration.objects.filter(pk=adm.pk).update(
            status="voided", voided_at=timezone.now()
        )
    )  # administration_voided_has_reason
    _fails(
        lambda: Administration.objects.create(
            enrolment=adm.enrolment,
            timepoint=adm.timepoint,
            instrument_code="phq9",
            due_on=adm.due_on,
            opens_on=adm.opens_on,
            closes_on=adm.closes_on,
            supersedes=administration(enrolment, "dass21"),
        )
    )  # administration_correction_has_reason
    # A superseded original leaves its place to the correction.
    Administration.objects.filter(pk=adm.pk).update(status="superseded")
    adm.pk = None
    adm.status = "open"
    adm.save()


def test_score_constraints(enrolment):
    adm = administration(enrolment, "core10")
    Score.objects.create(administration=adm, scale="total", value=3, instrument_version="1")
    _fails(
        lambda: Score.objects.create(
            administration=adm, scale="total", value=4, instrument_version="1"
        )
    )  # score_one_per_scale
    _fails(
        lambda: Score.objects.create(
            administration=adm, scale="other", value=None, instrument_version="1"
        )
    )  # score_missing_has_reason


def test_risk_alert_constraints(enrolment):
    adm = administration(enrolment, "core10")
    alert = RiskAlert.objects.create(administration=adm, item=6, severity="urgent")
    _fails(lambda: RiskAlert.objects.create(administration=adm, item=6, severity="review"))
    _fails(lambda: RiskAlert.objects.filter(pk=alert.pk).update(acknowledged_at=timezone.now()))


def test_an_acknowledged_alert_keeps_its_first_note(enrolment, clinician):
    adm = administration(enrolment, "core10")
    alert = RiskAlert.objects.create(administration=adm, item=6, severity="urgent")
    services.risk_alert_acknowledge(alert=alert, user=clinician, note="First")
    services.risk_alert_acknowledge(alert=alert, user=clinician, note="Second")
    alert.refresh_from_db()
    assert alert.acknowledgement_note == "First"
    assert alert.acknowledged_at <= timezone.now() + datetime.timedelta(seconds=1)
