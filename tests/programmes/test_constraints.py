"""Each named constraint of the programmes models, hit directly in the database."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from programmes.models import (
    Attendance,
    Cohort,
    CurriculumWeek,
    Enrolment,
    GroupSession,
    Phase,
    Programme,
)
from tests.factories import CohortFactory, EnrolmentFactory

pytestmark = pytest.mark.django_db


def _raises(name, make):
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        make()
    # SQLite names the constraint for checks only; PostgreSQL names both kinds.
    message = str(exc.value)
    if "CHECK" in message or "violates" in message:
        assert name in message


def _programme(**kw):
    return Programme.objects.create(key=kw.pop("key", "custom"), name="Custom", **kw)


def test_programme_version_unique(db):
    _programme(version=1, is_current=False)
    _raises("programme_version_unique", lambda: _programme(version=1, is_current=False))


def test_programme_one_current_version(db):
    _programme(version=1)
    _raises("programme_one_current_version", lambda: _programme(version=2))


def _phase(programme, **kw):
    values = dict(order=1, name="P", kind="group", start_week=1, weeks=4, group_meets=True)
    values.update(kw)
    return Phase.objects.create(programme=programme, **values)


def test_phase_order_unique(db):
    programme = _programme()
    _phase(programme)
    _raises("phase_order_unique", lambda: _phase(programme))


@pytest.mark.parametrize("field", ["weeks", "start_week"])
def test_phase_weeks_positive(db, field):
    programme = _programme()
    _raises("phase_weeks_positive", lambda: _phase(programme, **{field: 0}))


def test_curriculum_week_unique(db):
    programme = _programme()
    CurriculumWeek.objects.create(programme=programme, week=1, theme="a")
    _raises(
        "curriculum_week_unique",
        lambda: CurriculumWeek.objects.create(programme=programme, week=1, theme="b"),
    )


def test_cohort_name_unique_in_service(service):
    CohortFactory(service=service, name="Tuesday")
    _raises("cohort_name_unique_in_service", lambda: CohortFactory(service=service, name="Tuesday"))


def test_cohort_capacity_positive(service):
    _raises("cohort_capacity_positive", lambda: CohortFactory(service=service, capacity=0))


def test_cohort_weekday_valid(service):
    _raises("cohort_weekday_valid", lambda: CohortFactory(service=service, weekday=7))


def _session(cohort, number, date, **kw):
    return GroupSession.objects.create(
        cohort=cohort,
        phase=cohort.programme.phases.first(),
        number=number,
        week=number,
        planned_date=date,
        date=date,
        start_time=datetime.time(10),
        **kw,
    )


def test_session_number_unique(service):
    cohort = CohortFactory(service=service)
    _session(cohort, 1, datetime.date(2026, 1, 6))
    _raises("session_number_unique", lambda: _session(cohort, 1, datetime.date(2026, 1, 13)))


def test_session_one_per_day_per_cohort(service):
    cohort = CohortFactory(service=service)
    day = datetime.date(2026, 1, 6)
    _session(cohort, 1, day)
    _raises("session_one_per_day_per_cohort", lambda: _session(cohort, 2, day))
    # A cancelled session leaves its day free.
    _session(cohort, 3, day, status="cancelled", change_reason="Snow")


def test_session_change_has_reason(service):
    cohort = CohortFactory(service=service)
    _raises(
        "session_change_has_reason",
        lambda: _session(cohort, 1, datetime.date(2026, 1, 6), status="moved"),
    )


def test_session_make_up_has_reason(service):
    cohort = CohortFactory(service=service)
    _raises(
        "session_make_up_has_reason",
        lambda: _session(cohort, 1, datetime.date(2026, 1, 6), is_make_up=True),
    )


def test_enrolment_in_error_has_reason(service):
    _raises(
        "enrolment_in_error_has_reason",
        lambda: EnrolmentFactory(cohort=CohortFactory(service=service), status="entered_in_error"),
    )


def test_enrolment_one_open_per_cohort(service):
    enrolment = EnrolmentFactory(cohort=CohortFactory(service=service))
    _raises(
        "enrolment_one_open_per_cohort",
        lambda: EnrolmentFactory(cohort=enrolment.cohort, participant=enrolment.participant),
    )


def test_enrolment_ended_has_date(service):
    _raises(
        "enrolment_ended_has_date",
        lambda: EnrolmentFactory(cohort=CohortFactory(service=service), status="withdrawn"),
    )


def test_enrolment_ends_after_start(service):
    cohort = CohortFactory(service=service)
    _raises(
        "enrolment_ends_after_start",
        lambda: EnrolmentFactory(
            cohort=cohort,
            status="withdrawn",
            ended_on=cohort.start_date - datetime.timedelta(days=1),
        ),
    )


def test_attendance_one_per_session(service):
    enrolment = EnrolmentFactory(cohort=CohortFactory(service=service))
    session = _session(enrolment.cohort, 1, datetime.date(2026, 1, 6))
    Attendance.objects.create(session=session, enrolment=enrolment, status="present")
    _raises(
        "attendance_one_per_session",
        lambda: Attendance.objects.create(session=session, enrolment=enrolment, status="dna"),
    )


def test_attendance_status_known(service):
    enrolment = EnrolmentFactory(cohort=CohortFactory(service=service))
    session = _session(enrolment.cohort, 1, datetime.date(2026, 1, 6))
    _raises(
        "attendance_status_known",
        lambda: Attendance.objects.create(session=session, enrolment=enrolment, status="asleep"),
    )


def test_models_still_declare_every_constraint_tested_here():
    declared = {
        c.name
        for model in (Programme, Phase, CurriculumWeek, Cohort, GroupSession, Enrolment, Attendance)
        for c in model._meta.constraints
    }
    tested = {
        name.removeprefix("test_")
        for name in globals()
        if name.startswith("test_")
        and name != "test_models_still_declare_every_constraint_tested_here"
    }
    assert declared == tested
