"""Two years of cohorts, day by day: every invariant against the simulation's own model.

A failure prints its seed and day; `Simulation(make_plan(seed)).run()` replays it exactly.
Longer runs: bench/simulate.py.
"""

import pytest

from reminders import services as reminder_services
from tests.simulation.engine import Simulation
from tests.simulation.events import make_plan

SEEDS = (1, 2, 3)
MESSAGE_INVARIANTS = {
    "invitation_lost",
    "reminder_1_lost",
    "reminder_2_lost",
    "final_lost",
    "escalation_lost",
    "reminder_before_its_offset",
    "final_reminder_early",
    "message_before_window",
}

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("seed", SEEDS)
def test_cohorts_of_both_programmes_through_two_years_keep_every_invariant(seed, tmp_path):
    plan = make_plan(seed, cohorts=2, participants=3)
    result = Simulation(plan, outbox=tmp_path).run()

    assert result.days >= 104 * 7
    assert result.sent_by_kind["invitation"] and result.events["register"]
    assert not result.violations, (
        f"{len(result.violations)} invariant violations (seed={seed}):\n{result.report()}"
    )


def test_the_same_seed_replays_the_same_run(tmp_path):
    first = Simulation(make_plan(7, cohorts=1, days=40), outbox=tmp_path / "a").run()
    second = Simulation(make_plan(7, cohorts=1, days=40), outbox=tmp_path / "b").run()

    assert first.sent_by_kind["invitation"]
    assert [str(v) for v in first.violations] == [str(v) for v in second.violations]
    assert (first.events, first.messages, first.sent_by_kind, first.checks) == (
        second.events,
        second.messages,
        second.sent_by_kind,
        second.checks,
    )


def test_without_replanning_a_start_move_in_an_open_window_fails_with_its_seed(
    monkeypatch, tmp_path
):
    # The re-planning that a moved window needs, switched off: the start moves six weeks
    # later while the baseline window is open, and the reminders must be lost or early.
    monkeypatch.setattr(reminder_services, "messages_replan", lambda **kwargs: 0, raising=False)
    plan = make_plan(11, cohorts=1, participants=4, open_window_move=True, days=100)
    result = Simulation(plan, outbox=tmp_path).run()

    caught = [v for v in result.violations if v.invariant in MESSAGE_INVARIANTS]
    assert result.events["start_move"] >= 1
    assert caught, result.report()
    assert str(caught[0]).startswith("seed=11 day=")
    assert f"({caught[0].day.isoformat()})" in str(caught[0])
