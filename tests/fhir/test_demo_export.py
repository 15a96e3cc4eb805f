"""The demo data (seed_demo) exported whole: every completed administration's resources
validate, and every score read back from its FHIR response agrees with measures.scoring."""

import datetime
import io
import json
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command

from fhir import r4
from fhir.bundles import participant_bundle, to_json
from fhir.identity import IDENTIFIABLE
from fhir.observations import observations
from fhir.responses import questionnaire_response
from fhir.selectors import completed_administrations
from measures.scoring import score
from participants.models import Participant
from tests.fhir.test_resources import answers_from

LONDON = zoneinfo.ZoneInfo("Europe/London")


@pytest.mark.django_db
@time_machine.travel(datetime.datetime(2026, 3, 4, 9, 0, tzinfo=LONDON), tick=False)
def test_every_completed_demo_administration_exports_and_scores_the_same():
    call_command("seed_demo", stdout=io.StringIO())
    administrations = list(completed_administrations())
    assert len(administrations) > 100
    for adm in administrations:
        response = r4.QuestionnaireResponse.model_validate_json(
            to_json(questionnaire_response(adm, IDENTIFIABLE))
        )
        result = score(adm.instrument_code, answers_from(response, adm.instrument_code))
        for obs in observations(adm, IDENTIFIABLE):
            again = r4.Observation.model_validate_json(to_json(obs))
            scale = again.code.coding[-1].code.split(".", 1)[1]
            if result.scales[scale] is None:
                assert again.dataAbsentReason is not None
            elif again.valueQuantity is not None:
                assert float(again.valueQuantity.value) == pytest.approx(result.scales[scale])
    person = Participant.objects.filter(enrolments__administrations__in=administrations).first()
    bundle = json.loads(to_json(participant_bundle(person)))
    assert r4.Bundle.model_validate(bundle).type == "collection"
