"""Complementary suppression: no hidden count on a page can be worked out from the rest.

A page's counts go into a Sheet with the sums that tie them together (a cohort's people who
started are those still active, completed and left early; a comparison's people with both
scores and those left out, for each reason, add up to those who started; ...). Every count
from 1 to SUPPRESS_BELOW - 1 is hidden (primary suppression; a zero is shown, as in NHS
England's small-number rules: "nobody" singles nobody out). Then, while a reader who knows
those sums and the shown figures could still work out a hidden count, one more count in a
sum beside it is hidden (complementary suppression), the cheapest first: the lowest cost,
then the smallest value.

"Worked out" means pinned to one value, or bounded below SUPPRESS_BELOW by the sums around
it (as when two hidden parts of a total must add up to 3): parts and totals are then
suppressed together. It is checked exactly with linear programming (SciPy's HiGHS): each
hidden count's least and greatest value over every assignment of the hidden counts that
agrees with the page, knowing a hidden count is never 0 (zeros are shown and never chosen
as complements). A count is safe when those differ and the greatest is at least
SUPPRESS_BELOW. Cheaper checks come first and settle most counts without a program: bounds
from the sums alone (looser than the programs', so a count they give away is given away),
solutions already found, and knowing that hiding more counts never gives another away.
Every hidden count is shown with one marker, so the marker says nothing
about the size of what it hides.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_array

SUPPRESS_BELOW = 5
SUPPRESSED = "suppressed"
# Least and greatest feasible values closer than this are one value (the LP is in floats).
_SAME = 0.5
# An upper bound for every hidden count in the programs, far above any real count: it keeps
# every program bounded, and a count that could exceed it is safe either way.
_CAP = 1e6


@dataclass
class Sheet:
    counts: dict[Hashable, int] = field(default_factory=dict)
    costs: dict[Hashable, int] = field(default_factory=dict)
    # Each equation: the counts on the left add up to the counts on the right.
    equations: list[tuple[tuple[Hashable, ...], tuple[Hashable, ...]]] = field(default_factory=list)
    below: int = SUPPRESS_BELOW

    def add(self, key: Hashable, value: int | None, *, cost: int = 1) -> Hashable:
        """A count the page shows; `cost` ranks it for complementary suppression (hidden
        last when high, e.g. a count whose statistics would go with it)."""
        if value is not None:
            self.counts[key] = int(value)
            self.costs[key] = cost
        return key

    def equal(self, left: Iterable[Hashable], right: Iterable[Hashable]) -> None:
        """sum(left) == sum(right) for everyone reading the page; keys not added count 0."""
        left = tuple(k for k in left if k in self.counts)
        right = tuple(k for k in right if k in self.counts)
        if left or right:
            self.equations.append((left, right))

    def protect(self, below: int = SUPPRESS_BELOW) -> set[Hashable]:
        """The keys to hide: every count below `below`, and the complements that keep them."""
        # A page drawn again with the same counts and sums (after a change elsewhere in
        # its data, or a register taken) hides the same: worked out once per process.
        self.below = below
        return set(
            _protected(
                tuple(self.counts.items()),
                tuple(self.costs.items()),
                tuple(self.equations),
                below,
            )
        )

    def _protect(self, below: int) -> set[Hashable]:
        self.below = below
        hidden = {k for k, v in self.counts.items() if 0 < v < below}
        if not hidden:
            return hidden
        by_key = self._by_key()
        safe: set = set()
        while True:
            pinned = self.pinned(hidden, by_key, safe=safe)
            if not pinned:
                return hidden
            # Hiding more counts only widens the values the hidden ones could take (the
            # page's own values, and every solution found so far, still fit the sums), so a
            # count shown safe stays safe: the next round asks again only about the counts
            # given away now and the complements added for them.
            safe = hidden - set(pinned)
            # One complement for each given-away count, all at once, then every sum is
            # checked again. One at a time, a service of a thousand cohorts took a round
            # of linear programs over all of them for each of its hundreds of complements
            # (their sums join every cohort into one system); at once, a few rounds. It can
            # hide a figure more than one at a time would (two given-away counts in one sum
            # each take one), never one less: the check that ends the loop is the same.
            extras = {self._complement([key], hidden, by_key) for key in pinned} - {None}
            if not extras:  # nothing left to hide beside them: all of their sums are hidden
                return hidden
            hidden |= extras

    def _by_key(self) -> dict[Hashable, list[int]]:
        by_key: dict[Hashable, list[int]] = defaultdict(list)
        for index, (left, right) in enumerate(self.equations):
            for key in (*left, *right):
                by_key[key].append(index)
        return by_key

    def _complement(self, pinned, hidden, by_key):
        """The cheapest shown count in the shortest sum with a given-away one; failing
        that, in a sum with a hidden count that shares a sum with it, and so on outwards."""
        reached, frontier, done = set(pinned), list(pinned), set()
        while frontier:
            # (the length of the shortest sum it shares with a given-away count, the key)
            candidates: dict[Hashable, int] = {}
            next_frontier = []
            for key in frontier:
                for index in by_key[key]:
                    if index in done:
                        continue
                    done.add(index)
                    left, right = self.equations[index]
                    length = len(left) + len(right)
                    for other in (*left, *right):
                        if other not in hidden:
                            if self.counts[other] > 0:
                                candidates[other] = min(candidates.get(other, length), length)
                        elif other not in reached:
                            reached.add(other)
                            next_frontier.append(other)
            if candidates:
                # From the shortest sum first: a cohort's own row widens the range of its
                # hidden parts; a count elsewhere in a service-wide total seldom does.
                return min(
                    candidates,
                    key=lambda k: (candidates[k], self.costs[k], self.counts[k], repr(k)),
                )
            frontier = next_frontier
        return None

    def pinned(
        self, hidden: set, by_key: dict | None = None, *, safe: set = frozenset()
    ) -> list[Hashable]:
        """Hidden counts the page gives away: pinned to one value, or bounded below
        SUPPRESS_BELOW by the sums they are in (see the module's docstring). Counts in
        `safe` are known not to be given away and are not asked about (they still count
        as hidden in the sums)."""
        by_key = self._by_key() if by_key is None else by_key
        pinned = []
        for component in _components(hidden, self.equations, by_key):
            asked = tuple(i for i, key in enumerate(component) if key not in safe)
            if asked:
                pinned += self._pinned_in(component, hidden, by_key, asked)
        return pinned

    def _pinned_in(self, component: list, hidden: set, by_key: dict, asked: tuple) -> list:
        position = {key: i for i, key in enumerate(component)}
        rows, rhs = [], []
        for index in sorted({i for key in component for i in by_key[key]}):
            left, right = self.equations[index]
            row: dict[int, int] = defaultdict(int)
            constant = 0
            for sign, keys in ((1, left), (-1, right)):
                for key in keys:
                    if key in hidden:
                        row[position[key]] += sign
                    else:
                        constant -= sign * self.counts[key]
            # Sparse, (position, coefficient) pairs: a large service's system has thousands
            # of counts, each in a few of its sums.
            rows.append(tuple(sorted((i, c) for i, c in row.items() if c)))
            rhs.append(constant)
        # The same sums give the same answer: protect() asks again for every component after
        # each round of complements (only those they joined have changed), and a page drawn
        # again with the same counts asks the same questions.
        system = tuple(sorted(set(zip(rows, rhs, strict=True))))
        actual = tuple(self.counts[key] for key in component)
        return [component[i] for i in _given_away(system, actual, self.below, asked)]


# From this many hidden counts in one system, four programs over all of them come first:
# each count's own programs are then needed only where their solutions do not already
# show it safe.
_WITNESS_FROM = 8


@lru_cache(maxsize=64)
def _protected(counts: tuple, costs: tuple, equations: tuple, below: int) -> frozenset:
    sheet = Sheet(counts=dict(counts), costs=dict(costs), equations=list(equations))
    return frozenset(sheet._protect(below))


@lru_cache(maxsize=8192)
def _given_away(
    system: tuple[tuple[tuple[tuple[int, int], ...], int], ...],
    actual: tuple[int, ...],
    below: int,
    asked: tuple[int, ...] | None = None,
) -> tuple[int, ...]:
    """The positions, among `asked` (default: all), of the hidden counts that the equations
    `row . x == constant` (every x at least 1; each row as (position, coefficient) pairs)
    pin to one value or bound below `below`; `actual` is the page's own values, one
    solution of them."""
    width = len(actual)
    asked = tuple(range(width)) if asked is None else asked
    if width == 1:
        # One hidden count in a sum: it is the sum's other figures' difference.
        return (0,) if any(row for row, _ in system) else ()
    rhs = np.array([constant for _, constant in system], dtype=float)
    terms_row = np.array([r for r, (row, _) in enumerate(system) for _ in row], dtype=np.intp)
    terms_column = np.array([i for row, _ in system for i, _c in row], dtype=np.intp)
    coefficients = np.array([c for row, _ in system for _i, c in row], dtype=float)
    matrix = csr_array((coefficients, (terms_row, terms_column)), shape=(len(system), width))
    # Bounds from the sums alone (each count's range given the others' ranges, tightened
    # until nothing moves) are looser than the programs' but never wrong: a count they
    # bound below `below` or to one value is given away without a program. While
    # complements are still being added nearly every count is, round after round.
    low_bound, high_bound = _propagated_bounds(terms_row, terms_column, coefficients, rhs, width)
    pinned = [
        i for i in asked if high_bound[i] < below - _SAME or high_bound[i] - low_bound[i] < _SAME
    ]
    given = set(pinned)
    open_ = [i for i in asked if i not in given]
    if not open_:
        return tuple(pinned)
    # Every solution the solver finds is a second value a reader cannot rule out: a count
    # that two known solutions give different values, one of them at least `below`, is safe
    # without solving for its own least and greatest (the same answer, fewer programs).
    holds = all(sum(c * actual[i] for i, c in row) == constant for row, constant in system)
    solutions = [actual] if holds else []

    def solve(objective):
        return linprog(objective, A_eq=matrix, b_eq=rhs, bounds=(1, _CAP), method="highs")

    if len(open_) >= _WITNESS_FROM:
        # Small counts up and the others down, then the reverse; then alternate counts up
        # and down, and the reverse. Parts of one sum (a cohort's completed and left early,
        # whose total the page gives) go to opposite ends in one or other pair of programs.
        small = [-1.0 if x < below else 1.0 for x in actual]
        alternate = [(-1.0) ** i for i in range(width)]
        for objective in (small, alternate):
            for sign in (1.0, -1.0):
                found = solve([sign * w for w in objective])
                if found.status == 0:
                    solutions.append(tuple(found.x))

    def shown_safe(i: int) -> bool:
        values = [x[i] for x in solutions]
        return bool(values) and max(values) - min(values) >= _SAME and max(values) >= below - _SAME

    for i in open_:
        if shown_safe(i):
            continue
        objective = [0.0] * width
        objective[i] = -1.0
        high = solve(objective)
        if high.status != 0:  # no solution found: nothing learnt
            continue
        solutions.append(tuple(high.x))
        greatest = -high.fun
        if greatest < below - _SAME:
            pinned.append(i)
            continue
        if shown_safe(i):
            continue
        objective[i] = 1.0
        low = solve(objective)
        solutions.append(tuple(low.x))
        if greatest - low.fun < _SAME:
            pinned.append(i)
    return tuple(sorted(pinned))


def _propagated_bounds(
    rows: np.ndarray, columns: np.ndarray, coefficients: np.ndarray, rhs: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Least and greatest values each count can take by the sums one at a time, from
    1 <= x <= _CAP, tightened until they settle: for each sum and each count in it, the
    count is the sum's constant less the others, whose ranges bound it. The sums come as
    their nonzero coefficients (row, column, coefficient), so the work grows with the
    terms, not with sums times counts."""
    low, high = np.ones(width), np.full(width, _CAP)
    positive = coefficients > 0
    sums = len(rhs)
    for _ in range(50):
        # Each term's least and greatest share of its sum, and each sum's least and most.
        own_least = np.where(positive, coefficients * low[columns], coefficients * high[columns])
        own_most = np.where(positive, coefficients * high[columns], coefficients * low[columns])
        least = np.bincount(rows, weights=own_least, minlength=sums)
        most = np.bincount(rows, weights=own_most, minlength=sums)
        # coefficient * x = constant - (the rest), the rest between its least and most
        a = (rhs[rows] - (most[rows] - own_most)) / coefficients
        b = (rhs[rows] - (least[rows] - own_least)) / coefficients
        new_low, new_high = low.copy(), high.copy()
        np.maximum.at(new_low, columns, np.minimum(a, b))
        np.minimum.at(new_high, columns, np.maximum(a, b))
        if np.allclose(new_low, low) and np.allclose(new_high, high):
            break
        low, high = new_low, new_high
    return low, high


def _components(hidden: set, equations: list, by_key: dict) -> list[list]:
    """Hidden keys that share an equation, grouped (shown keys are only numbers in it)."""
    seen: set = set()
    # Each sum is walked once: a service's totals are sums over every cohort.
    walked: set[int] = set()
    groups = []
    for start in sorted((k for k in hidden if by_key.get(k)), key=repr):
        if start in seen:
            continue
        group, stack = [], [start]
        seen.add(start)
        while stack:
            key = stack.pop()
            group.append(key)
            for index in by_key[key]:
                if index in walked:
                    continue
                walked.add(index)
                left, right = equations[index]
                for other in (*left, *right):
                    if other in hidden and other not in seen:
                        seen.add(other)
                        stack.append(other)
        groups.append(group)
    return groups


def shown(value, key: Hashable, hidden: set):
    """A count as the page shows it: the number, or the one marker for a hidden count."""
    return SUPPRESSED if key in hidden else value
