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
solutions already found, and knowing that hiding one more count never gives another away.
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

SUPPRESS_BELOW = 5
SUPPRESSED = "suppressed"
# Least and greatest feasible values closer than this are one value (the LP is in floats).
_SAME = 0.5
# An upper bound for every hidden count in the programs, far above any real count.
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
            # Hiding one more count only widens the values the hidden ones could take (the
            # page's own values, and every solution found so far, still fit the sums), so a
            # count shown safe stays safe: the next round asks again only about the counts
            # given away now and the complement added for them.
            safe = hidden - set(pinned)
            extra = self._complement(pinned, hidden, by_key)
            if extra is None:  # nothing left to hide beside it: all of its sums are hidden
                return hidden
            hidden.add(extra)

    def _by_key(self) -> dict[Hashable, list[int]]:
        by_key: dict[Hashable, list[int]] = defaultdict(list)
        for index, (left, right) in enumerate(self.equations):
            for key in (*left, *right):
                by_key[key].append(index)
        return by_key

    def _complement(self, pinned, hidden, by_key):
        """The cheapest shown count in a sum with a given-away one; failing that, in a sum
        with a hidden count that shares a sum with it, and so on outwards."""
        reached, frontier, done = set(pinned), list(pinned), set()
        while frontier:
            candidates = set()
            next_frontier = []
            for key in frontier:
                for index in by_key[key]:
                    if index in done:
                        continue
                    done.add(index)
                    left, right = self.equations[index]
                    for other in (*left, *right):
                        if other not in hidden:
                            if self.counts[other] > 0:
                                candidates.add(other)
                        elif other not in reached:
                            reached.add(other)
                            next_frontier.append(other)
            if candidates:
                return min(candidates, key=lambda k: (self.costs[k], self.counts[k], repr(k)))
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
            row = [0] * len(component)
            constant = 0
            for sign, keys in ((1, left), (-1, right)):
                for key in keys:
                    if key in hidden:
                        row[position[key]] += sign
                    else:
                        constant -= sign * self.counts[key]
            rows.append(tuple(row))
            rhs.append(constant)
        # The same sums give the same answer: a page drawn again with the same counts asks
        # the same questions.
        system = tuple(sorted(set(zip(rows, rhs, strict=True))))
        actual = tuple(self.counts[key] for key in component)
        return [component[i] for i in _given_away(system, actual, self.below, asked)]


@lru_cache(maxsize=8192)
def _given_away(
    system: tuple[tuple[tuple[int, ...], int], ...],
    actual: tuple[int, ...],
    below: int,
    asked: tuple[int, ...] | None = None,
) -> tuple[int, ...]:
    """The positions, among `asked` (default: all), of the hidden counts that the equations
    `row . x == constant` (every x at least 1) pin to one value or bound below `below`;
    `actual` is the page's own values, one solution of them."""
    width = len(actual)
    asked = tuple(range(width)) if asked is None else asked
    if width == 1:
        # One hidden count in a sum: it is the sum's other figures' difference.
        return (0,) if any(row[0] for row, _ in system) else ()
    # As arrays once: linprog converts lists of rows on every call, most of a small
    # program's cost.
    rows = np.array([row for row, _ in system], dtype=float)
    rhs = np.array([constant for _, constant in system], dtype=float)
    # Every solution the solver finds is a second value a reader cannot rule out: a count
    # that two known solutions give different values, one of them at least `below`, is safe
    # without solving for its own least and greatest (the same answer, fewer programs).
    holds = bool(np.array_equal(rows @ np.array(actual, dtype=float), rhs))
    solutions = [actual] if holds else []

    def shown_safe(i: int) -> bool:
        values = [x[i] for x in solutions]
        return bool(values) and max(values) - min(values) >= _SAME and max(values) >= below - _SAME

    # Bounds from the sums alone (each count's range given the others' ranges, tightened
    # until nothing moves) are looser than the programs' but never wrong: a count they
    # bound below `below` or to one value is given away without a program. While
    # complements are still being added nearly every count is, round after round.
    terms_row, terms_column = np.nonzero(rows)
    low_bound, high_bound = _propagated_bounds(
        terms_row, terms_column, rows[terms_row, terms_column], rhs, width
    )
    pinned = [
        i for i in asked if high_bound[i] < below - _SAME or high_bound[i] - low_bound[i] < _SAME
    ]
    asked = tuple(i for i in asked if i not in set(pinned))
    # Then one program for many counts: the greatest total of the counts not yet shown
    # safe. Its solution usually lifts most of them to other values of at least `below`
    # at once. (The cap keeps that program bounded; a count that could exceed it is safe
    # either way, so the answer is the same.)
    bounds = (1, _CAP)
    open_ = [i for i in asked if not shown_safe(i)]
    if len(open_) > 1:
        objective = np.zeros(width)
        objective[open_] = -1.0
        found = linprog(objective, A_eq=rows, b_eq=rhs, bounds=bounds, method="highs")
        if found.status == 0:
            solutions.append(tuple(found.x))
    for i in open_:
        if shown_safe(i):
            continue
        objective = np.zeros(width)
        objective[i] = -1.0
        high = linprog(objective, A_eq=rows, b_eq=rhs, bounds=bounds, method="highs")
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
        low = linprog(objective, A_eq=rows, b_eq=rhs, bounds=bounds, method="highs")
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
