"""Who sees which dashboard: nobody sees another service; exports by role."""

import datetime

import pytest
import time_machine
from auditlog.models import LogEntry
from django.urls import reverse

from programmes.models import Enrolment
from tests.dashboards.builders import enrol, make_cohort, populate

TODAY = datetime.datetime(2025, 6, 2, 12, 0, tzinfo=datetime.UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture
def cohort(service):
    cohort = make_cohort(service, sessions=6)
    populate(cohort, 3)
    return cohort


@pytest.fixture
def other_cohort(other_service):
    cohort = make_cohort(other_service, sessions=6)
    populate(cohort, 3)
    return cohort


@time_machine.travel(TODAY, tick=False)
@pytest.mark.parametrize(
    ("who", "expected"),
    [("clinician", 200), ("manager", 200), ("admin_user", 200), ("other_clinician", 404)],
)
def test_cohort_dashboard_by_persona(who, expected, request, cohort, persona_client):
    client = persona_client(request.getfixturevalue(who))
    assert client.get(reverse("dashboards:cohort", args=[cohort.pk])).status_code == expected


def test_cohort_dashboard_sends_anonymous_visitors_to_sign_in(cohort, persona_client):
    response = persona_client(None).get(reverse("dashboards:cohort", args=[cohort.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@time_machine.travel(TODAY, tick=False)
def test_a_clinician_cannot_open_another_services_cohort(other_cohort, clinician, persona_client):
    response = persona_client(clinician).get(reverse("dashboards:cohort", args=[other_cohort.pk]))
    assert response.status_code == 404


@time_machine.travel(TODAY, tick=False)
@pytest.mark.parametrize(
    ("who", "expected"),
    [("clinician", 200), ("manager", 200), ("admin_user", 200), ("other_clinician", 404)],
)
def test_service_dashboard_by_persona(who, expected, request, service, cohort, persona_client):
    client = persona_client(request.getfixturevalue(who))
    assert client.get(reverse("dashboards:service", args=[service.pk])).status_code == expected


def test_service_dashboard_sends_anonymous_visitors_to_sign_in(service, persona_client):
    response = persona_client(None).get(reverse("dashboards:service", args=[service.pk]))
    assert response.status_code == 302


@time_machine.travel(TODAY, tick=False)
def test_managers_see_small_counts_suppressed_and_no_names(
    service, cohort, manager, persona_client
):
    response = persona_client(manager).get(reverse("dashboards:service", args=[service.pk]))
    page = response.content.decode()
    # Three people in the only cohort: every count is below 5, and so are the cohort's
    # attendance and completion rates, which would say too much about so few people.
    assert "<td>suppressed</td><td>suppressed</td>" in page
    assert "%</td>" not in page
    names = cohort.enrolments.values_list("participant__family_name", flat=True)
    assert not any(f">{name}<" in page or f" {name}<" in page for name in names)


@time_machine.travel(TODAY, tick=False)
def test_a_small_count_cannot_be_worked_out_by_subtraction_on_the_service_page(
    service, manager, persona_client
):
    # Started 10, active 7, completed 2, left early 1. Hiding only the 2 and the 1 would
    # leave them adding up to 10 - 7 = 3; a third count goes with them.
    cohort = make_cohort(service, sessions=6, name="Subtraction")
    for _ in range(7):
        enrol(cohort)
    for _ in range(2):
        enrol(cohort, status=Enrolment.Status.COMPLETED, ended_on=cohort.week_date(5))
    enrol(cohort, status=Enrolment.Status.WITHDRAWN, ended_on=cohort.week_date(3))
    page = persona_client(manager).get(reverse("dashboards:service", args=[service.pk]))
    row = next(c for c in page.context["d"]["cohorts"] if c["name"] == "Subtraction")
    shown = [row["shown"][f] for f in ("started", "active", "completed", "left")]
    assert shown.count("suppressed") >= 3
    assert (row["shown"]["completed"], row["shown"]["left"]) == ("suppressed", "suppressed")
    html = page.content.decode()
    assert "<td>2</td><td>1</td>" not in html


@time_machine.travel(TODAY, tick=False)
def test_service_dashboard_filters_by_programme_year_and_status(service, manager, persona_client):
    make_cohort(service, key="cfgp-52", start=datetime.date(2023, 1, 9), name="Full 2023")
    make_cohort(service, key="peg-usual-care", start=datetime.date(2025, 1, 6), name="PEG 2025")
    client = persona_client(manager)
    url = reverse("dashboards:service", args=[service.pk])
    page = client.get(url, {"programme": "peg-usual-care"}).content.decode()
    assert "PEG 2025" in page and "Full 2023" not in page
    page = client.get(url, {"year": "2023"}).content.decode()
    assert "Full 2023" in page and "PEG 2025" not in page
    # On 2 June 2025 the 2023 cohort is in follow-up (week 126 is past 104: finished).
    page = client.get(url, {"status": "running"}).content.decode()
    assert "PEG 2025" in page and "Full 2023" not in page
    page = client.get(url, {"status": "finished"}).content.decode()
    assert "Full 2023" in page and "PEG 2025" not in page


@time_machine.travel(TODAY, tick=False)
def test_a_bad_filter_value_is_ignored_not_an_error(service, cohort, manager, persona_client):
    response = persona_client(manager).get(
        reverse("dashboards:service", args=[service.pk]), {"year": "twenty", "status": "x"}
    )
    assert response.status_code == 200


def test_dashboard_index_lists_only_the_users_services(
    service, other_service, clinician, persona_client
):
    page = persona_client(clinician).get(reverse("dashboards:index")).content.decode()
    assert service.name in page and other_service.name not in page


@time_machine.travel(TODAY, tick=False)
@pytest.mark.parametrize(
    ("who", "variant", "expected"),
    [
        ("clinician", "identifiable", 200),
        ("clinician", "research", 200),
        ("manager", "identifiable", 403),
        ("manager", "research", 200),
        ("admin_user", "research", 403),
        ("other_clinician", "research", 404),
    ],
)
def test_cohort_exports_by_role(who, variant, expected, request, cohort, persona_client):
    client = persona_client(request.getfixturevalue(who))
    url = reverse("dashboards:cohort_export", args=[cohort.pk, variant, "scores", "csv"])
    assert client.get(url).status_code == expected


@time_machine.travel(TODAY, tick=False)
@pytest.mark.parametrize(
    ("who", "variant", "expected"),
    [
        ("clinician", "identifiable", 200),
        ("manager", "identifiable", 403),
        ("manager", "research", 200),
        ("other_clinician", "research", 404),
    ],
)
def test_service_exports_by_role(who, variant, expected, request, service, cohort, persona_client):
    client = persona_client(request.getfixturevalue(who))
    url = reverse("dashboards:service_export", args=[service.pk, variant, "attendance", "xlsx"])
    assert client.get(url).status_code == expected


@time_machine.travel(TODAY, tick=False)
def test_each_export_writes_one_access_record_naming_the_cohort(cohort, manager, persona_client):
    client = persona_client(manager)
    before = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).count()
    client.get(reverse("dashboards:cohort_export", args=[cohort.pk, "research", "scores", "csv"]))
    entries = LogEntry.objects.filter(action=LogEntry.Action.ACCESS)
    assert entries.count() == before + 1
    entry = entries.latest("timestamp")
    assert entry.object_pk == str(cohort.pk)
    assert entry.content_type.model == "cohort"
    assert entry.actor == manager


@time_machine.travel(TODAY, tick=False)
def test_a_service_export_is_recorded_against_the_service(service, cohort, manager, persona_client):
    persona_client(manager).get(
        reverse("dashboards:service_export", args=[service.pk, "research", "scores", "csv"])
    )
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).latest("timestamp")
    assert (entry.content_type.model, entry.object_pk) == ("service", str(service.pk))


@time_machine.travel(TODAY, tick=False)
def test_an_unknown_export_is_not_found(cohort, clinician, persona_client):
    url = reverse("dashboards:cohort_export", args=[cohort.pk, "research", "secrets", "csv"])
    assert persona_client(clinician).get(url).status_code == 404


def test_exports_refuse_post(cohort, clinician, persona_client):
    url = reverse("dashboards:cohort_export", args=[cohort.pk, "research", "scores", "csv"])
    assert persona_client(clinician).post(url).status_code == 405


def test_the_cohort_page_links_to_its_dashboard(cohort, clinician, persona_client):
    page = persona_client(clinician).get(cohort.get_absolute_url()).content.decode()
    assert reverse("dashboards:cohort", args=[cohort.pk]) in page
