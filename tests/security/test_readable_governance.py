"""Governance pages in plain words: the subject access copy, the audit trail, the button."""

import datetime as dt
import re

import pytest
import time_machine
from auditlog.context import set_actor
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from measures import services as measures_services
from measures.definitions import get_instrument
from measures.models import Administration
from participants.services import subject_access_request_create
from participants.subject_access import export
from tests.conftest import sign_in
from tests.factories import (
    CohortFactory,
    EnrolmentFactory,
    MembershipFactory,
    ParticipantFactory,
)

pytestmark = pytest.mark.django_db
LONDON = dt.timezone(dt.timedelta(0))


@pytest.fixture
def frozen():
    with time_machine.travel(dt.datetime(2026, 2, 3, 14, 5, tzinfo=LONDON), tick=False) as t:
        yield t


@pytest.fixture
def person(service, clinician, frozen):
    cohort = CohortFactory(service=service, start_date=dt.date(2026, 1, 6))
    participant = ParticipantFactory(
        service=service, given_name="Rowan", family_name="Example", messages_opt_out=False
    )
    enrolment = EnrolmentFactory(
        participant=participant, cohort=cohort, enrolled_on=dt.date(2026, 1, 6)
    )
    measures_services.administrations_lay_out(enrolment=enrolment)
    for code, answers in (
        ("core10", dict.fromkeys(get_instrument("core10").item_numbers, 1) | {6: 3}),
        ("wsas", dict.fromkeys(get_instrument("wsas").item_numbers, 2)),
    ):
        adm = Administration.objects.get(
            enrolment=enrolment, instrument_code=code, timepoint__key="baseline"
        )
        measures_services.administration_enter(
            administration=adm,
            answers=answers,
            entered_by=clinician,
            completed_at=timezone.now(),
            outside_window_reason="Returned by post after the window closed",
        )
    return participant


def _records(data, key):
    return next(s for s in data["sections"] if s["key"] == key)["records"]


def _all_text(data) -> str:
    return " ".join(
        f"{label} {value}"
        for section in data["sections"]
        for record in section["records"]
        for label, value in record.items()
    )


def test_the_copy_reads_in_plain_words_with_uk_dates_and_no_ids(person):
    data = export(person)
    (details,) = _records(data, "participant")
    assert details["Opted out of messages"] == "No"
    assert details["Created at"] == "3 February 2026, 14:05"
    assert "ID" not in details and "Id" not in details
    text = _all_text(data)
    assert "True" not in text and "False" not in text
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text), "an ISO date is left in the copy"
    assert not re.search(r"\bID \d+", text)
    enrolment = next(r for r in _records(data, "linked") if r["kind"] == "Enrolment")
    assert enrolment["Enrolled on"] == "6 January 2026"


def test_answers_carry_the_item_wording_where_the_licence_allows(person):
    records = _records(export(person), "questionnaires")
    core10 = next(r for r in records if r["Questionnaire"] == "CORE-10" and "Completed" in r)
    assert core10["How it was answered"] == "Paper, entered by staff"
    assert core10["Completed"] == "3 February 2026, 14:05"
    wording = get_instrument("core10").item(6).text
    assert core10[f"Question 6: {wording}"].startswith("3 – ")
    assert core10["Scores"].startswith("Total: ")
    # WSAS ships without its wording and the service has loaded none: number and answer only.
    wsas = next(r for r in records if r["Questionnaire"] == "WSAS")
    assert wsas["Question 1 (its wording is licensed and cannot be shown here)"].startswith("2")
    # Answers are not printed a second time, raw, among the other rows.
    kinds = {r["kind"] for r in _records(export(person), "linked")}
    assert not kinds & {"Response", "Score", "Administration"}


def test_the_downloaded_copy_is_readable_and_its_export_is_named_in_the_trail(
    client_factory, clinician, service, person
):
    second = MembershipFactory(
        service=service, role=Membership.Role.CLINICIAN, user__username="second"
    ).user
    sar = subject_access_request_create(
        participant=person, received_on=dt.date(2026, 2, 1), note="Letter", by=clinician
    )
    reviewer = sign_in(client_factory(), second)
    reviewer.post(reverse("subject_access:approve", args=[sar.pk]))
    requester = sign_in(client_factory(), clinician)
    requester.post(reverse("subject_access:release", args=[sar.pk]))
    copy = requester.get(reverse("subject_access:download", args=[sar.pk, "html"])).content
    text = copy.decode()
    assert "Opted out of messages</th><td>No" in text
    assert "False" not in text and "True" not in text
    requester.get(reverse("subject_access:download", args=[sar.pk, "json"]))
    trail = requester.get(reverse("accounts:audit_list"), {"participant": person.pk})
    page = trail.content.decode()
    assert "Exported in a subject access download (HTML)" in page
    assert "Exported in a subject access download (JSON)" in page


def test_the_audit_trail_names_fields_by_their_labels(persona_client, clinician, person):
    with set_actor(clinician):
        person.messages_opt_out = True
        person.save()
    page = persona_client(clinician).get(reverse("accounts:audit_list"), {"participant": person.pk})
    content = page.content.decode()
    assert "<strong>Opted out of messages</strong>" in content
    assert "<strong>messages_opt_out</strong>" not in content


def test_the_participant_page_has_the_subject_access_button_for_a_clinician(
    persona_client, clinician, manager, other_clinician, person
):
    url = reverse("participants:participant_detail", args=[person.pk])
    create = reverse("subject_access:create", args=[person.pk])
    page = persona_client(clinician).get(url).content.decode()
    assert f'href="{create}">Record a subject access request' in page
    assert persona_client(clinician).get(create).status_code == 200
    # A manager reads the page but may not record a request; another service sees nothing.
    assert create not in persona_client(manager).get(url).content.decode()
    assert persona_client(manager).get(create).status_code == 403
    assert persona_client(other_clinician).get(url).status_code == 404


def test_the_subject_access_list_points_at_the_button_that_exists(persona_client, clinician):
    content = persona_client(clinician).get(reverse("subject_access:list")).content.decode()
    assert "Record a subject access request" in content
    assert "/staff/subject-access/new/&lt;" not in content
