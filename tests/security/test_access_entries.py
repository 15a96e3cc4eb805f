"""Every page or export that shows participants' identifiable data leaves one access entry
per participant shown, naming where, written in one insert: the cost in queries is the same
for a group of 5 or 15, and each person's own trail says who saw them where."""

import datetime

import pytest
import time_machine
from auditlog.models import LogEntry
from django.urls import reverse

from dashboards.cache import cache
from measures.models import RiskAlert
from programmes.models import Enrolment, GroupSession
from tests.dashboards.builders import enrol, make_cohort, mark, score

pytestmark = pytest.mark.django_db
TODAY = datetime.datetime(2024, 3, 4, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _empty_dashboard_cache():
    cache.clear()
    yield
    cache.clear()


def group(service, people):
    cohort = make_cohort(service, sessions=6)
    enrolments = [enrol(cohort) for _ in range(people)]
    for enrolment in enrolments:
        mark(cohort, enrolment, ["present", "dna"])
    return cohort, [e.participant for e in enrolments]


def _export(name, cohort, dataset, fmt):
    target = cohort.pk if name == "cohort_export" else cohort.service_id
    return reverse(f"dashboards:{name}", args=[target, "identifiable", dataset, fmt])


# URL name -> (the page's address for a cohort, where its entries say the people were seen,
# the page's queries whatever the group's size: each page's own count, its access entries
# one insert among them; the dashboard and the identifiable exports one more to load the
# references of the people shown).
PAGES = {
    "participants:participant_list": (
        lambda c: reverse("participants:participant_list"),
        "Viewed in the participant list",
        9,
    ),
    "programmes:cohort_detail": (
        lambda c: reverse("programmes:cohort_detail", args=[c.pk]),
        "Viewed on the cohort page",
        16,  # one of them the next session not yet held, for its huddle link
    ),
    "measures:huddle": (
        lambda c: reverse(
            "measures:huddle", args=[GroupSession.objects.get(cohort=c, number=1).pk]
        ),
        "Viewed on the session huddle",
        14,
    ),
    "programmes:register": (
        lambda c: reverse(
            "programmes:register", args=[GroupSession.objects.get(cohort=c, number=1).pk]
        ),
        "Viewed on the register",
        10,
    ),
    "programmes:enrol": (
        lambda c: reverse("programmes:enrol", args=[c.pk]),
        "Viewed in the enrol picker",
        10,
    ),
    "dashboards:cohort": (
        lambda c: reverse("dashboards:cohort", args=[c.pk]),
        "Viewed in the cohort dashboard",
        12,
    ),
    "dashboards:cohort_export (CSV)": (
        lambda c: _export("cohort_export", c, "attendance", "csv"),
        "Exported in the cohort CSV (attendance)",
        11,
    ),
    "dashboards:cohort_export (XLSX)": (
        lambda c: _export("cohort_export", c, "scores", "xlsx"),
        "Exported in the cohort XLSX (scores)",
        11,
    ),
    "dashboards:service_export (XLSX)": (
        lambda c: _export("service_export", c, "attendance", "xlsx"),
        "Exported in the service XLSX (attendance)",
        11,
    ),
    "dashboards:service_export (CSV)": (
        lambda c: _export("service_export", c, "service-use", "csv"),
        "Exported in the service CSV (service-use)",
        11,
    ),
}
# Session and user (2), memberships, the alerts with their people, the access entries (one
# insert), and the session save inside its savepoint (3).
ALERT_LIST_QUERIES = 8


def access_entries_since(last_pk):
    return LogEntry.objects.filter(pk__gt=last_pk, action=LogEntry.Action.ACCESS)


def last_entry_pk():
    return LogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@time_machine.travel(TODAY, tick=False)
@pytest.mark.parametrize("people", [5, 15])
@pytest.mark.parametrize("page", list(PAGES))
def test_each_participant_shown_gets_an_access_entry_in_one_insert(
    page, people, service, clinician, persona_client, django_assert_num_queries
):
    url_for, where, queries = PAGES[page]
    cohort, participants = group(service, people)
    client = persona_client(clinician)
    url = url_for(cohort)
    client.get(url)  # warm what is cached across requests (content types, dashboard figures)
    last = last_entry_pk()
    with django_assert_num_queries(queries) as captured:
        response = client.get(url)
    assert response.status_code == 200
    entries = access_entries_since(last)
    shown = {
        int(pk)
        for pk in entries.filter(content_type__model="participant").values_list(
            "object_pk", flat=True
        )
    }
    assert shown == {p.pk for p in participants}
    assert {e.additional_data["where"] for e in entries} == {where}
    assert all(e.actor == clinician for e in entries)
    inserts = [q for q in captured.captured_queries if q["sql"].startswith("INSERT")]
    assert len([q for q in inserts if "auditlog_logentry" in q["sql"]]) == 1


@time_machine.travel(TODAY, tick=False)
@pytest.mark.parametrize("people", [5, 15])
def test_the_risk_alert_list_records_each_person_with_an_open_alert(
    people, service, clinician, persona_client, django_assert_num_queries
):
    """Each row carries the person's record number."""
    cohort, participants = group(service, people)
    for enrolment in Enrolment.objects.filter(cohort=cohort):
        administration = score(enrolment, "baseline", "phq9", {"total": 20})
        RiskAlert.objects.create(administration=administration, item=9, severity="urgent")
    client = persona_client(clinician)
    url = reverse("measures:alert_list")
    client.get(url)
    last = last_entry_pk()
    with django_assert_num_queries(ALERT_LIST_QUERIES):
        assert client.get(url).status_code == 200
    entries = access_entries_since(last)
    assert {int(e.object_pk) for e in entries} == {p.pk for p in participants}
    assert {e.additional_data["where"] for e in entries} == {"Viewed in the risk alert list"}


@time_machine.travel(TODAY, tick=False)
def test_the_participants_trail_names_each_page_and_export_that_showed_them(
    service, clinician, persona_client
):
    cohort, participants = group(service, 3)
    client = persona_client(clinician)
    for url_for, _, _ in PAGES.values():
        assert client.get(url_for(cohort)).status_code == 200
    response = client.get(reverse("accounts:audit_list"), {"participant": participants[0].pk})
    text = response.content.decode()
    for _, where, _ in PAGES.values():
        assert where in text


@time_machine.travel(TODAY, tick=False)
def test_the_research_export_names_the_cohort_not_the_people(service, manager, persona_client):
    """Pseudonymised: nobody in it is identifiable, so nobody's trail gets an entry."""
    cohort, _ = group(service, 3)
    last = last_entry_pk()
    url = reverse("dashboards:cohort_export", args=[cohort.pk, "research", "scores", "csv"])
    assert persona_client(manager).get(url).status_code == 200
    entries = access_entries_since(last)
    assert [e.content_type.model for e in entries] == ["cohort"]
