import datetime
import io
import zoneinfo

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command

from accounts.models import Membership
from programmes.models import Cohort, Enrolment
from programmes.selectors import cohort_overview

pytestmark = pytest.mark.django_db(transaction=False)

LONDON = zoneinfo.ZoneInfo("Europe/London")


def _counts():
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def _password_for(output: str, username: str) -> str:
    table = output.split("Demo staff accounts", 1)[1]
    line = next(line for line in table.splitlines() if line.strip().startswith(username + " "))
    return line.split()[-1]


@time_machine.travel(datetime.datetime(2026, 3, 4, 9, 0, tzinfo=LONDON), tick=False)
def test_seed_demo_is_idempotent_and_builds_cohorts_at_different_stages():
    first = io.StringIO()
    call_command("seed_demo", stdout=first)
    after_first = _counts()
    second = io.StringIO()
    call_command("seed_demo", stdout=second)
    assert _counts() == after_first

    output = first.getvalue()
    assert _password_for(second.getvalue(), "riverside-clinician-1") == _password_for(
        output, "riverside-clinician-1"
    )
    for service in ("riverside", "hillside"):
        for suffix in ("clinician-1", "clinician-2", "manager", "admin"):
            username = f"{service}-{suffix}"
            password = _password_for(output, username)
            assert len(password) >= 12
            assert authenticate(username=username, password=password) is not None
    assert Membership.objects.filter(role="clinician").count() == 4

    stages = {c.name: cohort_overview(c).stage for c in Cohort.objects.all()}
    assert any(s.startswith("Compassion Focused Trauma Group") for s in stages.values())
    assert any(s.startswith("Follow-up") for s in stages.values())
    assert any(s.startswith("Preparation and Engagement Group") for s in stages.values())
    assert Cohort.objects.filter(programme__key="peg-usual-care").count() == 1

    ended = Enrolment.objects.filter(status__in=["withdrawn", "discharged"])
    assert ended.filter(status="withdrawn").exists() and ended.filter(status="discharged").exists()
    assert all(e.end_reason for e in ended)
    overviews = [cohort_overview(c) for c in Cohort.objects.all()]
    assert any(row.flagged for o in overviews for row in o.rows)
    rates = [o.overall.percent for o in overviews]
    assert all(50 <= rate <= 95 for rate in rates), rates
    assert Cohort.objects.filter(sessions__group_note__gt="").distinct().count() == 4
