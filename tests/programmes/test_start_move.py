"""Moving a cohort's start date: a date is a decision (DESIGN.md, "Time, ends and corrections").

A Monday cohort starting on 4 January 2027 meets on Easter Monday (29 March, session 13),
May Day (3 May, session 18), the Spring Bank Holiday (31 May, session 22), the Late Summer
Bank Holiday (30 August, session 35) and Christmas Day (observed) (27 December, session 52).
Moving its start a week later lands sessions 12, 17, 21, 34 and 51 on those days instead.
"""

import datetime

import pytest
import time_machine
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.urls import reverse

from measures.models import Administration
from programmes import calendar, events, services
from programmes.models import GroupSession
from tests.factories import CohortFactory
from tests.programmes.conftest import LONDON, enrol_many, make_cohort

pytestmark = pytest.mark.django_db

D = datetime.date
START = D(2027, 1, 4)
WEEK_LATER = D(2027, 1, 11)


@pytest.fixture
def before_it_starts():
    with time_machine.travel(datetime.datetime(2026, 12, 1, 9, 0, tzinfo=LONDON), tick=False):
        yield D(2026, 12, 1)


@pytest.fixture
def cohort_2027(service, programme, before_it_starts):
    return make_cohort(service, programme, name="Monday group 2027", start=START)


def _session(cohort, number):
    return cohort.sessions.get(number=number)


def _decided_around_bank_holidays(cohort):
    """Session 18 cancelled for May Day; session 13 moved off Easter Monday to the Tuesday."""
    services.session_cancel(session=_session(cohort, 18), reason="May Day")
    services.session_move(
        session=_session(cohort, 13),
        new_date=D(2027, 3, 30),
        reason="Easter Monday: moved to Tuesday",
    )


# Failure 2 of issue 11 ------------------------------------------------------------------


def test_moving_the_start_does_not_drag_bank_holiday_decisions_onto_ordinary_days(cohort_2027):
    _decided_around_bank_holidays(cohort_2027)

    with pytest.raises(ValidationError) as refused:
        services.cohort_start_move(cohort=cohort_2027, new_start_date=WEEK_LATER)

    message = " ".join(refused.value.messages)
    assert "13" in message and "18" in message
    cohort_2027.refresh_from_db()
    assert cohort_2027.start_date == START
    may_day = _session(cohort_2027, 18)
    assert (may_day.date, may_day.status) == (D(2027, 5, 3), GroupSession.Status.CANCELLED)
    assert _session(cohort_2027, 17).date == D(2027, 4, 26)


# The preview ----------------------------------------------------------------------------

LANDING_A_WEEK_LATER = {
    12: "Easter Monday",
    17: "May Day",
    21: "Spring Bank Holiday",
    34: "Late Summer Bank Holiday",
    51: "Christmas Day (observed)",
    52: "New Year's Day (observed)",
}


def _plans(preview):
    return {plan.number: plan for plan in preview.sessions}


def test_preview_shows_every_session_landing_on_or_leaving_a_bank_holiday(cohort_2027):
    before = list(cohort_2027.sessions.order_by("number").values_list("date", "status"))

    preview = calendar.cohort_start_move_preview(cohort=cohort_2027, new_start_date=WEEK_LATER)

    plans = _plans(preview)
    assert len(plans) == 52 and preview.errors == {}
    assert {n: p.bank_holiday_after for n, p in plans.items() if p.lands_on_bank_holiday} == (
        LANDING_A_WEEK_LATER
    )
    assert {n for n, p in plans.items() if p.leaves_bank_holiday} == {13, 18, 22, 35, 52}
    assert plans[17].outcome.date == D(2027, 5, 3)
    assert plans[17].choice_values == ["keep", "cancel"]
    # Meeting on a bank holiday is what laying out a cohort does too, unless the team has
    # already decided against that very day.
    assert {p.number: p.proposed for p in preview.with_choices} == dict.fromkeys(
        LANDING_A_WEEK_LATER, "keep"
    )
    assert preview.needing_decision == []
    assert not any(p.held for p in preview.sessions)
    # A read: nothing has moved.
    assert list(cohort_2027.sessions.order_by("number").values_list("date", "status")) == before
    cohort_2027.refresh_from_db()
    assert cohort_2027.start_date == START


def test_preview_asks_again_about_decisions_whose_bank_holiday_has_gone(cohort_2027):
    _decided_around_bank_holidays(cohort_2027)
    services.session_cancel(session=_session(cohort_2027, 5), reason="Facilitators on leave")

    preview = calendar.cohort_start_move_preview(cohort=cohort_2027, new_start_date=WEEK_LATER)

    plans = _plans(preview)
    assert {p.number for p in preview.needing_decision} == {13, 18}
    for number in (13, 18):
        assert plans[number].proposed is None and plans[number].outcome is None
        assert plans[number].choice_values == ["keep", "drop"]
        assert f"Session {number} needs a new decision" in " ".join(
            preview.errors[calendar.decision_field(plans[number].session)]
        )
    assert "May Day" in plans[18].note and "Monday 10 May 2027 is not a bank holiday" in (
        plans[18].note
    )
    assert "Easter Monday" in plans[13].note
    # The days the team decided against are proposed for cancelling whoever lands on them.
    assert (plans[17].proposed, plans[12].proposed) == ("cancel", "cancel")
    assert "Session 18 was cancelled for this day" in plans[17].note
    assert "Session 13 was moved off this day" in plans[12].note
    # A cancellation for a reason the new date does not touch is kept unless changed.
    assert (plans[5].proposed, plans[5].needs_decision) == ("keep", False)
    assert plans[5].outcome.date == D(2027, 2, 8)


# Applying it ----------------------------------------------------------------------------


def test_dropped_decisions_go_back_to_the_plan_and_chosen_cancellations_name_the_day(
    cohort_2027, clinician
):
    _decided_around_bank_holidays(cohort_2027)
    ids = {n: _session(cohort_2027, n).pk for n in (12, 13, 17, 18)}
    received = []

    def receiver(sender, cohort, previous_start_date, **kwargs):
        received.append((previous_start_date, cohort.start_date))

    events.cohort_rescheduled.connect(receiver)
    try:
        services.cohort_start_move(
            cohort=cohort_2027,
            new_start_date=WEEK_LATER,
            decisions={ids[18]: "drop", ids[13]: "drop", ids[17]: "cancel", ids[12]: "keep"},
            by=clinician,
        )
    finally:
        events.cohort_rescheduled.disconnect(receiver)

    assert received == [(START, WEEK_LATER)]
    rows = {
        s.number: (s.date, s.status, s.change_reason, s.bank_holiday)
        for s in cohort_2027.sessions.filter(number__in=[12, 13, 17, 18])
    }
    assert rows == {
        12: (D(2027, 3, 29), "scheduled", "", "Easter Monday"),
        13: (D(2027, 4, 5), "scheduled", "", ""),
        17: (D(2027, 5, 3), "cancelled", "Bank holiday: May Day", "May Day"),
        18: (D(2027, 5, 10), "scheduled", "", ""),
    }
    assert _session(cohort_2027, 13).start_time == datetime.time(10, 0)
    entry = LogEntry.objects.get_for_object(_session(cohort_2027, 17)).order_by("-pk").first()
    assert entry.actor == clinician
    assert entry.changes["status"] == ["scheduled", "cancelled"]
    assert entry.changes["change_reason"] == ["", "Bank holiday: May Day"]
    assert entry.changes["date"] == ["2027-04-26", "2027-05-03"]


def test_kept_decisions_keep_their_place_relative_to_the_plan(cohort_2027):
    _decided_around_bank_holidays(cohort_2027)
    ids = {n: _session(cohort_2027, n).pk for n in (13, 18)}

    services.cohort_start_move(
        cohort=cohort_2027,
        new_start_date=WEEK_LATER,
        decisions={str(ids[18]): "keep", str(ids[13]): "keep"},
    )

    easter = _session(cohort_2027, 13)
    assert (easter.planned_date, easter.date, easter.status) == (
        D(2027, 4, 5),
        D(2027, 4, 6),
        GroupSession.Status.MOVED,
    )
    assert easter.change_reason == "Easter Monday: moved to Tuesday"
    may_day = _session(cohort_2027, 18)
    assert (may_day.date, may_day.status, may_day.change_reason) == (
        D(2027, 5, 10),
        GroupSession.Status.CANCELLED,
        "May Day",
    )
    entry = LogEntry.objects.get_for_object(may_day).order_by("-pk").first()
    assert entry.changes["change_reason"] == ["May Day", "May Day"]


def test_a_move_needing_no_new_decision_applies_the_proposals(cohort_2027):
    services.session_cancel(session=_session(cohort_2027, 5), reason="Facilitators on leave")

    services.cohort_start_move(cohort=cohort_2027, new_start_date=WEEK_LATER)

    cohort_2027.refresh_from_db()
    assert (cohort_2027.start_date, cohort_2027.weekday) == (WEEK_LATER, 0)
    leave = _session(cohort_2027, 5)
    assert (leave.date, leave.status) == (D(2027, 2, 8), GroupSession.Status.CANCELLED)
    may_day = _session(cohort_2027, 17)
    assert (may_day.date, may_day.status, may_day.bank_holiday) == (
        D(2027, 5, 3),
        GroupSession.Status.SCHEDULED,
        "May Day",
    )
    assert _session(cohort_2027, 18).bank_holiday == ""


def test_a_start_move_leaves_the_questionnaires_of_someone_who_left_where_they_were(
    cohort_2027, before_it_starts
):
    # Cancelled when the person was discharged, they are a record of what was due then and
    # never open again: only the questionnaires still to come move with the start.
    stays, leaves = enrol_many(cohort_2027, 2, enrolled_on=before_it_starts)
    services.enrolment_end(
        enrolment=leaves, status="discharged", ended_on=before_it_starts, reason="Admitted"
    )

    services.cohort_start_move(cohort=cohort_2027, new_start_date=WEEK_LATER)

    def baseline(enrolment):
        return set(
            Administration.objects.filter(
                enrolment=enrolment, timepoint__key="baseline"
            ).values_list("status", "opens_on")
        )

    assert baseline(leaves) == {("cancelled", START - datetime.timedelta(days=21))}
    assert baseline(stays) == {("scheduled", WEEK_LATER - datetime.timedelta(days=21))}


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        (None, "Session 18 needs a new decision"),
        ("cancel", "is not one of its choices"),
        ("banana", "is not one of its choices"),
    ],
)
def test_a_missing_or_impossible_decision_refuses_the_whole_move(cohort_2027, choice, message):
    _decided_around_bank_holidays(cohort_2027)
    thirteen, eighteen = _session(cohort_2027, 13), _session(cohort_2027, 18)
    decisions = {thirteen.pk: "drop"} | ({eighteen.pk: choice} if choice else {})

    with pytest.raises(ValidationError) as refused:
        services.cohort_start_move(
            cohort=cohort_2027, new_start_date=WEEK_LATER, decisions=decisions
        )

    assert list(refused.value.message_dict) == [calendar.decision_field(eighteen)]
    assert message in refused.value.message_dict[calendar.decision_field(eighteen)][0]
    thirteen.refresh_from_db()
    assert thirteen.date == D(2027, 3, 30)
    cohort_2027.refresh_from_db()
    assert cohort_2027.start_date == START


def test_choices_that_put_two_sessions_on_one_day_are_refused(cohort_2027):
    # Session 19 moved onto cancelled session 20's day; bringing 20 back would double-book.
    twenty = services.session_cancel(session=_session(cohort_2027, 20), reason="Room closed")
    services.session_move(session=_session(cohort_2027, 19), new_date=twenty.date, reason="Room")

    preview = calendar.cohort_start_move_preview(
        cohort=cohort_2027, new_start_date=WEEK_LATER, decisions={twenty.pk: "drop"}
    )
    assert preview.errors == {
        "new_start_date": [
            "This would put sessions 19 and 20 both on Monday 24 May 2027. Choose another "
            "date, or choose differently for one of them."
        ]
    }
    with pytest.raises(ValidationError):
        services.cohort_start_move(
            cohort=cohort_2027, new_start_date=WEEK_LATER, decisions={twenty.pk: "drop"}
        )
    # Dropping the move instead puts each back on its own day.
    nineteen = _session(cohort_2027, 19)
    services.cohort_start_move(
        cohort=cohort_2027,
        new_start_date=WEEK_LATER,
        decisions={twenty.pk: "drop", nineteen.pk: "drop"},
    )
    assert dict(cohort_2027.sessions.filter(number__in=[19, 20]).values_list("number", "date")) == {
        19: D(2027, 5, 17),
        20: D(2027, 5, 24),
    }


def test_a_dropped_move_can_take_the_day_its_neighbour_is_leaving(cohort_2027):
    # Session 19 moved a fortnight on, onto cancelled session 21's Monday. A week later with
    # the move dropped, 19 takes 20's present day and 20 takes 19's: no order of one-row
    # updates gets there without two sessions on one day on the way.
    twenty_one = services.session_cancel(session=_session(cohort_2027, 21), reason="Room closed")
    nineteen = services.session_move(
        session=_session(cohort_2027, 19), new_date=twenty_one.date, reason="Room swap"
    )

    services.cohort_start_move(
        cohort=cohort_2027,
        new_start_date=WEEK_LATER,
        decisions={nineteen.pk: "drop", twenty_one.pk: "keep"},
    )

    rows = cohort_2027.sessions.filter(number__in=[19, 20, 21]).values_list(
        "number", "date", "status"
    )
    assert sorted(rows) == [
        (19, D(2027, 5, 17), "scheduled"),
        (20, D(2027, 5, 24), "scheduled"),
        (21, D(2027, 5, 31), "cancelled"),
    ]


def test_same_date_and_far_away_dates_are_refused(cohort_2027):
    for day, message in [
        (START, "already starts on this date"),
        (D(2040, 1, 2), "within five years of today"),
    ]:
        with pytest.raises(ValidationError) as refused:
            services.cohort_start_move(cohort=cohort_2027, new_start_date=day)
        assert message in refused.value.message_dict["new_start_date"][0]


# Held sessions --------------------------------------------------------------------------


@pytest.fixture
def on_session_5(cohort_2027):
    """Monday 1 February 2027, the day of session 5, after its register was taken."""
    with time_machine.travel(datetime.datetime(2027, 2, 1, 18, 0, tzinfo=LONDON), tick=False):
        yield D(2027, 2, 1)


def _take_register(session, by):
    services.attendance_record(session=session, statuses={}, group_note="", by=by)


def test_held_and_past_sessions_never_move(cohort_2027, clinician, on_session_5):
    services.session_cancel(session=_session(cohort_2027, 3), reason="Snow")
    before = dict(cohort_2027.sessions.values_list("number", "date"))
    _take_register(_session(cohort_2027, 1), clinician)
    _take_register(_session(cohort_2027, 5), clinician)

    preview = calendar.cohort_start_move_preview(cohort=cohort_2027, new_start_date=WEEK_LATER)
    plans = _plans(preview)
    # 1 and 5 were held with a register, 2 and 4 were held without one; 3 was cancelled.
    assert [n for n, p in plans.items() if p.held] == [1, 2, 4, 5]
    assert [n for n, p in plans.items() if not p.moves] == [1, 2, 3, 4, 5]
    services.cohort_start_move(cohort=cohort_2027, new_start_date=WEEK_LATER, decisions={})

    after = dict(cohort_2027.sessions.values_list("number", "date"))
    assert all(after[n] == before[n] for n in range(1, 6))
    assert all(after[n] == before[n] + datetime.timedelta(weeks=1) for n in range(6, 53))
    assert _session(cohort_2027, 3).status == GroupSession.Status.CANCELLED


def test_todays_session_moves_until_its_register_is_taken(cohort_2027, clinician, on_session_5):
    plans = _plans(
        calendar.cohort_start_move_preview(cohort=cohort_2027, new_start_date=WEEK_LATER)
    )
    assert (plans[5].held, plans[5].moves) == (False, True)

    _take_register(_session(cohort_2027, 5), clinician)
    with pytest.raises(ValidationError) as refused:
        services.cohort_start_move(cohort=cohort_2027, new_start_date=D(2026, 12, 28))
    assert refused.value.message_dict["new_start_date"] == [
        "This would put session 6 on Monday 1 February 2027, the date of session 5, which "
        "has already been held. Choose another date."
    ]


def test_session_is_held_only_once_past_or_registered_and_never_when_cancelled(
    cohort_2027, clinician, on_session_5
):
    today = on_session_5
    five, six = _session(cohort_2027, 5), _session(cohort_2027, 6)
    assert calendar.session_is_held(_session(cohort_2027, 4), today)
    assert not calendar.session_is_held(five, today)
    assert not calendar.session_is_held(six, today)
    _take_register(five, clinician)
    five.refresh_from_db()
    assert calendar.session_is_held(five, today)
    cancelled = services.session_cancel(session=six, reason="Snow")
    assert not calendar.session_is_held(cancelled, today + datetime.timedelta(weeks=1))


# The pages ------------------------------------------------------------------------------


def _url(cohort):
    return reverse("programmes:cohort_move_start", args=[cohort.pk])


def _dates_and_statuses(cohort):
    return list(cohort.sessions.order_by("number").values_list("date", "status", "change_reason"))


def test_clinician_previews_decides_and_confirms_a_start_move(
    persona_client, clinician, cohort_2027
):
    _decided_around_bank_holidays(cohort_2027)
    ids = {n: _session(cohort_2027, n).pk for n in (12, 13, 17, 18)}
    before = _dates_and_statuses(cohort_2027)
    client = persona_client(clinician)

    preview = client.get(_url(cohort_2027), {"new_start_date": "2027-01-11"})
    assert preview.status_code == 200
    assert preview.templates[0].name == "programmes/cohort_move_start_preview.html"
    page = preview.content.decode()
    assert "Lands on May Day" in page and "Leaves May Day" in page
    assert "Mon 3 May 2027, cancelled" in page
    assert "2 need a new decision" in page
    form = preview.context["form"]
    # Proposals preselected; the two that need a new decision left for the clinician.
    assert form[f"decision_{ids[17]}"].initial == "cancel"
    assert form[f"decision_{ids[18]}"].initial is None
    assert page.count('type="radio"') == 2 * len(preview.context["preview"].with_choices)
    # A POST of the date alone is also only a preview.
    assert client.post(_url(cohort_2027), {"new_start_date": "2027-01-11"}).status_code == 200
    assert _dates_and_statuses(cohort_2027) == before

    response = client.post(
        _url(cohort_2027),
        # What the browser sends: the preselected proposals, and the clinician's choices.
        {name: field.initial for name, field in form.fields.items() if field.initial}
        | {
            "new_start_date": "2027-01-11",
            "confirm": "yes",
            f"decision_{ids[12]}": "cancel",
            f"decision_{ids[13]}": "keep",
            f"decision_{ids[17]}": "cancel",
            f"decision_{ids[18]}": "drop",
        },
        follow=True,
    )
    assert response.redirect_chain == [(cohort_2027.get_absolute_url(), 302)], response.context[
        "form"
    ].errors
    message = str(next(iter(response.context["messages"])))
    assert message.startswith("The first session is now on Monday 11 January 2027")
    assert "session 17 cancelled (Monday 3 May 2027)" in message
    assert "session 18 back on its planned day, Monday 10 May 2027" in message
    assert "Session 12 cancelled" in message
    assert "session 13 still moved, to Tuesday 6 April 2027" in message
    content = response.content.decode()
    assert "Cancelled: Bank holiday: May Day" in content
    assert "Cancelled: Bank holiday: Easter Monday" in content
    assert _session(cohort_2027, 18).status == GroupSession.Status.SCHEDULED


@pytest.mark.parametrize(
    ("number", "choice", "messages"),
    [
        (13, "drop", ["Choose what happens to session 18."]),
        (
            18,
            "cancel",
            [
                "Select a valid choice. cancel is not one of the available choices.",
                "Choose what happens to session 13.",
            ],
        ),
    ],
)
def test_confirming_without_a_needed_decision_or_with_one_not_offered_changes_nothing(
    persona_client, clinician, cohort_2027, number, choice, messages
):
    _decided_around_bank_holidays(cohort_2027)
    before = _dates_and_statuses(cohort_2027)
    session = _session(cohort_2027, number)

    response = persona_client(clinician).post(
        _url(cohort_2027),
        {"new_start_date": "2027-01-11", "confirm": "yes", f"decision_{session.pk}": choice},
    )

    assert response.status_code == 200
    content = response.content.decode()
    assert all(message in content for message in messages)
    assert _dates_and_statuses(cohort_2027) == before


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        ({"new_start_date": "2027-02-30"}, "Enter a valid date."),
        ({"new_start_date": "2027-01-04"}, "The cohort already starts on this date."),
        ({"new_start_date": "9999-12-31"}, "within five years of today"),
    ],
)
def test_bad_dates_are_form_messages(persona_client, clinician, cohort_2027, sent, message):
    _decided_around_bank_holidays(cohort_2027)
    before = _dates_and_statuses(cohort_2027)
    client = persona_client(clinician)

    for response in (client.get(_url(cohort_2027), sent), client.post(_url(cohort_2027), sent)):
        assert response.status_code == 200
        assert response.templates[0].name == "programmes/cohort_move_start.html"
        assert message in response.content.decode()
    assert _dates_and_statuses(cohort_2027) == before


def test_a_clash_with_a_held_session_is_shown_on_the_calendar(
    persona_client, clinician, cohort_2027, on_session_5
):
    _take_register(_session(cohort_2027, 5), clinician)

    response = persona_client(clinician).get(_url(cohort_2027), {"new_start_date": "2026-12-28"})

    assert response.status_code == 200
    assert (
        "This would put session 6 on Monday 1 February 2027, the date of session 5, which has "
        "already been held." in response.content.decode()
    )


@pytest.mark.parametrize(
    ("persona", "status"), [("other_clinician", 404), ("manager", 403), ("admin_user", 403)]
)
def test_only_the_services_clinicians_may_preview_or_move_the_start(
    request, persona_client, cohort_2027, persona, status
):
    client = persona_client(request.getfixturevalue(persona))
    before = _dates_and_statuses(cohort_2027)
    assert client.get(_url(cohort_2027), {"new_start_date": "2027-01-11"}).status_code == status
    sent = {"new_start_date": "2027-01-11", "confirm": "yes"}
    assert client.post(_url(cohort_2027), sent).status_code == status
    assert _dates_and_statuses(cohort_2027) == before


def test_a_cohort_with_no_group_sessions_moves_through_the_same_pages(
    persona_client, clinician, service, before_it_starts
):
    cohort = CohortFactory(service=service, start_date=START)
    client = persona_client(clinician)

    preview = client.get(_url(cohort), {"new_start_date": "2027-01-11"})
    assert preview.templates[0].name == "programmes/cohort_move_start_preview.html"
    response = client.post(_url(cohort), {"new_start_date": "2027-01-11", "confirm": "yes"})

    assert response.status_code == 302
    cohort.refresh_from_db()
    assert cohort.start_date == WEEK_LATER
