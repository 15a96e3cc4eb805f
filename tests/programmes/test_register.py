import datetime

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError

from programmes import services
from programmes.models import Attendance
from programmes.selectors import cohort_overview, register_rows
from tests.programmes.conftest import START, TODAY, enrol_many

pytestmark = pytest.mark.django_db


def _session(cohort, number):
    return cohort.sessions.get(number=number)


def test_one_submit_records_everyone_and_the_group_note(cohort, clinician, frozen_today):
    enrolments = enrol_many(cohort, 3)
    session = _session(cohort, 1)
    statuses = dict(zip([e.pk for e in enrolments], ["present", "late", "dna"], strict=True))
    services.attendance_record(
        session=session, statuses=statuses, group_note="Safeness and agreements", by=clinician
    )
    assert dict(session.attendance.values_list("enrolment_id", "status")) == statuses
    session.refresh_from_db()
    assert session.group_note == "Safeness and agreements"
    assert session.register_taken_by == clinician
    assert session.register_taken_at is not None
    attendance_type = ContentType.objects.get_for_model(Attendance)
    assert (
        LogEntry.objects.filter(
            content_type=attendance_type, action=LogEntry.Action.CREATE, actor=None
        ).count()
        == 3
    )


def test_submitting_again_updates_rather_than_duplicates(cohort, clinician, frozen_today):
    enrolments = enrol_many(cohort, 3)
    session = _session(cohort, 1)
    ids = [e.pk for e in enrolments]
    services.attendance_record(
        session=session, statuses=dict.fromkeys(ids, "present"), group_note="", by=clinician
    )
    services.attendance_record(
        session=session,
        statuses={ids[0]: "present", ids[1]: "apologies", ids[2]: "left_early"},
        group_note="Second go",
        by=clinician,
    )
    assert Attendance.objects.count() == 3
    assert session.attendance.get(enrolment_id=ids[1]).status == "apologies"
    assert (
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Attendance),
            action=LogEntry.Action.UPDATE,
        ).count()
        == 2
    )


def test_a_status_for_a_withdrawn_participant_is_refused_and_nothing_is_saved(
    cohort, clinician, frozen_today
):
    stays, leaves = enrol_many(cohort, 2)
    services.enrolment_end(
        enrolment=leaves, status="withdrawn", ended_on=START, reason="Chose to leave"
    )
    session = _session(cohort, 2)
    with pytest.raises(ValidationError) as exc:
        services.attendance_record(
            session=session,
            statuses={stays.pk: "present", leaves.pk: "present"},
            group_note="",
            by=clinician,
        )
    assert "not enrolled at this session" in exc.value.messages[0]
    assert not Attendance.objects.exists()


def test_a_participant_withdrawn_later_is_still_on_an_earlier_register(
    cohort, clinician, frozen_today
):
    stays, leaves = enrol_many(cohort, 2)
    services.enrolment_end(
        enrolment=leaves,
        status="withdrawn",
        ended_on=datetime.date(2026, 1, 20),
        reason="Chose to leave",
    )
    # Sessions 3 and 4 are on 19 and 26 January.
    assert {e.pk for e, _ in register_rows(_session(cohort, 3))} == {stays.pk, leaves.pk}
    assert {e.pk for e, _ in register_rows(_session(cohort, 4))} == {stays.pk}


def test_someone_who_left_on_a_sessions_day_is_on_that_sessions_register(
    cohort, clinician, frozen_today
):
    # An enrolment covers the sessions up to and including the day the person left
    # (models.counts_for_enrolment), even when the register is taken after the leaving was
    # recorded: withdrawn today, the register of today's session 9 still lists them.
    stays, leaves = enrol_many(cohort, 2)
    services.enrolment_end(
        enrolment=leaves, status="withdrawn", ended_on=TODAY, reason="Chose to leave"
    )
    session = _session(cohort, 9)
    assert session.date == TODAY
    assert {e.pk for e, _ in register_rows(session)} == {stays.pk, leaves.pk}
    with pytest.raises(ValidationError, match="Choose a status for everyone"):
        services.attendance_record(
            session=session, statuses={stays.pk: "present"}, group_note="", by=clinician
        )

    services.attendance_record(
        session=session,
        statuses={stays.pk: "present", leaves.pk: "present"},
        group_note="",
        by=clinician,
    )
    assert session.attendance.count() == 2


def test_everyone_on_the_register_needs_a_status(cohort, clinician, frozen_today):
    first, _second = enrol_many(cohort, 2)
    with pytest.raises(ValidationError):
        services.attendance_record(
            session=_session(cohort, 1),
            statuses={first.pk: "present"},
            group_note="",
            by=clinician,
        )


def test_a_future_or_cancelled_session_has_no_register(cohort, clinician, frozen_today):
    (enrolment,) = enrol_many(cohort, 1)
    future = cohort.sessions.filter(date__gt=frozen_today).first()
    with pytest.raises(ValidationError):
        services.attendance_record(
            session=future, statuses={enrolment.pk: "present"}, group_note="", by=clinician
        )
    cancelled = _session(cohort, 2)
    services.session_cancel(session=cancelled, reason="Snow")
    with pytest.raises(ValidationError):
        services.attendance_record(
            session=cancelled, statuses={enrolment.pk: "present"}, group_note="", by=clinician
        )


def _take(cohort, clinician, number, statuses):
    services.attendance_record(
        session=_session(cohort, number), statuses=statuses, group_note="", by=clinician
    )


def test_three_consecutive_did_not_attends_are_flagged(cohort, clinician, frozen_today):
    steady, drifting, excused = enrol_many(cohort, 3)
    pattern = {
        steady.pk: ["present", "dna", "dna", "present"],
        drifting.pk: ["present", "dna", "dna", "dna"],
        excused.pk: ["dna", "dna", "apologies", "dna"],
    }
    for number in range(1, 5):
        _take(cohort, clinician, number, {pk: marks[number - 1] for pk, marks in pattern.items()})
    rows = {row.enrolment.pk: row for row in cohort_overview(cohort).rows}
    assert rows[drifting.pk].flagged
    assert not rows[steady.pk].flagged
    assert not rows[excused.pk].flagged


def test_a_cancelled_session_does_not_break_a_run_of_did_not_attends(
    cohort, clinician, frozen_today
):
    (enrolment,) = enrol_many(cohort, 1)
    _take(cohort, clinician, 1, {enrolment.pk: "dna"})
    _take(cohort, clinician, 2, {enrolment.pk: "dna"})
    services.session_cancel(session=_session(cohort, 3), reason="Snow")
    _take(cohort, clinician, 4, {enrolment.pk: "dna"})
    (row,) = cohort_overview(cohort).rows
    assert row.flagged and row.dna_run == 3


def test_attendance_rates_per_participant_and_per_phase(cohort, clinician, frozen_today):
    first, second = enrol_many(cohort, 2)
    _take(cohort, clinician, 1, {first.pk: "present", second.pk: "dna"})
    _take(cohort, clinician, 2, {first.pk: "late", second.pk: "apologies"})
    _take(cohort, clinician, 3, {first.pk: "left_early", second.pk: "present"})
    _take(cohort, clinician, 4, {first.pk: "dna", second.pk: "present"})
    overview = cohort_overview(cohort)
    rows = {row.enrolment.pk: row for row in overview.rows}
    assert (rows[first.pk].overall.attended, rows[first.pk].overall.recorded) == (3, 4)
    assert rows[first.pk].overall.percent == 75
    assert rows[second.pk].overall.percent == 50
    preparation = overview.phases[0]
    assert (preparation.rate.attended, preparation.rate.recorded) == (5, 8)
    assert overview.phases[1].rate.recorded == 0
    assert [s.attended_count for s in preparation.sessions[:4]] == [1, 1, 2, 1]
