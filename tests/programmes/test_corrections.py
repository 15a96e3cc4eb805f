"""Mistakes put right in programmes, keeping the original: an enrolment entered in error,
a cancelled session reinstated, a make-up session, and enrolling someone already active in
another running cohort."""

import datetime

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from dashboards import exports, figures
from measures.models import Administration
from participants.services import participant_contacts_blank
from programmes import calendar, services
from programmes.models import Attendance, Cohort, Enrolment, GroupSession
from programmes.selectors import cohort_overview, enrolments_open_at
from reminders.models import Message
from tests.factories import ParticipantFactory
from tests.programmes.conftest import START, TODAY, at, enrol_many, make_cohort

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_cohort(other_service, programme):
    return make_cohort(other_service, programme, name="Their group")


def _take_register(session, enrolments, by, status=Attendance.Status.PRESENT):
    services.attendance_record(
        session=session, statuses={e.pk: status for e in enrolments}, group_note="", by=by
    )


# ------------------------------------------------------------------ entered in error


def test_an_enrolment_entered_in_error_leaves_figures_exports_registers_and_messages(
    cohort, clinician
):
    with at(START):
        kept, wrong = enrol_many(cohort, 2)
    assert Message.objects.filter(enrolment=wrong, status=Message.Status.PENDING).exists()
    with at(START + datetime.timedelta(weeks=1)):
        _take_register(cohort.sessions.get(number=1), [kept, wrong], clinician)
    with at(TODAY):
        services.enrolment_mark_in_error(enrolment=wrong, reason="Enrolled in the wrong cohort")

        wrong.refresh_from_db()
        assert wrong.status == Enrolment.Status.ENTERED_IN_ERROR
        assert wrong.ended_on is None and wrong.end_reason == "Enrolled in the wrong cohort"
        # Not a withdrawal: nobody left, nobody dropped out.
        found = figures.current_figures(Cohort.objects.filter(pk=cohort.pk))[cohort.pk]
        assert found["enrolments"] == {Enrolment.Status.ACTIVE: 1}
        assert found["attendance"] == [1, 1]
        overview = cohort_overview(cohort)
        assert [row.enrolment for row in overview.rows] == [kept]
        assert overview.overall.recorded == 1
        later = cohort.sessions.get(number=10)
        assert list(enrolments_open_at(later)) == [kept]
        _columns, rows = exports.build(
            "attendance", Enrolment.objects.counted().filter(cohort=cohort), research=True
        )
        assert {row[0] for row in rows} == {exports.pseudonym(kept.participant_id)}
    # Its questionnaires stop, and so do their messages; nothing already sent changes.
    live = Administration.objects.filter(enrolment=wrong, status__in=Administration.LIVE_STATUSES)
    assert not live.exists()
    assert not Message.objects.filter(enrolment=wrong, status=Message.Status.PENDING).exists()
    assert Message.objects.filter(enrolment=kept, status=Message.Status.PENDING).exists()
    # Kept in the audit trail, with the status it had.
    entry = LogEntry.objects.get_for_object(wrong).filter(action=LogEntry.Action.UPDATE).latest()
    assert entry.changes["status"] == ["active", "entered_in_error"]


def test_entered_in_error_needs_a_reason_and_happens_once(cohort):
    with at(START):
        (enrolment,) = enrol_many(cohort, 1)
        with pytest.raises(ValidationError) as refused:
            services.enrolment_mark_in_error(enrolment=enrolment, reason="  ")
        assert "Say what the mistake was" in str(refused.value)
        services.enrolment_mark_in_error(enrolment=enrolment, reason="Wrong person")
        with pytest.raises(ValidationError, match="already marked"):
            services.enrolment_mark_in_error(enrolment=enrolment, reason="Again")


def test_an_enrolment_in_error_has_a_reason_in_the_database(cohort):
    with at(START):
        (enrolment,) = enrol_many(cohort, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrolment.objects.filter(pk=enrolment.pk).update(status="entered_in_error", end_reason="")


def test_retention_ignores_enrolments_entered_in_error(cohort, programme, service):
    with at(START):
        other = make_cohort(service, programme, name="Second group")
        finished, wrong = enrol_many(cohort, 1)[0], enrol_many(other, 1, enrolled_on=START)[0]
        wrong_person = wrong.participant
        services.enrolment_end(
            enrolment=finished, status=Enrolment.Status.WITHDRAWN, ended_on=START, reason="Moved"
        )
        # The finished person also has a mistaken enrolment that never ended.
        mistake = services.enrolment_create(
            cohort=other,
            participant=finished.participant,
            enrolled_on=START,
        )
        services.enrolment_mark_in_error(enrolment=mistake, reason="Wrong person")
        services.enrolment_mark_in_error(enrolment=wrong, reason="Wrong cohort")
    with at(START + datetime.timedelta(days=400)):
        blanked = participant_contacts_blank(
            older_than_days=365, today=START + datetime.timedelta(days=400)
        )
    assert blanked == 1
    finished.participant.refresh_from_db()
    wrong_person.refresh_from_db()
    assert finished.participant.mobile == ""
    # Only ever enrolled by mistake: like someone never enrolled, still being contacted.
    assert wrong_person.mobile != ""


def test_the_entered_in_error_page_marks_it_and_the_participant_page_shows_it(
    persona_client, cohort, clinician
):
    with at(TODAY):
        (enrolment,) = enrol_many(cohort, 1)
        client = persona_client(clinician)
        detail = client.get(
            reverse("participants:participant_detail", args=[enrolment.participant_id])
        )
        url = reverse("programmes:enrolment_in_error", args=[enrolment.pk])
        assert url in detail.content.decode()
        page = client.get(url)
        assert "not a withdrawal" in page.content.decode()
        missing = client.post(url, {"reason": "Wrong cohort"})
        assert missing.status_code == 200
        assert "Tick to confirm" in missing.content.decode()
        response = client.post(url, {"reason": "Wrong cohort", "confirm": "on"})
        assert response.status_code == 302
        enrolment.refresh_from_db()
        assert enrolment.status == Enrolment.Status.ENTERED_IN_ERROR
        detail = client.get(response.url).content.decode()
        assert "Entered in error" in detail and "counted in no figure or export" in detail


# ------------------------------------------------------------------ sessions


def test_a_cancelled_session_is_reinstated_and_then_counts_as_held(cohort, clinician):
    session = cohort.sessions.get(number=3)
    with at(START):
        (enrolment,) = enrol_many(cohort, 1)
        services.session_cancel(session=session, reason="Room flooded")
        with pytest.raises(ValidationError, match="reason"):
            services.session_reinstate(session=session, reason="")
        services.session_reinstate(session=session, reason="Room dried out")
    session.refresh_from_db()
    assert (session.status, session.change_reason) == (GroupSession.Status.SCHEDULED, "")
    with at(session.date):
        assert not session.is_held(session.date)
        _take_register(session, [enrolment], clinician)
        session.refresh_from_db()
        assert session.is_held(session.date)
    with at(START), pytest.raises(ValidationError, match="not cancelled"):
        services.session_reinstate(session=session, reason="Again")


def test_reinstating_a_moved_then_cancelled_session_keeps_it_moved(cohort):
    session = cohort.sessions.get(number=4)
    with at(START):
        services.session_move(
            session=session, new_date=session.date + datetime.timedelta(days=1), reason="Room"
        )
        services.session_cancel(session=session, reason="Facilitator ill")
        services.session_reinstate(session=session, reason="Cover found")
    session.refresh_from_db()
    assert session.status == GroupSession.Status.MOVED
    assert session.change_reason == "Reinstated: Cover found"


def test_reinstating_onto_a_day_another_session_took_is_a_clear_refusal(
    cohort, persona_client, clinician
):
    session = cohort.sessions.get(number=5)
    with at(START):
        services.session_cancel(session=session, reason="Snow")
        services.session_make_up_add(cohort=cohort, date=session.date, reason="Catch-up")
        response = persona_client(clinician).post(
            reverse("programmes:session_reinstate", args=[session.pk]), {"reason": "Thawed"}
        )
    assert response.status_code == 200
    assert "is already on" in response.content.decode()
    session.refresh_from_db()
    assert session.status == GroupSession.Status.CANCELLED


def test_a_make_up_session_is_held_registered_and_counted_like_any_other(cohort, clinician):
    cancelled = cohort.sessions.get(number=2)
    makeup_day = cancelled.date + datetime.timedelta(days=2)
    with at(START):
        (enrolment,) = enrol_many(cohort, 1)
        services.session_cancel(session=cancelled, reason="Snow")
        make_up = services.session_make_up_add(
            cohort=cohort, date=makeup_day, reason="In place of session 2"
        )
    assert make_up.is_make_up and make_up.number == cohort.sessions.count()
    assert (make_up.phase_id, make_up.week) == (cancelled.phase_id, cancelled.week)
    with at(makeup_day - datetime.timedelta(days=1)):
        assert not make_up.is_held(makeup_day - datetime.timedelta(days=1))
    with at(makeup_day):
        assert list(enrolments_open_at(make_up)) == [enrolment]
        _take_register(make_up, [enrolment], clinician)
        found = figures.current_figures(Cohort.objects.filter(pk=cohort.pk))[cohort.pk]
        # Session 1 is past with no register; the make-up's mark is the one counted.
        assert found["attendance"] == [1, 1]


def test_make_up_dates_are_checked_with_clear_messages(cohort):
    first = cohort.sessions.get(number=1)
    with at(START):
        with pytest.raises(ValidationError) as before:
            services.session_make_up_add(
                cohort=cohort, date=START - datetime.timedelta(days=3), reason="Early"
            )
        assert "before the group's first session" in str(before.value)
        with pytest.raises(ValidationError) as clash:
            services.session_make_up_add(cohort=cohort, date=first.date, reason="Same day")
        assert "Session 1 of this cohort is already on" in str(clash.value)
        with pytest.raises(ValidationError, match="reason"):
            services.session_make_up_add(
                cohort=cohort, date=first.date + datetime.timedelta(days=1), reason=""
            )


def test_a_future_make_up_moves_with_the_cohorts_start_and_a_past_one_stays(cohort, clinician):
    with at(START):
        past = services.session_make_up_add(
            cohort=cohort, date=START + datetime.timedelta(days=2), reason="Extra, first week"
        )
        future = services.session_make_up_add(
            cohort=cohort, date=START + datetime.timedelta(weeks=20, days=2), reason="Extra"
        )
    # Moving the start a week later, on the day after the first make-up was held.
    today = START + datetime.timedelta(days=3)
    with at(today):
        preview = calendar.cohort_start_move_preview(
            cohort=cohort, new_start_date=START + datetime.timedelta(weeks=1)
        )
        decisions = {p.session.pk: p.proposed or p.choice_values[0] for p in preview.with_choices}
        services.cohort_start_move(
            cohort=cohort, new_start_date=START + datetime.timedelta(weeks=1), decisions=decisions
        )
    past.refresh_from_db()
    future.refresh_from_db()
    assert past.date == START + datetime.timedelta(days=2)
    assert future.date == START + datetime.timedelta(weeks=21, days=2)
    assert future.is_make_up and future.change_reason == "Extra"


# ------------------------------------------------------------------ active elsewhere


def test_enrolling_someone_active_in_another_running_cohort_needs_a_reason(
    cohort, programme, service
):
    with at(START):
        second = make_cohort(service, programme, name="Thursday group", start=START)
        person = ParticipantFactory(service=service)
        services.enrolment_create(cohort=cohort, participant=person, enrolled_on=START)
        with pytest.raises(ValidationError) as refused:
            services.enrolment_create(cohort=second, participant=person, enrolled_on=START)
        assert refused.value.code == services.ACTIVE_ELSEWHERE
        assert "already active in “Monday group”" in str(refused.value)
        enrolment = services.enrolment_create(
            cohort=second,
            participant=person,
            enrolled_on=START,
            also_active_reason="Moving groups; overlap agreed with the team",
        )
    assert enrolment.also_active_reason == "Moving groups; overlap agreed with the team"
    entry = LogEntry.objects.get_for_object(enrolment).get(action=LogEntry.Action.CREATE)
    assert entry.changes["also_active_reason"][1] == "Moving groups; overlap agreed with the team"


def test_the_enrol_page_asks_for_confirmation_and_a_reason(
    persona_client, cohort, programme, service, clinician
):
    with at(START):
        second = make_cohort(service, programme, name="Thursday group", start=START)
        person = ParticipantFactory(service=service)
        services.enrolment_create(cohort=cohort, participant=person, enrolled_on=START)
        client = persona_client(clinician)
        url = reverse("programmes:enrol", args=[second.pk])
        data = {"participant": person.pk, "enrolled_on": START.isoformat()}
        first = client.post(url, data)
        html = first.content.decode()
        assert first.status_code == 200
        assert "Already active in another running cohort" in html and "Monday group" in html
        assert "Yes, enrol them here as well" in html
        unticked = client.post(url, data | {"also_active_reason": "Overlap"})
        assert "Tick the confirmation" in unticked.content.decode()
        no_reason = client.post(url, data | {"confirm_active_elsewhere": "on"})
        assert "Say why they need both" in no_reason.content.decode()
        done = client.post(
            url, data | {"confirm_active_elsewhere": "on", "also_active_reason": "Overlap"}
        )
    assert done.status_code == 302
    assert Enrolment.objects.filter(cohort=second, participant=person).exists()


def test_no_confirmation_is_asked_once_the_other_enrolment_has_ended(cohort, programme, service):
    with at(START):
        second = make_cohort(service, programme, name="Thursday group", start=START)
        person = ParticipantFactory(service=service)
        first = services.enrolment_create(cohort=cohort, participant=person, enrolled_on=START)
        services.enrolment_end(
            enrolment=first, status=Enrolment.Status.WITHDRAWN, ended_on=START, reason="Moved"
        )
        services.enrolment_create(cohort=second, participant=person, enrolled_on=START)


# ------------------------------------------------------------------ personas


def _target(name, cohort):
    if name == "enrolment_in_error":
        return [enrol_many(cohort, 1)[0].pk]
    if name == "session_reinstate":
        session = cohort.sessions.get(number=6)
        services.session_cancel(session=session, reason="Room")
        return [session.pk]
    return [cohort.pk]


@pytest.mark.parametrize("name", ["enrolment_in_error", "session_reinstate", "session_make_up"])
def test_new_pages_scope_and_roles(
    persona_client, name, cohort, other_cohort, clinician, manager, frozen_today
):
    url = reverse(f"programmes:{name}", args=_target(name, cohort))
    anonymous = persona_client(None).get(url)
    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("account_login"))
    assert persona_client(clinician).get(url).status_code == 200
    assert persona_client(manager).get(url).status_code == 403
    assert persona_client(manager).post(url, {"reason": "x"}).status_code == 403
    theirs = reverse(f"programmes:{name}", args=_target(name, other_cohort))
    assert persona_client(clinician).get(theirs).status_code == 404
    assert persona_client(clinician).post(theirs, {"reason": "x"}).status_code == 404


def test_the_make_up_page_adds_a_session_shown_on_the_calendar(
    persona_client, cohort, clinician, frozen_today
):
    client = persona_client(clinician)
    url = reverse("programmes:session_make_up", args=[cohort.pk])
    bad = client.post(url, {"date": "2020-01-01", "reason": "Extra"})
    assert bad.status_code == 200
    assert "A make-up session cannot be before the group" in bad.content.decode()
    day = TODAY + datetime.timedelta(days=2)
    done = client.post(url, {"date": day.isoformat(), "reason": "In place of session 3"})
    assert done.status_code == 302
    page = client.get(cohort.get_absolute_url()).content.decode()
    assert "Make-up session: In place of session 3" in page


def test_the_reinstate_page_reinstates(persona_client, cohort, clinician, frozen_today):
    session = cohort.sessions.get(number=12)
    services.session_cancel(session=session, reason="Room")
    client = persona_client(clinician)
    page = client.get(cohort.get_absolute_url()).content.decode()
    url = reverse("programmes:session_reinstate", args=[session.pk])
    assert url in page
    assert client.post(url, {"reason": ""}).status_code == 200
    assert client.post(url, {"reason": "Room free"}).status_code == 302
    session.refresh_from_db()
    assert session.status == GroupSession.Status.SCHEDULED
