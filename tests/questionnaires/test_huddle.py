"""The huddle before a group session, its "contacted" notes, and the home page's counts."""

import datetime
import zoneinfo
from dataclasses import dataclass

import pytest
from auditlog.models import LogEntry
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from measures import services
from measures.definitions import get_instrument
from measures.models import Administration, HuddleContact, Score
from programmes.models import Attendance, GroupSession
from programmes.services import attendance_record, cohort_create
from tests.factories import CohortFactory, EnrolmentFactory, default_programme

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
START = datetime.date(2026, 1, 6)  # a Tuesday
HUDDLE_DAY = datetime.date(2026, 3, 31)  # session 13, the end-of-preparation timepoint's week


def at(day: datetime.date, hour: int = 8, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=LONDON)


@dataclass
class Group:
    cohort: object
    session: GroupSession  # session 13, on HUDDLE_DAY
    alerted: object
    missing: object
    worse: object
    late_joiner: object
    others: list


def _enter(enrolment, code, timepoint, answers, clinician):
    adm = Administration.objects.get(
        enrolment=enrolment, instrument_code=code, timepoint__key=timepoint
    )
    services.administration_enter(
        administration=adm, answers=answers, entered_by=clinician, completed_at=timezone.now()
    )


def build_group(frozen, service, clinician, people: int, name="Tuesday group") -> Group:
    """`people` on the register of session 13: one with an urgent alert, one who missed the
    last three sessions, one reliably worse on CORE-10, one who joined late with this week's
    questionnaires open and unanswered, and the rest with nothing to flag."""
    frozen.move_to(at(START, 7))
    cohort = cohort_create(
        service=service,
        programme=default_programme(),
        name=name,
        start_date=START,
        start_time=datetime.time(10, 30),
        venue="Room 2",
        capacity=20,
        facilitators=[clinician],
    )
    enrolments = []
    for _ in range(people - 1):
        enrolment = EnrolmentFactory(cohort=cohort, enrolled_on=START)
        services.administrations_lay_out(enrolment=enrolment)
        enrolments.append(enrolment)
    alerted, missing, worse, *others = enrolments
    core10 = get_instrument("core10").item_numbers
    frozen.move_to(at(datetime.date(2026, 1, 8), 10))
    _enter(alerted, "core10", "baseline", dict.fromkeys(core10, 0) | {6: 2}, clinician)
    _enter(worse, "core10", "baseline", dict.fromkeys(core10, 0), clinician)

    frozen.move_to(at(HUDDLE_DAY, 7))
    for session in cohort.sessions.filter(date__lt=HUDDLE_DAY).order_by("date"):
        statuses = {e.pk: Attendance.Status.PRESENT for e in enrolments}
        if session.number >= 10:
            statuses[missing.pk] = Attendance.Status.DNA
        attendance_record(session=session, statuses=statuses, group_note="", by=clinician)
    _enter(worse, "core10", "week12", dict.fromkeys(core10, 3) | {6: 0}, clinician)
    late_joiner = EnrolmentFactory(cohort=cohort, enrolled_on=HUDDLE_DAY)
    services.administrations_lay_out(enrolment=late_joiner)
    session = cohort.sessions.get(date=HUDDLE_DAY)
    assert session.number == 13
    return Group(cohort, session, alerted, missing, worse, late_joiner, others)


@pytest.fixture
def group(frozen, service, clinician):
    return build_group(frozen, service, clinician, 6)


def huddle_url(group):
    return reverse("measures:huddle", args=[group.session.pk])


def contact_url(group):
    return reverse("measures:huddle_contact", args=[group.session.pk])


# ------------------------------------------------------------------ the page


def test_the_huddle_names_each_person_to_contact_and_why(persona_client, clinician, group):
    page = persona_client(clinician).get(huddle_url(group))
    assert page.status_code == 200
    rows = {row.enrolment.pk: row for row in page.context["huddle"].flagged}
    assert set(rows) == {
        group.alerted.pk,
        group.missing.pk,
        group.worse.pk,
        group.late_joiner.pk,
    }
    assert [a.severity for a in rows[group.alerted.pk].alerts] == ["urgent"]
    assert rows[group.missing.pk].dna_run == 3
    (worse,) = rows[group.worse.pk].deteriorations
    totals = dict(
        Score.objects.filter(administration__enrolment=group.worse, scale="total").values_list(
            "administration__timepoint__key", "value"
        )
    )
    assert (worse.instrument, worse.before, worse.after, worse.timepoint) == (
        "CORE-10",
        totals["baseline"],
        totals["week12"],
        "End of preparation",
    )
    assert worse.after - worse.before >= 6  # CORE-10's reliable change index
    assert {a.timepoint.key for a in rows[group.late_joiner.pk].unanswered} == {"week12"}
    assert page.context["counts"] == {
        "alerts": 1,
        "dna": 1,
        "deterioration": 1,
        "unanswered": 1,
        "flagged": 4,
        "contacted": 0,
    }
    content = page.content.decode()
    assert "Did not attend the last 3 sessions held" in content
    assert "Reliable deterioration on CORE-10" in content
    assert "closes 21 April 2026" in content
    assert "2 others on the register: nothing flagged." in content
    # Whose records were shown is in the audit trail.
    assert LogEntry.objects.filter(
        action=LogEntry.Action.ACCESS, additional_data__where="Viewed on the session huddle"
    ).count() == len(page.context["huddle"].rows)


def test_a_run_of_missed_sessions_ends_when_the_person_comes_back(
    persona_client, clinician, group, frozen
):
    frozen.move_to(at(HUDDLE_DAY, 12))
    register = {e.pk: Attendance.Status.PRESENT for e in group.session.cohort.enrolments.all()}
    attendance_record(session=group.session, statuses=register, group_note="", by=clinician)
    next_session = group.cohort.sessions.get(number=14)
    page = persona_client(clinician).get(reverse("measures:huddle", args=[next_session.pk]))
    flagged = {row.enrolment.pk for row in page.context["huddle"].flagged}
    assert group.missing.pk not in flagged
    assert group.alerted.pk in flagged


def test_the_manager_sees_the_huddle_but_cannot_record_a_contact(persona_client, manager, group):
    client = persona_client(manager)
    page = client.get(huddle_url(group))
    assert page.status_code == 200
    assert "Record contact" not in page.content.decode()
    refused = client.post(contact_url(group), {"enrolment": group.alerted.pk, "note": "Rang"})
    assert refused.status_code == 403
    assert not HuddleContact.objects.exists()


def test_an_administrator_may_not_open_the_huddle(persona_client, admin_user, group):
    assert persona_client(admin_user).get(huddle_url(group)).status_code == 403


def test_another_services_clinician_gets_not_found(persona_client, other_clinician, group):
    client = persona_client(other_clinician)
    assert client.get(huddle_url(group)).status_code == 404
    posted = client.post(contact_url(group), {"enrolment": group.alerted.pk, "note": "Rang"})
    assert posted.status_code == 404
    assert not HuddleContact.objects.exists()


# ------------------------------------------------------------------ contacted notes


def test_a_clinician_records_a_contact_and_the_huddle_shows_it(
    persona_client, clinician, group, frozen
):
    frozen.move_to(at(HUDDLE_DAY, 9, 5))
    client = persona_client(clinician)
    note = "Rang at 09:00; coming today, will stay after to talk it through."
    response = client.post(contact_url(group), {"enrolment": group.alerted.pk, "note": note})
    assert response.status_code == 302
    assert response.url == huddle_url(group)
    contact = HuddleContact.objects.get()
    assert (contact.enrolment, contact.session, contact.recorded_by) == (
        group.alerted,
        group.session,
        clinician,
    )
    assert LogEntry.objects.get_for_object(contact).get().actor == clinician
    page = client.get(huddle_url(group))
    assert page.context["counts"]["contacted"] == 1
    content = page.content.decode()
    assert "31 March 2026 09:05" in content
    assert note in content


def test_a_blank_note_gets_a_clear_message_and_nothing_is_saved(persona_client, clinician, group):
    response = persona_client(clinician).post(
        contact_url(group), {"enrolment": group.alerted.pk, "note": "   "}
    )
    assert response.status_code == 200
    assert "Write a note saying who was contacted" in response.content.decode()
    assert not HuddleContact.objects.exists()


def test_someone_not_on_the_register_is_refused_with_a_message(
    persona_client, clinician, group, service
):
    elsewhere = EnrolmentFactory(cohort=CohortFactory(service=service), enrolled_on=START)
    response = persona_client(clinician).post(
        contact_url(group), {"enrolment": elsewhere.pk, "note": "Rang them"}
    )
    assert response.status_code == 200
    assert "That person is not on this session&#x27;s register." in response.content.decode()
    assert not HuddleContact.objects.exists()


def test_a_note_longer_than_allowed_says_so(persona_client, clinician, group):
    response = persona_client(clinician).post(
        contact_url(group), {"enrolment": group.alerted.pk, "note": "x" * 1001}
    )
    assert "Keep the note to 1000 characters or fewer (it has 1001)." in response.content.decode()


def test_the_database_refuses_a_contact_with_no_note(group, clinician):
    with pytest.raises(IntegrityError, match="huddle_contact_has_note"), transaction.atomic():
        HuddleContact.objects.create(
            session=group.session, enrolment=group.alerted, note="", recorded_by=clinician
        )


# ------------------------------------------------------------------ query counts


@pytest.mark.parametrize("people", [5, 15])
def test_the_huddle_runs_the_same_queries_for_5_and_15_people(
    people, frozen, service, clinician, persona_client
):
    group = build_group(frozen, service, clinician, people)
    client = persona_client(clinician)
    client.get(huddle_url(group))  # warm the content-type cache
    with CaptureQueriesContext(connection) as queries:
        page = client.get(huddle_url(group))
    assert len(page.context["huddle"].rows) == people
    assert len(page.context["huddle"].flagged) == 4
    assert len(queries) == HUDDLE_QUERIES


# Session, user, memberships, the session, then the huddle's reads (register, attendance,
# alerts, open questionnaires, contacts, scores), one insert of the access entries, and the
# signed-in session's save in its savepoint, whatever the number of people.
HUDDLE_QUERIES = 14


# ------------------------------------------------------------------ links and the home page


def test_the_register_and_the_cohort_page_link_to_the_huddle(persona_client, clinician, group):
    client = persona_client(clinician)
    register = client.get(reverse("programmes:register", args=[group.session.pk]))
    assert huddle_url(group) in register.content.decode()
    cohort_page = client.get(group.cohort.get_absolute_url())
    assert huddle_url(group) in cohort_page.content.decode()


def test_the_home_page_shows_the_huddle_counts_and_the_registers_real_state_over_the_day(
    persona_client, clinician, group, frozen
):
    register = reverse("programmes:register", args=[group.session.pk])

    frozen.move_to(at(HUDDLE_DAY, 8))  # before the group
    client = persona_client(clinician)
    content = client.get(reverse("home")).content.decode()
    assert "Take today's register" in content
    assert "Register not yet taken." in content
    assert register in content
    for line in (
        "With an open risk alert: 1",
        "With a run of missed sessions: 1",
        "With reliable deterioration: 1",
        "With a questionnaire unanswered: 1",
        "Huddle: 0 of 4 contacted",
    ):
        assert line in content

    frozen.move_to(at(HUDDLE_DAY, 9))
    client = persona_client(clinician)
    client.post(contact_url(group), {"enrolment": group.alerted.pk, "note": "Rang; coming."})
    frozen.move_to(at(HUDDLE_DAY, 12, 40))  # after the group, the register taken
    statuses = {e.pk: Attendance.Status.PRESENT for e in group.cohort.enrolments.all()}
    attendance_record(session=group.session, statuses=statuses, group_note="", by=clinician)
    client = persona_client(clinician)
    content = client.get(reverse("home")).content.decode()
    assert "Take today's register" not in content
    assert "Register taken at 12:40." in content
    assert "Change today's register" in content
    assert "Huddle: 1 of 4 contacted" in content

    frozen.move_to(at(HUDDLE_DAY + datetime.timedelta(days=1), 8))  # the next day
    client = persona_client(clinician)
    content = client.get(reverse("home")).content.decode()
    assert "Session 14, Tuesday 7 April 2026" in content
    assert "register" not in content.lower().split("session 14")[1].split("</td>")[0]
    next_huddle = reverse("measures:huddle", args=[group.cohort.sessions.get(number=14).pk])
    assert next_huddle in content
    # The run of missed sessions ended when they came back to session 13.
    assert "With a run of missed sessions: 0" in content


@pytest.mark.parametrize("cohorts", [1, 3])
def test_the_home_page_runs_the_same_queries_however_many_cohorts(
    cohorts, frozen, service, clinician, persona_client
):
    built = [build_group(frozen, service, clinician, 5, f"Group {n}") for n in range(cohorts)]
    frozen.move_to(at(HUDDLE_DAY, 8))
    client = persona_client(clinician)
    client.get(reverse("home"))
    with CaptureQueriesContext(connection) as queries:
        content = client.get(reverse("home")).content.decode()
    assert content.count("Huddle: 0 of 4 contacted") == len(built)
    assert len(queries) == HOME_QUERIES


HOME_QUERIES = 14
