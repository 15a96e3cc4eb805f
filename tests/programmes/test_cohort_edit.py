"""Editing a cohort after it is created (issue 13, item 2).

The Monday cohort of the conftest starts on 5 January 2026, so session N meets on the
Monday of programme week N: session 9 on 2 March (TODAY), session 13 on 30 March (Good
Friday is that week's Friday, 3 April), session 14 on Easter Monday, 6 April.
"""

import datetime

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import Membership
from measures.models import Administration
from programmes import events, services
from programmes.cohort_edit import cohort_update
from programmes.models import Cohort, GroupSession
from tests.factories import MembershipFactory, ParticipantFactory
from tests.programmes.conftest import START, TODAY, at, enrol_many, make_cohort

pytestmark = pytest.mark.django_db

D = datetime.date
MONDAY, WEDNESDAY, FRIDAY = Cohort.Weekday.MONDAY, Cohort.Weekday.WEDNESDAY, Cohort.Weekday.FRIDAY


def _dates(cohort, *numbers):
    return {s.number: s.date for s in cohort.sessions.filter(number__in=numbers)}


def _update_hearing_reschedules(**changes):
    """cohort_update(**changes), and the (previous, new) start dates it announced."""
    received = []

    def receiver(sender, cohort, previous_start_date, **kwargs):
        received.append((previous_start_date, cohort.start_date))

    events.cohort_rescheduled.connect(receiver)
    try:
        return cohort_update(**changes), received
    finally:
        events.cohort_rescheduled.disconnect(receiver)


# Day and time ---------------------------------------------------------------------------


def test_a_weekday_change_mid_programme_moves_only_sessions_not_yet_held(
    cohort, clinician, frozen_today
):
    services.attendance_record(
        session=cohort.sessions.get(number=9), statuses={}, group_note="", by=clinician
    )
    edit, received = _update_hearing_reschedules(cohort=cohort, by=clinician, weekday=WEDNESDAY)

    # Sessions 1-8 are past and session 9 is today with its register taken: all held.
    assert _dates(cohort, 1, 8, 9, 10, 52) == {
        1: START,
        8: D(2026, 2, 23),
        9: TODAY,
        10: D(2026, 3, 11),
        52: D(2026, 12, 30),
    }
    cohort.refresh_from_db()
    assert (cohort.weekday, cohort.start_date) == (WEDNESDAY, START)
    assert received == []  # questionnaire windows hang on the start date, which stayed
    assert "43 sessions not yet held now follow the new day" in edit.summary()

    # A week later the held sessions are where they were and the next one is on Wednesday.
    with at(D(2026, 3, 9)):
        edit = cohort_update(cohort=cohort, by=clinician, weekday=FRIDAY)
    assert _dates(cohort, 9, 10, 11) == {9: TODAY, 10: D(2026, 3, 13), 11: D(2026, 3, 20)}


def test_todays_session_moves_until_its_register_is_taken(cohort, clinician, frozen_today):
    cohort_update(cohort=cohort, by=clinician, weekday=WEDNESDAY)
    assert _dates(cohort, 8, 9) == {8: D(2026, 2, 23), 9: D(2026, 3, 4)}


def test_a_new_day_already_past_this_week_leaves_this_weeks_session_where_it_is(cohort, clinician):
    with at(D(2026, 3, 3)):  # Tuesday: session 10 moves to Friday 13 March
        cohort_update(cohort=cohort, by=clinician, weekday=FRIDAY)
    with at(D(2026, 3, 11)):  # Wednesday: Monday 9 March has passed
        edit = cohort_update(cohort=cohort, by=clinician, weekday=MONDAY)
    assert _dates(cohort, 9, 10, 11) == {9: TODAY, 10: D(2026, 3, 13), 11: D(2026, 3, 16)}
    assert "Session 10 stays on its old day this week" in edit.summary()


def test_a_weekday_change_before_the_start_moves_the_start_and_questionnaire_dates(
    cohort, clinician
):
    with at(D(2025, 12, 1)):
        enrolment = enrol_many(cohort, 1, enrolled_on=D(2025, 12, 1))[0]
        due_before = sorted(
            Administration.objects.filter(enrolment=enrolment).values_list("due_on", flat=True)
        )
        edit, received = _update_hearing_reschedules(cohort=cohort, by=clinician, weekday=WEDNESDAY)

    assert received == [(START, D(2026, 1, 7))]
    assert _dates(cohort, 1, 2) == {1: D(2026, 1, 7), 2: D(2026, 1, 14)}
    due_after = sorted(
        Administration.objects.filter(enrolment=enrolment).values_list("due_on", flat=True)
    )
    assert due_after == [day + datetime.timedelta(days=2) for day in due_before]
    assert "The first session is now on Wednesday 7 January 2026" in edit.summary()


def test_a_time_change_applies_to_sessions_not_yet_held(cohort, clinician, frozen_today):
    cohort_update(cohort=cohort, by=clinician, start_time=datetime.time(14, 30))
    times = {s.number: s.start_time for s in cohort.sessions.filter(number__in=[8, 9, 52])}
    assert times == {8: datetime.time(10, 0), 9: datetime.time(14, 30), 52: datetime.time(14, 30)}
    assert _dates(cohort, 9) == {9: TODAY}


def test_moved_and_cancelled_sessions_keep_their_decided_dates_and_are_named(
    cohort, clinician, frozen_today
):
    services.session_move(
        session=cohort.sessions.get(number=14), new_date=D(2026, 4, 7), reason="Easter Monday"
    )
    services.session_cancel(session=cohort.sessions.get(number=20), reason="Room closed")

    edit = cohort_update(cohort=cohort, by=clinician, weekday=FRIDAY)

    rows = {
        s.number: (s.date, s.planned_date, s.status, s.bank_holiday)
        for s in cohort.sessions.filter(number__in=[13, 14, 20])
    }
    assert rows == {
        13: (D(2026, 4, 3), D(2026, 4, 3), "scheduled", "Good Friday"),
        14: (D(2026, 4, 7), D(2026, 4, 10), "moved", ""),
        20: (D(2026, 5, 18), D(2026, 5, 22), "cancelled", ""),
    }
    summary = edit.summary()
    assert "Sessions 14 and 20 already moved or cancelled, kept the date decided" in summary
    assert "session 13 (Good Friday)" in summary


def test_a_change_that_would_put_two_sessions_on_one_day_is_refused(
    cohort, clinician, frozen_today
):
    # Session 13 moved into week 14, onto the Wednesday session 14 would move to.
    services.session_move(
        session=cohort.sessions.get(number=13), new_date=D(2026, 4, 8), reason="Room"
    )
    with pytest.raises(ValidationError) as refused:
        cohort_update(cohort=cohort, by=clinician, weekday=WEDNESDAY, venue="Room 9")
    assert refused.value.message_dict["weekday"] == [
        "This would put session 14 on Wednesday 8 April 2026, already the date of session 13. "
        "Choose another day, or move one of them first."
    ]
    cohort.refresh_from_db()
    assert (cohort.weekday, cohort.venue) == (MONDAY, "Room 2")
    assert _dates(cohort, 10) == {10: D(2026, 3, 9)}


def test_session_changes_are_audited_by_the_editor(cohort, clinician, frozen_today):
    cohort_update(cohort=cohort, by=clinician, weekday=WEDNESDAY)
    session = cohort.sessions.get(number=10)
    entry = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(GroupSession),
        object_id=session.pk,
        action=LogEntry.Action.UPDATE,
    )
    assert entry.actor == clinician
    assert entry.changes["date"] == ["2026-03-09", "2026-03-11"]


# Other details --------------------------------------------------------------------------


def test_capacity_cannot_go_below_the_people_enrolled(cohort, clinician):
    enrol_many(cohort, 3)
    with pytest.raises(ValidationError) as refused:
        cohort_update(cohort=cohort, by=clinician, capacity=2)
    assert "3 people are enrolled" in refused.value.message_dict["capacity"][0]
    cohort_update(cohort=cohort, by=clinician, capacity=3)
    cohort.refresh_from_db()
    assert cohort.capacity == 3


def test_raising_the_capacity_lets_a_full_cohort_enrol_again(service, programme, clinician):
    cohort = make_cohort(service, programme, capacity=1)
    enrol_many(cohort, 1)
    with pytest.raises(ValidationError):
        enrol_many(cohort, 1)
    cohort_update(cohort=cohort, by=clinician, capacity=2)
    assert len(enrol_many(cohort, 1)) == 1


def test_a_name_used_by_another_cohort_of_the_service_is_refused(
    service, other_service, programme, cohort, clinician
):
    make_cohort(service, programme, name="Wednesday group")
    make_cohort(other_service, programme, name="Their group")
    with pytest.raises(ValidationError) as refused:
        cohort_update(cohort=cohort, by=clinician, name=" Wednesday group ")
    assert refused.value.message_dict["name"] == [
        "Your service already has a cohort with this name."
    ]
    cohort_update(cohort=cohort, by=clinician, name="Their group")


def test_facilitators_must_be_clinicians_of_the_service(
    service, cohort, clinician, other_clinician, manager
):
    for outsider in (other_clinician, manager):
        with pytest.raises(ValidationError) as refused:
            cohort_update(cohort=cohort, by=clinician, facilitators=[clinician, outsider])
        assert "facilitators" in refused.value.message_dict
    colleague = MembershipFactory(service=service, role=Membership.Role.CLINICIAN).user
    cohort_update(cohort=cohort, by=clinician, facilitators=[clinician, colleague])
    assert set(cohort.facilitators.all()) == {clinician, colleague}


def test_an_edit_that_changes_nothing_is_refused(cohort, clinician):
    with pytest.raises(ValidationError) as refused:
        cohort_update(
            cohort=cohort,
            by=clinician,
            name="Monday group",
            venue="Room 2",
            weekday=MONDAY,
            start_time=datetime.time(10, 0),
            capacity=10,
            facilitators=[],
        )
    assert refused.value.messages == ["Nothing has changed, so nothing was saved."]


# The page -------------------------------------------------------------------------------


def _form(cohort, **changes):
    data = {
        "name": cohort.name,
        "venue": cohort.venue,
        "weekday": str(cohort.weekday),
        "start_time": cohort.start_time.strftime("%H:%M"),
        "capacity": str(cohort.capacity),
    }
    data.update(changes)
    return data


def _url(cohort):
    return reverse("programmes:cohort_edit", args=[cohort.pk])


def test_clinician_edits_the_cohort_and_each_change_is_audited(
    persona_client, clinician, cohort, frozen_today
):
    client = persona_client(clinician)
    page = client.get(cohort.get_absolute_url())
    assert _url(cohort).encode() in page.content
    assert client.get(_url(cohort)).status_code == 200

    response = client.post(
        _url(cohort),
        _form(cohort, venue="Garden room", capacity="12", facilitators=[str(clinician.pk)]),
        follow=True,
    )

    assert response.redirect_chain == [(cohort.get_absolute_url(), 302)]
    assert "Cohort saved: venue, capacity and facilitators changed." in response.content.decode()
    cohort.refresh_from_db()
    assert (cohort.venue, cohort.capacity) == ("Garden room", 12)
    assert list(cohort.facilitators.all()) == [clinician]
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Cohort),
        object_id=cohort.pk,
        action=LogEntry.Action.UPDATE,
    )
    assert {entry.actor for entry in entries} == {clinician}
    changes = {name: value for entry in entries for name, value in entry.changes.items()}
    assert changes["venue"] == ["Room 2", "Garden room"]
    assert changes["capacity"] == ["10", "12"]
    assert changes["facilitators"]["operation"] == "add"


def test_edit_page_is_only_for_clinicians_of_the_service(
    persona_client, cohort, other_clinician, manager, admin_user
):
    url = _url(cohort)
    assert persona_client(None).get(url).status_code == 302
    assert persona_client(other_clinician).get(url).status_code == 404
    assert persona_client(other_clinician).post(url, _form(cohort, venue="X")).status_code == 404
    for user in (manager, admin_user):
        assert persona_client(user).get(url).status_code == 403
        assert persona_client(user).post(url, _form(cohort, venue="X")).status_code == 403
    assert url.encode() not in persona_client(manager).get(cohort.get_absolute_url()).content
    cohort.refresh_from_db()
    assert cohort.venue == "Room 2"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"capacity": "2"}, "capacity", "3 people are enrolled, so the cohort needs at least 3"),
        ({"name": "Wednesday group"}, "name", "Your service already has a cohort with this name."),
        ({"facilitators": ["other"]}, "facilitators", "Select a valid choice."),
        ({}, None, "Nothing has changed, so nothing was saved."),
        ({"capacity": "0"}, "capacity", "greater than or equal to 1"),
    ],
)
def test_bad_edits_get_form_messages(
    persona_client, service, programme, clinician, other_clinician, cohort, changes, field, message
):
    make_cohort(service, programme, name="Wednesday group")
    enrol_many(cohort, 3)
    if changes.get("facilitators") == ["other"]:
        changes = {"facilitators": [str(other_clinician.pk)]}
    response = persona_client(clinician).post(_url(cohort), _form(cohort, **changes))
    assert response.status_code == 200
    errors = response.context["form"].errors.get(field or "__all__")
    assert errors and message in " ".join(errors)
    cohort.refresh_from_db()
    assert (cohort.name, cohort.capacity) == ("Monday group", 10)


def test_a_full_cohort_points_at_the_edit_page(persona_client, service, programme, clinician):
    cohort = make_cohort(service, programme, capacity=1)
    enrol_many(cohort, 1)
    response = persona_client(clinician).post(
        reverse("programmes:enrol", args=[cohort.pk]),
        {
            "participant": str(ParticipantFactory(service=service).pk),
            "enrolled_on": START.isoformat(),
        },
    )
    assert response.status_code == 200
    assert "This cohort is full" in response.content.decode()
    assert _url(cohort).encode() in response.content
