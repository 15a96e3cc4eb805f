import datetime

import pytest
import time_machine
from django.core.management import call_command

from measures import services
from measures.models import Administration, Timepoint
from programmes import events
from programmes.models import Enrolment, Programme
from tests.factories import CohortFactory, EnrolmentFactory
from tests.questionnaires.conftest import START, administration

pytestmark = pytest.mark.django_db
Status = Administration.Status


def test_enrolling_lays_out_one_administration_per_timepoint_and_instrument(enrolment):
    timepoints = Timepoint.objects.filter(programme=enrolment.cohort.programme)
    expected = sum(len(tp.instruments) for tp in timepoints)
    assert expected == 9 + 8 + 3 + 9 + 9
    assert Administration.objects.filter(enrolment=enrolment).count() == expected


def test_windows_are_counted_from_the_timepoint_date(enrolment):
    week12 = administration(enrolment, "core10", "week12")
    assert week12.due_on == START + datetime.timedelta(weeks=12)
    assert week12.opens_on == week12.due_on - datetime.timedelta(days=7)
    assert week12.closes_on == week12.due_on + datetime.timedelta(days=21)
    assert week12.status == Status.SCHEDULED
    assert administration(enrolment, "core10").status == Status.OPEN


def test_laying_out_twice_adds_nothing(enrolment):
    before = Administration.objects.count()
    assert services.administrations_lay_out(enrolment=enrolment) == 0
    assert Administration.objects.count() == before


def test_late_enrolment_marks_closed_timepoints_missed_and_never_opens_them(cohort):
    # 14 weeks in: baseline closed on 20 January; end of preparation is open.
    with time_machine.travel(datetime.datetime(2026, 4, 14, 12, 0, tzinfo=datetime.UTC)):
        enrolment = EnrolmentFactory(cohort=cohort, enrolled_on=datetime.date(2026, 4, 14))
        services.administrations_lay_out(enrolment=enrolment)
        statuses = dict(
            Administration.objects.filter(
                enrolment=enrolment, instrument_code="core10"
            ).values_list("timepoint__key", "status")
        )
        assert statuses == {
            "baseline": Status.MISSED,
            "week12": Status.OPEN,
            "week32": Status.SCHEDULED,
            "week52": Status.SCHEDULED,
            "week104": Status.SCHEDULED,
        }
        services.administrations_open_due(today=datetime.date(2026, 4, 14))
        services.administrations_expire(today=datetime.date(2026, 4, 14))
    assert administration(enrolment, "core10").status == Status.MISSED


def test_the_enrolment_started_event_lays_out_the_schedule(cohort, frozen):
    enrolment = EnrolmentFactory(cohort=cohort, enrolled_on=START)
    events.enrolment_started.send(sender=Enrolment, enrolment=enrolment)
    assert Administration.objects.filter(enrolment=enrolment).count() == 38


def test_moving_the_cohort_moves_only_what_has_not_started(enrolment, frozen):
    started = administration(enrolment, "dass21")
    services.response_save(administration_id=started.pk, answers={1: 1})
    completed = administration(enrolment, "core10")
    services.administration_enter(
        administration=completed,
        answers=dict.fromkeys(range(1, 11), 1),
        entered_by=None,
        completed_at=datetime.datetime(2026, 1, 7, 12, 0, tzinfo=datetime.UTC),
    )
    untouched_before = administration(enrolment, "fscrs")
    later_before = administration(enrolment, "core10", "week12")
    cohort = enrolment.cohort
    cohort.start_date = START + datetime.timedelta(weeks=4)
    cohort.save()
    events.cohort_rescheduled.send(sender=type(cohort), cohort=cohort)

    started.refresh_from_db()
    completed_after = administration(enrolment, "core10")
    assert started.due_on == START
    assert completed_after.due_on == START
    untouched = administration(enrolment, "fscrs")
    assert untouched.due_on == untouched_before.due_on + datetime.timedelta(weeks=4)
    # Baseline now opens on 10 January: no longer open today (8 January).
    assert untouched.status == Status.SCHEDULED
    later = administration(enrolment, "core10", "week12")
    assert later.due_on == later_before.due_on + datetime.timedelta(weeks=4)
    assert later.closes_on - later.opens_on == later_before.closes_on - later_before.opens_on


def test_withdrawal_cancels_what_has_not_started_and_keeps_the_rest(enrolment, frozen):
    started = administration(enrolment, "dass21")
    services.response_save(administration_id=started.pk, answers={1: 1})
    enrolment.status = Enrolment.Status.WITHDRAWN
    enrolment.ended_on = datetime.date(2026, 1, 8)
    enrolment.end_reason = "Moved away"
    enrolment.save()
    events.enrolment_ended.send(sender=Enrolment, enrolment=enrolment)
    statuses = set(
        Administration.objects.filter(enrolment=enrolment)
        .exclude(pk=started.pk)
        .values_list("status", flat=True)
    )
    assert statuses == {Status.CANCELLED}
    started.refresh_from_db()
    assert started.status == Status.IN_PROGRESS


def test_completing_the_programme_keeps_follow_up_questionnaires(enrolment, frozen):
    enrolment.status = Enrolment.Status.COMPLETED
    enrolment.ended_on = datetime.date(2026, 1, 8)
    enrolment.save()
    events.enrolment_ended.send(sender=Enrolment, enrolment=enrolment)
    assert not Administration.objects.filter(enrolment=enrolment, status=Status.CANCELLED).exists()


def test_opening_and_expiring_are_set_based_and_idempotent(enrolment):
    day = datetime.date(2026, 3, 24)  # inside the week-12 window, after baseline closed
    assert services.administrations_open_due(today=day) == 8
    assert services.administrations_open_due(today=day) == 0
    assert services.administrations_expire(today=day) == 9
    assert services.administrations_expire(today=day) == 0
    assert administration(enrolment, "core10").status == Status.EXPIRED
    assert administration(enrolment, "core10", "week12").status == Status.OPEN


def test_management_commands_open_and_expire(enrolment, capsys):
    call_command("open_due_administrations", "--today", "2026-03-24")
    call_command("expire_administrations", "--today", "2026-03-24")
    out = capsys.readouterr().out
    assert "Opened 8" in out
    assert "Expired 9" in out


def test_a_new_programme_version_gets_the_timepoints_of_the_old(db):
    old = Programme.objects.get(key="cfgp-52", is_current=True)
    old.is_current = False
    old.save()
    new = Programme.objects.create(key="cfgp-52", version=old.version + 1, name=old.name)
    events.programme_revised.send(sender=Programme, programme=new, previous=old)
    assert list(new.timepoints.values_list("key", "week", "instruments")) == list(
        old.timepoints.values_list("key", "week", "instruments")
    )


def test_a_cohort_on_the_comparison_programme_gets_the_same_timepoints(frozen, service):
    programme = Programme.objects.get(key="peg-usual-care", is_current=True)
    cohort = CohortFactory(service=service, programme=programme, start_date=START)
    enrolment = EnrolmentFactory(cohort=cohort, enrolled_on=START)
    services.administrations_lay_out(enrolment=enrolment)
    assert Administration.objects.filter(enrolment=enrolment).count() == 38
