"""Long runs of the day-by-day simulation (tests/simulation) over many seeds and cohorts.

    DATABASE_URL=postgres://... REDIS_URL=redis://... \
        .venv/bin/python bench/simulate.py --cohorts 50 --seeds 20

It makes a throwaway test database (test_<name of DATABASE_URL's database>) with Django's
test runner helpers, runs each seed in a transaction that is rolled back, and prints the days
simulated, the events of each kind, the messages by kind and by outcome, the invariant checks
made, the violations (each with its seed and day) and the wall time and CPU utilisation.
"""

import argparse
import logging
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohorts", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--participants", type=int, default=5)
    parser.add_argument("--days", type=int, default=None, help="Cut each run short.")
    parser.add_argument("--show", type=int, default=20, help="Violations printed per seed.")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import transaction
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    from tests.simulation.engine import Simulation
    from tests.simulation.events import make_plan

    # The Redis outage days log one warning per cache call.
    logging.getLogger("config.cache").setLevel(logging.ERROR)
    setup_test_environment()
    databases = setup_databases(verbosity=0, interactive=False)
    totals = {"days": 0, "checks": 0}
    events, outcomes, kinds, broken = Counter(), Counter(), Counter(), Counter()
    started, cpu = time.perf_counter(), time.process_time()
    try:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            plan = make_plan(
                seed, cohorts=args.cohorts, participants=args.participants, days=args.days
            )
            with transaction.atomic():
                result = Simulation(plan).run()
                transaction.set_rollback(True)
            totals["days"] += result.days
            totals["checks"] += result.checks
            events.update(result.events)
            outcomes.update(result.messages)
            kinds.update(result.sent_by_kind)
            broken.update(v.invariant for v in result.violations)
            print(
                f"seed {seed}: {result.days} days, {sum(result.sent_by_kind.values())} sent, "
                f"{result.checks} checks, {len(result.violations)} violations, "
                f"{result.wall:.1f} s",
                flush=True,
            )
            if result.violations:
                print(result.report(args.show), flush=True)
    finally:
        teardown_databases(databases, verbosity=0)
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    print(f"\n{args.seeds} seeds x {args.cohorts} cohorts: {totals['days']} days simulated")
    print("events:", dict(sorted(events.items())))
    print("messages sent by kind:", dict(sorted(kinds.items())))
    print("send outcomes:", dict(sorted(outcomes.items())))
    print(f"invariant checks: {totals['checks']}; violations: {sum(broken.values())}")
    for invariant, count in sorted(broken.items()):
        print(f"  {invariant}: {count}")
    print(
        f"wall {wall:.1f} s, CPU {used:.1f} s in this process ({100 * used / wall:.0f}% of one "
        f"core; the rest is PostgreSQL and waiting), load average {os.getloadavg()[0]:.2f}"
    )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
