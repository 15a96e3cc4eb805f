import datetime
import io

import pytest
import time_machine
from django.urls import reverse

from measures import demo, services
from measures.catalogue import PLACEHOLDER_LABEL
from measures.models import Administration, InstrumentWording, Score
from tests.factories import CohortFactory, EnrolmentFactory

pytestmark = pytest.mark.django_db


def test_demo_seed_loads_labelled_placeholder_wording_and_scores_past_timepoints(service):
    cohort = CohortFactory(service=service, start_date=datetime.date(2025, 1, 7))
    for _ in range(4):
        EnrolmentFactory(cohort=cohort, enrolled_on=cohort.start_date)
    with time_machine.travel(datetime.datetime(2026, 3, 2, 12, 0, tzinfo=datetime.UTC)):
        demo.seed(io.StringIO())
        codes = set(InstrumentWording.objects.values_list("instrument_code", flat=True))
        assert codes == {"fcs", "fscrs", "oas", "ssps", "wsas"}
        wording = InstrumentWording.objects.get(instrument_code="fscrs")
        assert wording.is_placeholder
        assert all(PLACEHOLDER_LABEL in text for text in wording.items.values())
        completed = Administration.objects.filter(status="completed")
        assert completed.exists()
        assert not Administration.objects.filter(
            closes_on__lt=datetime.date(2026, 3, 2), status__in=("scheduled", "open")
        ).exists()
        fscrs = Score.objects.filter(administration__instrument_code="fscrs").first()
        assert fscrs is not None and fscrs.instrument_version == "1"
        before = (Administration.objects.count(), Score.objects.count())
        demo.seed(io.StringIO())
        assert (Administration.objects.count(), Score.objects.count()) == before


def test_demo_seed_keeps_a_services_real_wording(service):
    CohortFactory(service=service)
    services.wording_import(
        service=service, instrument_code="wsas", items={n: f"Real {n}" for n in range(1, 6)}
    )
    demo.seed(io.StringIO())
    assert InstrumentWording.objects.get(instrument_code="wsas").items["1"] == "Real 1"


def test_the_participant_page_shows_scores_with_a_chart_and_a_table(
    persona_client, clinician, participant, frozen
):
    adm = Administration.objects.get(
        enrolment__participant=participant, timepoint__key="baseline", instrument_code="core10"
    )
    services.administration_enter(
        administration=adm,
        answers=dict.fromkeys(range(1, 11), 2),
        entered_by=clinician,
        completed_at=datetime.datetime(2026, 1, 7, 12, 0, tzinfo=datetime.UTC),
    )
    body = (
        persona_client(clinician)
        .get(reverse("participants:participant_detail", args=[participant.pk]))
        .content.decode()
    )
    assert 'id="trajectory-data"' in body
    assert 'id="chart-core10-total"' in body
    assert "js/trajectory.js" in body
    assert "<caption>CORE-10: " in body


def test_the_cohort_panel_shows_completion_and_open_alerts(clinician, participant, frozen):
    from django.test import RequestFactory

    from measures.panels import cohort_panel

    enrolment = participant.enrolments.get()
    adm = Administration.objects.get(
        enrolment=enrolment, timepoint__key="baseline", instrument_code="core10"
    )
    services.administration_enter(
        administration=adm,
        answers=dict.fromkeys(range(1, 11), 0) | {6: 2},
        entered_by=clinician,
        completed_at=datetime.datetime(2026, 1, 7, 12, 0, tzinfo=datetime.UTC),
    )
    request = RequestFactory().get("/")
    request.user = clinician
    context = cohort_panel(request, enrolment.cohort)
    baseline = context["completion"][0]
    assert (baseline.name, baseline.due, baseline.completed) == ("Baseline", 9, 1)
    assert [a.item for a in context["open_alerts"]] == [6]


def test_the_demo_prints_a_participant_link_that_opens_at_any_time_of_day(participant, frozen):
    from urllib.parse import urlsplit

    from django.core.management import call_command
    from django.test import Client

    frozen.move_to(datetime.datetime(2026, 1, 8, 23, 30, tzinfo=datetime.UTC))  # quiet hours
    out = io.StringIO()
    call_command("demo_participant_link", stdout=out)
    url = out.getvalue().split()[-1]
    assert url.startswith("http://") and "/q/" in url
    page = Client().get(urlsplit(url).path)
    assert page.status_code == 200
    assert b'id="start-button"' in page.content


def test_site_url_follows_safeground_addr_when_unset():
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "SITE_URL"}
    env |= {"SAFEGROUND_ADDR": "0.0.0.0:8080", "DJANGO_SETTINGS_MODULE": "config.settings"}
    code = (
        "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"
    )
    got = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert got.stdout.strip() == "http://0.0.0.0:8080"
