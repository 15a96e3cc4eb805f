"""Enrolments complete by themselves once the cohort's last group session is past."""

import datetime
import io
import threading

import pytest
from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, transaction

from measures.models import Administration
from programmes import events, services, tasks
from programmes.models import Enrolment
from tests.factories import ParticipantFactory
from tests.programmes.conftest import START, at, enrol_many, make_cohort

pytestmark = pytest.mark.django_db

LAST = START + datetime.timedelta(weeks=51)  # session 52, Monday 28 December 2026
DAY = datetime.timedelta(days=1)


def _statuses(cohort) -> list[tuple[str, datetime.date | None]]:
    return list(cohort.enrolments.order_by("pk").values_list("status", "ended_on"))


def _enrol(cohort, on=START):
    participant = ParticipantFactory(service=cohort.service)
    return services.enrolment_create(cohort=cohort, participant=participant, enrolled_on=on)


def test_two_months_after_the_last_session_nobody_is_still_active(cohort):
    """Issue 11, failure 3: a cohort whose 52 weeks ended two months ago had every
    enrolment still "active"; the daily run completes them, dated the last session."""
    stays = enrol_many(cohort, 3)
    left = _enrol(cohort)
    services.enrolment_end(
        enrolment=left,
        status="withdrawn",
        ended_on=START + datetime.timedelta(weeks=8),
        reason="Moved away",
    )
    out = io.StringIO()
    with at(LAST + datetime.timedelta(days=61), hour=2):
        call_command("complete_finished_enrolments", stdout=out)
    assert _statuses(cohort) == [("completed", LAST)] * len(stays) + [
        ("withdrawn", START + datetime.timedelta(weeks=8))
    ]
    assert out.getvalue().strip() == "Enrolments completed: 3."


def test_walking_through_the_last_week_completion_comes_the_day_after_the_last_session(
    cohort, clinician
):
    people = enrol_many(cohort, 2)
    last = cohort.sessions.get(number=52)
    day = LAST - datetime.timedelta(days=7)
    while day <= LAST + datetime.timedelta(days=3):
        with at(day, hour=2):
            services.enrolments_complete_finished(today=day)
            expected = "completed" if day > LAST else "active"
            assert {s for s, _ in _statuses(cohort)} == {expected}, day
        day += DAY
    # The register of the last session can still be taken (or corrected) afterwards: the
    # people who completed on its day are on it.
    with at(LAST + 3 * DAY, hour=10):
        services.attendance_record(
            session=last, statuses={e.pk: "present" for e in people}, group_note="", by=clinician
        )
    assert last.attendance.count() == 2


def test_a_cancelled_or_moved_last_session_dates_the_completion(service, programme):
    cancelled = make_cohort(service, programme, name="Cancelled ending")
    moved = make_cohort(service, programme, name="Moved ending")
    a, b = _enrol(cancelled), _enrol(moved)
    services.session_cancel(session=cancelled.sessions.get(number=52), reason="Christmas")
    new_date = LAST + 2 * DAY
    services.session_move(session=moved.sessions.get(number=52), new_date=new_date, reason="Room")

    assert services.enrolments_complete_finished(today=LAST + DAY) == 1
    a.refresh_from_db()
    assert (a.status, a.ended_on) == ("completed", LAST - datetime.timedelta(weeks=1))
    assert services.enrolments_complete_finished(today=new_date) == 0
    assert services.enrolments_complete_finished(today=new_date + DAY) == 1
    b.refresh_from_db()
    assert (b.status, b.ended_on) == ("completed", new_date)


def test_someone_enrolled_after_the_last_session_ends_on_their_enrolment_date(cohort):
    late = _enrol(cohort, on=LAST + 2 * DAY)
    services.enrolments_complete_finished(today=LAST + 5 * DAY)
    late.refresh_from_db()
    assert (late.status, late.ended_on) == ("completed", LAST + 2 * DAY)


def test_referred_and_ended_enrolments_and_running_cohorts_are_left_alone(service, programme):
    finished = make_cohort(service, programme, name="Finished")
    running = make_cohort(
        service, programme, name="Running", start=START + datetime.timedelta(weeks=30)
    )
    referred = _enrol(finished)
    Enrolment.objects.filter(pk=referred.pk).update(status=Enrolment.Status.REFERRED)
    discharged = _enrol(finished)
    services.enrolment_end(
        enrolment=discharged, status="discharged", ended_on=START + DAY, reason="Admitted"
    )
    still_going = _enrol(running, on=START + datetime.timedelta(weeks=30))
    assert services.enrolments_complete_finished(today=LAST + DAY) == 0
    assert _statuses(finished) == [("referred", None), ("discharged", START + DAY)]
    still_going.refresh_from_db()
    assert still_going.status == "active"


def test_completion_is_audited_announced_and_keeps_the_follow_up_questionnaires(cohort):
    people = enrol_many(cohort, 2)
    ended = []

    def receiver(sender, enrolment, **kwargs):
        ended.append((enrolment.pk, enrolment.status, enrolment.ended_on))

    events.enrolment_ended.connect(receiver, dispatch_uid="test-completion")
    try:
        services.enrolments_complete_finished(today=LAST + DAY)
    finally:
        events.enrolment_ended.disconnect(dispatch_uid="test-completion")

    assert sorted(ended) == [(e.pk, "completed", LAST) for e in people]
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Enrolment),
        object_pk__in=[str(e.pk) for e in people],
        action=LogEntry.Action.UPDATE,
    )
    assert [e.changes for e in entries] == [
        {"status": ["active", "completed"], "ended_on": ["None", str(LAST)]}
    ] * 2
    # The 12-month follow-up still goes to people who completed.
    follow_up = Administration.objects.filter(enrolment__in=people, timepoint__key="week104")
    assert follow_up.exists()
    assert not follow_up.filter(status=Administration.Status.CANCELLED).exists()


def test_a_second_run_changes_nothing(cohort):
    enrol_many(cohort, 2)
    assert services.enrolments_complete_finished(today=LAST + DAY) == 2
    logged = LogEntry.objects.count()
    assert services.enrolments_complete_finished(today=LAST + 2 * DAY) == 0
    assert LogEntry.objects.count() == logged


@pytest.mark.parametrize("people", [2, 8])
def test_completion_runs_a_fixed_number_of_queries(
    service, programme, people, django_assert_num_queries
):
    for n in range(2):
        enrol_many(make_cohort(service, programme, name=f"Group {n}"), people // 2)
    # The claim, the update, the audit rows and the dashboards' figures marked stale, inside
    # the service's savepoint (2).
    with django_assert_num_queries(6):
        assert services.enrolments_complete_finished(today=LAST + DAY) == people


def test_the_daily_task_completes_as_of_today_and_is_scheduled(cohort):
    enrol_many(cohort, 1)
    with at(LAST, hour=2):
        tasks.complete_finished_enrolments.apply()
    assert _statuses(cohort)[0][0] == "active"
    with at(LAST + DAY, hour=2):
        tasks.complete_finished_enrolments.apply()
    assert _statuses(cohort) == [("completed", LAST)]
    entry = settings.CELERY_BEAT_SCHEDULE["programmes-complete-finished-enrolments"]
    assert entry["task"] == "programmes.tasks.complete_finished_enrolments"
    assert entry["schedule"] == 24 * 60 * 60.0


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite has no row locks (select_for_update is a no-op); run on PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_an_enrolment_a_clinician_is_ending_is_skipped_and_keeps_their_decision(cohort):
    by_hand, other = enrol_many(cohort, 2)
    locked, release = threading.Event(), threading.Event()
    errors = []

    def clinician_ends_it():
        try:
            with transaction.atomic():
                Enrolment.objects.select_for_update().get(pk=by_hand.pk)
                locked.set()
                release.wait(10)
                services.enrolment_end(
                    enrolment=by_hand, status="withdrawn", ended_on=LAST, reason="Moved away"
                )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    with at(LAST + DAY, hour=10):
        thread = threading.Thread(target=clinician_ends_it)
        thread.start()
        assert locked.wait(10)
        try:
            # Not blocked by the clinician's lock (waiting for it would fail here): the row
            # is left to them.
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '1s'")
                assert services.enrolments_complete_finished(today=LAST + DAY) == 1
        finally:
            release.set()
            thread.join()
    assert errors == []
    assert services.enrolments_complete_finished(today=LAST + 2 * DAY) == 0
    assert _statuses(cohort) == [("withdrawn", LAST), ("completed", LAST)]
    assert other.pk > by_hand.pk
