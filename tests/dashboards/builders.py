"""Dashboard test data written straight through the ORM, independent of other apps' services."""

import datetime
import itertools

from django.utils import timezone

from measures.models import Administration, Score, Timepoint
from programmes.models import Attendance, Cohort, Enrolment, GroupSession, Phase, Programme
from tests.factories import ParticipantFactory

START = datetime.date(2024, 1, 8)  # a Monday
_names = itertools.count(1)


def programme(key="cfgp-52"):
    return Programme.objects.get(key=key, is_current=True)


def make_cohort(service, *, key="cfgp-52", start=START, sessions=12, name=None):
    prog = programme(key)
    cohort = Cohort.objects.create(
        service=service,
        programme=prog,
        name=name or f"Group {next(_names)}",
        start_date=start,
        weekday=start.weekday(),
        start_time=datetime.time(10, 0),
        venue="Room 2",
    )
    phases = list(Phase.objects.filter(programme=prog).order_by("order"))
    GroupSession.objects.bulk_create(
        [
            GroupSession(
                cohort=cohort,
                phase=next(p for p in phases if p.start_week <= week <= p.end_week),
                number=week,
                week=week,
                planned_date=cohort.week_date(week),
                date=cohort.week_date(week),
                start_time=datetime.time(10, 0),
            )
            for week in range(1, sessions + 1)
        ]
    )
    return cohort


def enrol(cohort, *, status=Enrolment.Status.ACTIVE, ended_on=None, end_reason="", **person):
    participant = ParticipantFactory(service=cohort.service, **person)
    return Enrolment.objects.create(
        cohort=cohort,
        participant=participant,
        status=status,
        enrolled_on=cohort.start_date,
        ended_on=ended_on,
        end_reason=end_reason,
    )


def mark(cohort, enrolment, statuses):
    """Attendance for sessions 1, 2, ... in order; None skips a session."""
    sessions = list(GroupSession.objects.filter(cohort=cohort).order_by("number"))
    Attendance.objects.bulk_create(
        [
            Attendance(session=session, enrolment=enrolment, status=status)
            for session, status in zip(sessions, statuses, strict=False)
            if status is not None
        ]
    )


def score(enrolment, tp_key, code, values: dict, *, status=Administration.Status.COMPLETED):
    """One administration with its scores; a value of None is a scale that was not scored."""
    tp = Timepoint.objects.get(programme=enrolment.cohort.programme, key=tp_key)
    due = enrolment.cohort.start_date + datetime.timedelta(weeks=tp.week)
    admin = Administration.objects.create(
        enrolment=enrolment,
        timepoint=tp,
        instrument_code=code,
        due_on=due,
        opens_on=due + datetime.timedelta(days=tp.opens_days),
        closes_on=due + datetime.timedelta(days=tp.closes_days),
        status=status,
        completed_at=timezone.now() if status == Administration.Status.COMPLETED else None,
    )
    Score.objects.bulk_create(
        [
            Score(
                administration=admin,
                scale=scale,
                value=value,
                not_scored_reason="" if value is not None else "too many items missing",
                instrument_version="1",
            )
            for scale, value in values.items()
        ]
    )
    return admin


def populate(cohort, people: int, *, seed: int = 0):
    """A cohort of `people` with attendance, outcome scores, service use and occupation."""
    for i in range(people):
        e = enrol(cohort)
        mark(cohort, e, ["present", "late", "dna", "apologies", "left_early", "present"])
        for tp, shift in (("baseline", 0), ("week12", -2), ("week52", -5)):
            score(e, tp, "core10", {"total": 20 + (i + seed) % 7 + shift})
            score(
                e,
                tp,
                "fscrs",
                {
                    "inadequate_self": 25 + i % 5 + shift,
                    "hated_self": 10,
                    "reassured_self": 12 - shift,
                },
            )
        for tp in ("baseline", "week52", "week104"):
            score(
                e,
                tp,
                "service_use",
                {
                    "inpatient_bed_days": i % 3,
                    "admissions": i % 2,
                    "ae_attendances": 1,
                    "crisis_contacts": 2,
                    "home_treatment_days": 0,
                    "other_unplanned_contacts": 0,
                },
            )
            score(
                e,
                tp,
                "occupation",
                {
                    "employed": float(i % 2),
                    "education_or_training": 0.0,
                    "volunteering": 0.0,
                    "engaged": float(i % 2),
                },
            )
