"""The audit trail is read by role: administrators see who did what to which record and
when, never an identifying or clinical value; clinical roles see the values of their own
services' records. The stored entries are not changed by reading them."""

import datetime
import re

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.audit import CLINICAL_VALUES, NO_CLINICAL_VALUES, record_view
from accounts.models import Membership
from accounts.views import PAGE_SIZE
from measures.models import Administration, Response, RiskAlert, Score, Timepoint
from participants.models import SubjectAccessRequest
from programmes.models import Attendance, GroupSession, Phase
from tests.factories import (
    CANARY_VALUES,
    CohortFactory,
    EnrolmentFactory,
    MembershipFactory,
    ParticipantFactory,
    canary_date_of_birth,
    canary_email,
    canary_family_name,
    canary_given_name,
    canary_nhs_number,
    canary_phone,
)
from tests.security.canary_plugin import CanaryValues

pytestmark = pytest.mark.django_db
URL = reverse("accounts:audit_list")
# Free text staff write about a person: each carries a marker no page may show an administrator.
NOTES = {
    "acknowledgement note": "Canarynote zzyzx spoke to her GP about the overdose",
    "end reason": "Canaryreason zzyzx moved to the inpatient unit",
    "group note": "Canarygroup zzyzx shared the anniversary of the assault",
    "request note": "Canaryrequest zzyzx confirmed by passport",
    "answer": "Canaryanswer zzyzx",
}
# The page size the views are rendered at, so every page of every variant is scanned.
SMALL_PAGE = 7


def canaries(participant, *, old: dict) -> CanaryValues:
    values = CanaryValues()
    for person in (participant, old):
        get = person.get if isinstance(person, dict) else lambda name, p=person: getattr(p, name)
        values.add("given name", get("given_name"))
        values.add("family name", get("family_name"))
        values.add("email", get("email"))
        values.add("phone", str(get("mobile")))
        values.add("NHS number", get("nhs_number"))
        values.add("date of birth", get("date_of_birth"))
    values.add("reference", participant.reference)
    for kind, text in NOTES.items():
        values.add(kind, text)
    # And every person's data the factories have made in this run. Staff names are left
    # out: administrators manage staff, and the page names the staff member who acted.
    for kind, made in CANARY_VALUES.items():
        if kind != "staff name":
            for value in made:
                values.add(kind, value)
    return values


@pytest.fixture
def history(service, clinician):
    return make_history(service, clinician)


def make_history(service, clinician, n=0):
    """A participant's whole history, each step saved as a clinician would, so auditlog logs
    every value: details changed, enrolment, register with a group note, an answered and
    scored questionnaire, an alert acknowledged with a note, an ended enrolment, a subject
    access request, and views of the record."""
    now = timezone.now()
    with set_actor(clinician):
        participant = ParticipantFactory(service=service, reference=f"CANREF{n:04d}")
        old = {
            "given_name": participant.given_name,
            "family_name": participant.family_name,
            "email": participant.email,
            "mobile": participant.mobile,
            "nhs_number": participant.nhs_number,
            "date_of_birth": participant.date_of_birth,
        }
        participant.given_name = canary_given_name(9001 + n)
        participant.family_name = canary_family_name(9001 + n)
        participant.email = canary_email(9001 + n)
        participant.mobile = canary_phone(901 + n)
        participant.nhs_number = canary_nhs_number(9001 + n)
        participant.date_of_birth = canary_date_of_birth(2001 + n)
        participant.save()
        cohort = CohortFactory(service=service)
        phase = Phase.objects.filter(programme=cohort.programme).order_by("order").first()
        session = GroupSession.objects.create(
            cohort=cohort,
            phase=phase,
            number=1,
            week=1,
            planned_date=cohort.start_date,
            date=cohort.start_date,
            start_time=cohort.start_time,
        )
        session.group_note = NOTES["group note"]
        session.save()
        enrolment = EnrolmentFactory(cohort=cohort, participant=participant)
        Attendance.objects.create(session=session, enrolment=enrolment, status="dna")
        timepoint = Timepoint.objects.filter(programme=cohort.programme).first()
        administration = Administration.objects.create(
            enrolment=enrolment,
            timepoint=timepoint,
            instrument_code="phq9",
            due_on=cohort.start_date,
            opens_on=cohort.start_date - datetime.timedelta(days=7),
            closes_on=cohort.start_date + datetime.timedelta(days=7),
            status=Administration.Status.COMPLETED,
            completed_at=now,
            diagnosis="cptsd",
        )
        Response.objects.create(
            administration=administration,
            answers={"1": 3, "9": 2, "free_text": NOTES["answer"]},
            submitted_at=now,
        )
        Score.objects.create(
            administration=administration,
            scale="total",
            value=23,
            band="severe",
            instrument_version="1",
        )
        alert = RiskAlert.objects.create(administration=administration, item=9, severity="urgent")
        alert.acknowledged_at = now
        alert.acknowledged_by = clinician
        alert.acknowledgement_note = NOTES["acknowledgement note"]
        alert.save()
        enrolment.status = "withdrawn"
        enrolment.ended_on = cohort.start_date + datetime.timedelta(days=14)
        enrolment.end_reason = NOTES["end reason"]
        enrolment.save()
        SubjectAccessRequest.objects.create(
            service=service,
            participant=participant,
            received_on=cohort.start_date,
            note=NOTES["request note"],
            requested_by=clinician,
        )
        record_view(participant)
    return participant, canaries(participant, old=old)


def variants(participant, clinician):
    return [
        {},
        {"participant": participant.pk},
        {"user": clinician.pk},
        {"participant": participant.pk, "user": clinician.pk},
    ]


def every_page(client, params):
    """Each page of one variant of the trail, in order."""
    first = client.get(URL, params)
    assert first.status_code == 200
    pages = [first]
    for number in range(2, first.context["page"].paginator.num_pages + 1):
        pages.append(client.get(URL, {**params, "page": number}))
    return pages


def found_in(response, values: CanaryValues) -> set[str]:
    return set(values.matcher().kinds_in(response.content.decode()))


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr("accounts.views.PAGE_SIZE", SMALL_PAGE)


def test_an_administrator_sees_no_identifying_or_clinical_value_on_any_page(
    persona_client, admin_user, clinician, history, small_pages
):
    participant, values = history
    client = persona_client(admin_user)
    scanned = 0
    for params in variants(participant, clinician):
        for response in every_page(client, params):
            scanned += 1
            assert found_in(response, values) == set(), params
    assert scanned > len(variants(participant, clinician))  # more than one page each


def test_an_administrator_still_sees_who_did_what_to_which_record_and_when(
    persona_client, admin_user, clinician, history
):
    participant, _ = history
    response = persona_client(admin_user).get(URL, {"participant": participant.pk})
    rows = response.context["rows"]
    kinds = {row.entry.content_type.model for row in rows}
    assert {"participant", "enrolment", "attendance", "administration", "response"} <= kinds
    assert {"score", "riskalert"} <= kinds
    assert all(row.entry.actor == clinician for row in rows)
    assert all(row.entry.timestamp for row in rows)
    text = response.content.decode()
    assert f"Participant {participant.pk}" in text
    # Which fields changed is shown; their values are not.
    participant_update = next(
        r for r in rows if r.entry.content_type.model == "participant" and r.entry.action == 1
    )
    assert {c.field for c in participant_update.changes} >= {"given_name", "nhs_number"}
    assert all(c.hidden for c in participant_update.changes if c.field == "given_name")
    # Operational values that identify nobody stay readable, for instance a status.
    enrolment_update = next(
        r for r in rows if r.entry.content_type.model == "enrolment" and r.entry.action == 1
    )
    status = next(c for c in enrolment_update.changes if c.field == "status")
    assert (status.hidden, status.new) == (False, "withdrawn")


@pytest.mark.parametrize("persona", ["clinician", "manager"])
def test_clinical_roles_of_the_service_see_the_values(
    persona_client, request, persona, clinician, history, small_pages
):
    participant, values = history
    client = persona_client(request.getfixturevalue(persona))
    seen = set()
    for params in variants(participant, clinician):
        for response in every_page(client, params):
            seen |= found_in(response, values)
    assert seen >= {
        "given name",
        "family name",
        "email",
        "phone",
        "NHS number",
        "date of birth",
        "acknowledgement note",
        "end reason",
        "group note",
        "request note",
        "answer",
    }


def test_values_show_only_for_the_services_where_the_user_is_clinical(
    persona_client, service, other_service, clinician, history, small_pages
):
    """An administrator here who is a clinician elsewhere reads this service's trail as an
    administrator."""
    participant, values = history
    both = MembershipFactory(service=other_service, role=Membership.Role.CLINICIAN).user
    MembershipFactory(user=both, service=service, role=Membership.Role.ADMIN)
    client = persona_client(both)
    for params in variants(participant, clinician):
        for response in every_page(client, params):
            assert found_in(response, values) == set(), params


def test_reading_the_trail_changes_no_stored_entry(persona_client, admin_user, history):
    participant, _ = history
    before = list(LogEntry.objects.order_by("pk").values_list("pk", "changes"))
    persona_client(admin_user).get(URL, {"participant": participant.pk})
    after = list(LogEntry.objects.order_by("pk").values_list("pk", "changes"))
    assert after == before
    stored = LogEntry.objects.filter(
        changes__has_key="acknowledgement_note", action=LogEntry.Action.UPDATE
    ).get()
    assert stored.changes["acknowledgement_note"][1] == NOTES["acknowledgement note"]


def test_the_page_never_prints_an_entrys_own_description(persona_client, admin_user, history):
    """A score's description is its scale and value: the page names records by kind and
    number instead."""
    participant, _ = history
    response = persona_client(admin_user).get(URL, {"participant": participant.pk})
    assert not re.search(r"total=23", response.content.decode())


@pytest.mark.parametrize("persona", ["clinician", "admin_user"])
def test_the_trail_costs_the_same_queries_whatever_its_length(
    persona_client, request, persona, service, clinician, history
):
    client = persona_client(request.getfixturevalue(persona))
    client.get(URL)
    with CaptureQueriesContext(connection) as small:
        client.get(URL)
    for n in range(1, 5):
        make_history(service, clinician, n)
    with CaptureQueriesContext(connection) as large:
        response = client.get(URL)
    assert response.context["page"].paginator.count > PAGE_SIZE  # a full first page
    assert len(large) == len(small)


def test_every_audited_model_says_which_of_its_values_are_clinical():
    """A model newly registered with auditlog fails here until it is named in one of the
    two lists of accounts/audit.py."""
    audited = {model._meta.label_lower for model in auditlog.get_models()}
    assert audited - set(CLINICAL_VALUES) - set(NO_CLINICAL_VALUES) == set()
    assert set(CLINICAL_VALUES) & set(NO_CLINICAL_VALUES) == set()
    assert set(CLINICAL_VALUES) | set(NO_CLINICAL_VALUES) <= audited


def test_each_hidden_or_shown_field_is_a_field_of_its_model():
    for label, policy in CLINICAL_VALUES.items():
        names = {f.name for f in apps.get_model(label)._meta.concrete_fields}
        assert (policy.hidden | (policy.shown or frozenset())) <= names, label
