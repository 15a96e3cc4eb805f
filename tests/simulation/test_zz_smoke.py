import pytest
from tests.simulation.engine import Simulation
from tests.simulation.events import make_plan


@pytest.mark.django_db
def test_smoke(tmp_path):
    import os

    r = Simulation(
        make_plan(
            int(os.environ.get("SEED", "1")),
            cohorts=3,
            participants=5,
            days=int(os.environ.get("DAYS", "0")) or None,
        ),
        outbox=tmp_path,
    ).run()
    print(
        r.days,
        dict(r.events),
        dict(r.messages),
        dict(r.sent_by_kind),
        r.checks,
        round(r.wall),
        round(r.cpu),
    )
    print(r.report(80))
