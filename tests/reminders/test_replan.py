"""Windows carry their messages: whatever moves, opens, closes or ends a questionnaire window
re-plans its messages, so none is lost and none goes before its time. Each test drives the
real services day by day through a cohort's baseline window."""

import datetime

import pytest
import time_machine

from measures import services as measures_services
from measures.models import Administration
from participants.services import participant_update
from programmes import services as programmes_services
from reminders import tasks
from reminders.models import Escalation, Message
from reminders.schedule import UK
from reminders.services import message_send
from tests.factories import MembershipFactory, ParticipantFactory, ServiceFactory, default_programme

pytestmark = pytest.mark.django_db

# Monday 1 March 2027: the baseline window (-21 / +14 days) runs 8 February to 15 March.
START = datetime.date(2027, 3, 1)


def uk(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=UK)


def days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


@pytest.fixture
def world(sms_outbox):
    service = ServiceFactory()
    clinician = MembershipFactory(service=service).user
    with time_machine.travel(uk(datetime.date(2027, 1, 4), 10), tick=False):
        cohort = programmes_services.cohort_create(
            service=service,
            programme=default_programme(),
            name="Monday group",
            start_date=START,
            start_time=datetime.time(10),
            venue="Room 2",
            capacity=10,
            facilitators=[clinician],
        )
    return cohort


def enrol(cohort, at: datetime.datetime):
    with time_machine.travel(at, tick=False):
        participant = ParticipantFactory(service=cohort.service)
        return programmes_services.enrolment_create(
            cohort=cohort, participant=participant, enrolled_on=at.date()
        )


def run_beat(at: datetime.datetime, django_capture_on_commit_callbacks) -> dict:
    """One dispatcher run at `at`, its claimed messages sent at once through the backend."""
    outcomes = {}

    def send_now(claim):
        for message_id in claim.ids:
            outcomes[message_id] = message_send(message_id=message_id, claim=claim.token, now=at)

    with (
        time_machine.travel(at, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.dispatch(now=at, enqueue=send_now)
    return outcomes


def run_days(first: datetime.date, last: datetime.date, capture) -> None:
    """The beat at 10:00 on every day from first to last."""
    day = first
    while day <= last:
        run_beat(uk(day, 10), capture)
        day += days(1)


def sent_days(enrolment, timepoint_key="baseline") -> dict[str, datetime.date]:
    return {
        m.kind: m.sent_at.astimezone(UK).date()
        for m in Message.objects.filter(
            enrolment=enrolment, timepoint__key=timepoint_key, status=Message.Status.SENT
        )
    }


def test_a_start_moved_six_weeks_later_keeps_the_invitation_for_the_new_window(
    world, django_capture_on_commit_callbacks
):
    cohort = world
    enrolment = enrol(cohort, uk(datetime.date(2027, 2, 8), 8))
    run_beat(uk(datetime.date(2027, 2, 8), 8, 5), django_capture_on_commit_callbacks)
    assert Message.objects.filter(enrolment=enrolment, kind="invitation").exists()

    with time_machine.travel(uk(datetime.date(2027, 2, 8), 8, 30), tick=False):
        programmes_services.cohort_start_move(cohort=cohort, new_start_date=START + days(42))
    # The new baseline window: 22 March to 26 April. A dispatcher run in the gap sends nothing
    # and cancels nothing.
    run_days(
        datetime.date(2027, 2, 8), datetime.date(2027, 3, 21), django_capture_on_commit_callbacks
    )
    assert sent_days(enrolment) == {}
    assert not Message.objects.filter(enrolment=enrolment, status="cancelled").exists()

    run_days(
        datetime.date(2027, 3, 22), datetime.date(2027, 4, 26), django_capture_on_commit_callbacks
    )
    assert sent_days(enrolment) == {
        "invitation": datetime.date(2027, 3, 22),
        "reminder_1": datetime.date(2027, 3, 25),
        "reminder_2": datetime.date(2027, 3, 29),
        "escalation": datetime.date(2027, 3, 31),
        "final": datetime.date(2027, 4, 24),
    }


def test_a_start_moved_later_sends_no_stale_final_reminder_after_the_invitation(
    world, django_capture_on_commit_callbacks
):
    cohort = world
    enrolment = enrol(cohort, uk(datetime.date(2027, 3, 10), 8))
    run_beat(uk(datetime.date(2027, 3, 10), 10), django_capture_on_commit_callbacks)
    assert sent_days(enrolment) == {"invitation": datetime.date(2027, 3, 10)}
    # Moved a week later: the window now closes on 22 March, so the final reminder is due on
    # 20 March, not on the old 13 March.
    with time_machine.travel(uk(datetime.date(2027, 3, 10), 12), tick=False):
        programmes_services.cohort_start_move(cohort=cohort, new_start_date=START + days(7))
    run_days(
        datetime.date(2027, 3, 11), datetime.date(2027, 3, 22), django_capture_on_commit_callbacks
    )
    assert sent_days(enrolment)["final"] == datetime.date(2027, 3, 20)


def test_someone_who_joins_a_week_into_the_window_gets_both_reminders_and_the_escalation(
    world, django_capture_on_commit_callbacks
):
    cohort = world
    run_beat(uk(datetime.date(2027, 2, 8), 10), django_capture_on_commit_callbacks)
    enrolment = enrol(cohort, uk(datetime.date(2027, 2, 15), 11))
    run_days(
        datetime.date(2027, 2, 15), datetime.date(2027, 3, 15), django_capture_on_commit_callbacks
    )
    # Counted from the invitation actually sent on the day they joined.
    assert sent_days(enrolment) == {
        "invitation": datetime.date(2027, 2, 15),
        "reminder_1": datetime.date(2027, 2, 18),
        "reminder_2": datetime.date(2027, 2, 22),
        "escalation": datetime.date(2027, 2, 24),
        "final": datetime.date(2027, 3, 13),
    }
    assert Escalation.objects.filter(enrolment=enrolment).count() == 1


def test_reminders_count_from_the_invitation_actually_sent_when_it_went_late(
    world, django_capture_on_commit_callbacks
):
    cohort = world
    enrolment = enrol(cohort, uk(datetime.date(2027, 2, 1), 10))
    # The worker is down for the window's first two days.
    run_days(
        datetime.date(2027, 2, 10), datetime.date(2027, 2, 21), django_capture_on_commit_callbacks
    )
    assert sent_days(enrolment) == {
        "invitation": datetime.date(2027, 2, 10),
        "reminder_1": datetime.date(2027, 2, 13),
        "reminder_2": datetime.date(2027, 2, 17),
        "escalation": datetime.date(2027, 2, 19),
    }


def test_an_opt_out_cancels_what_is_pending_and_opting_back_in_plans_it_again(
    world, django_capture_on_commit_callbacks
):
    cohort = world
    enrolment = enrol(cohort, uk(datetime.date(2027, 2, 8), 8))
    run_beat(uk(datetime.date(2027, 2, 8), 10), django_capture_on_commit_callbacks)
    participant = enrolment.participant
    with time_machine.travel(uk(datetime.date(2027, 2, 9), 12), tick=False):
        participant_update(participant=participant, messages_opt_out=True)
    pending = Message.objects.filter(enrolment=enrolment, status="pending")
    assert not pending.exists()
    run_days(
        datetime.date(2027, 2, 10), datetime.date(2027, 2, 20), django_capture_on_commit_callbacks
    )
    assert set(sent_days(enrolment)) == {"invitation"}

    with time_machine.travel(uk(datetime.date(2027, 2, 21), 12), tick=False):
        participant_update(participant=participant, messages_opt_out=False)
    # What is still ahead comes back (the final reminder on 13 March); nothing already past
    # is sent in a burst.
    run_days(
        datetime.date(2027, 2, 21), datetime.date(2027, 3, 15), django_capture_on_commit_callbacks
    )
    assert sent_days(enrolment) == {
        "invitation": datetime.date(2027, 2, 8),
        "final": datetime.date(2027, 3, 13),
    }


def answer_everything(enrolment, at):
    with time_machine.travel(at, tick=False):
        for adm in Administration.objects.filter(
            enrolment=enrolment, timepoint__key="baseline", status__in=["open", "in_progress"]
        ).exclude(instrument_code="service_use"):
            measures_services.administration_enter(
                administration=adm,
                answers={},
                entered_by=None,
                completed_at=at,
            )


@pytest.mark.parametrize("ending", ["completed", "expired", "withdrawn"])
def test_an_escalation_closes_itself_when_its_questionnaires_are_done_or_gone(
    world, ending, django_capture_on_commit_callbacks
):
    cohort = world
    enrolment = enrol(cohort, uk(datetime.date(2027, 2, 8), 8))
    run_days(
        datetime.date(2027, 2, 8), datetime.date(2027, 2, 17), django_capture_on_commit_callbacks
    )
    escalation = Escalation.objects.get(enrolment=enrolment)
    assert escalation.resolved_at is None

    if ending == "completed":
        answer_everything(enrolment, uk(datetime.date(2027, 2, 18), 15))
    elif ending == "expired":
        run_days(
            datetime.date(2027, 2, 18),
            datetime.date(2027, 3, 16),
            django_capture_on_commit_callbacks,
        )
    else:
        with time_machine.travel(uk(datetime.date(2027, 2, 18), 15), tick=False):
            programmes_services.enrolment_end(
                enrolment=enrolment,
                status="withdrawn",
                ended_on=datetime.date(2027, 2, 16),
                reason="Moved away",
            )
    escalation.refresh_from_db()
    assert escalation.resolved_at is not None
    assert escalation.resolved_by is None
    assert (
        escalation.resolution
        == {
            "completed": "completed",
            "expired": "expired",
            "withdrawn": "cancelled",
        }[ending]
    )
    assert not Message.objects.filter(enrolment=enrolment, status="pending").exists()


@pytest.mark.parametrize("people", [3, 9])
def test_a_replan_runs_the_same_queries_whatever_the_number_of_people(
    world, people, django_assert_num_queries, django_capture_on_commit_callbacks
):
    from reminders.services import messages_replan

    cohort = world
    enrolments = [enrol(cohort, uk(datetime.date(2027, 2, 8), 8)) for _ in range(people)]
    with time_machine.travel(uk(datetime.date(2027, 2, 8), 8, 30), tick=False):
        cohort.start_date = START + days(42)
        measures_services.administrations_shift(cohort=cohort)  # re-plans through the event
        # Moved back: every pending message re-dated again, in a fixed number of queries
        # (savepoint, enrolments, windows, locked messages, policies, the bulk update, release).
        cohort.start_date = START
        Administration.objects.filter(enrolment__cohort=cohort, timepoint__key="baseline").update(
            opens_on=datetime.date(2027, 2, 8), closes_on=datetime.date(2027, 3, 15)
        )
        with django_assert_num_queries(7):
            changed = messages_replan(enrolment_ids=[e.pk for e in enrolments])
    assert changed == 5 * people
