"""Pure statistics for the dashboards: no database, no Django.

Conventions, shown on the pages:
- 95% confidence interval of a mean: mean +/- t(0.975, n - 1) x SD / sqrt(n), SD with n - 1.
- Change is after minus before. The paired effect size is Cohen's d_z: mean change / SD of
  the changes. Its 95% CI uses the usual large-sample standard error
  SE(d_z) = sqrt(1/n + d_z^2 / (2n)) with z = 1.959964 (an approximation; say so).
- Reliable change, recovery and reliable recovery come only from measures.change.classify.
- Association between two measures: Pearson's r, its 95% CI from Fisher's z transform
  (atanh(r) +/- z / sqrt(n - 3)); it describes association, never cause.
- Below MIN_PAIRED people a figure is "not enough data", never a number.
- On service-level views a count below SUPPRESS_BELOW is shown as "fewer than 5".
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from measures.change import (
    NO_RELIABLE_CHANGE,
    RELIABLE_DETERIORATION,
    RELIABLE_IMPROVEMENT,
    classify,
)
from measures.definitions import get_instrument

Z_95 = 1.959964
MIN_PAIRED = 5
SUPPRESS_BELOW = 5
NOT_ENOUGH_DATA = "not enough data"
FEWER_THAN_5 = "fewer than 5"


# --------------------------------------------------------------------------- Student's t


def t_two_sided_probability(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with integer df: the exact finite series of
    Abramowitz and Stegun 26.7.3 (odd df) and 26.7.4 (even df)."""
    if df < 1 or int(df) != df:
        raise ValueError(f"df must be a whole number of 1 or more, not {df!r}")
    if t <= 0:
        return 0.0
    theta = math.atan(t / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    if df % 2 == 1:
        if df == 1:
            return 2 * theta / math.pi
        term, total = c, c
        for k in range(2, df - 1, 2):
            term *= c * c * k / (k + 1)
            total += term
        return 2 / math.pi * (theta + s * total)
    term, total = 1.0, 1.0
    for k in range(2, df, 2):
        term *= c * c * (k - 1) / k
        total += term
    return s * total


@functools.cache
def t_quantile_975(df: int) -> float:
    """The t value with 2.5% in each tail (t(0.975, df)), by bisection on the exact CDF."""
    low, high = 0.0, 1.0
    while t_two_sided_probability(high, df) < 0.95:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        if t_two_sided_probability(middle, df) < 0.95:
            low = middle
        else:
            high = middle
        if high - low < 1e-12:
            break
    return (low + high) / 2


# --------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class MeanCI:
    n: int
    mean: float | None
    sd: float | None
    low: float | None
    high: float | None

    @property
    def enough(self) -> bool:
        return self.mean is not None


def sample_sd(values: Sequence[float]) -> float | None:
    n = len(values)
    if n < 2:
        return None
    mean = math.fsum(values) / n
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))


def mean_ci(values: Iterable[float], *, min_n: int = MIN_PAIRED) -> MeanCI:
    """Mean with its t-based 95% CI; None everywhere below `min_n` values."""
    values = [float(v) for v in values if v is not None]
    n = len(values)
    if n < max(min_n, 2):
        return MeanCI(n=n, mean=None, sd=None, low=None, high=None)
    mean = math.fsum(values) / n
    sd = sample_sd(values)
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return MeanCI(n=n, mean=mean, sd=sd, low=mean - half, high=mean + half)


@dataclass
class Correlation:
    n: int
    r: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def enough(self) -> bool:
        return self.r is not None


def correlation(
    xs: Sequence[float], ys: Sequence[float], *, min_n: int = MIN_PAIRED
) -> Correlation:
    """Pearson's r with its Fisher-z 95% CI; None below `min_n` pairs or with no spread."""
    n = len(xs)
    if n != len(ys):
        raise ValueError("xs and ys must pair up")
    if n < max(min_n, 4):
        return Correlation(n=n)
    mean_x, mean_y = math.fsum(xs) / n, math.fsum(ys) / n
    sxy = math.fsum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    sxx = math.fsum((x - mean_x) ** 2 for x in xs)
    syy = math.fsum((y - mean_y) ** 2 for y in ys)
    if sxx <= 0 or syy <= 0:
        return Correlation(n=n)
    r = max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))
    if abs(r) == 1.0:
        return Correlation(n=n, r=r, low=r, high=r)
    z, half = math.atanh(r), Z_95 / math.sqrt(n - 3)
    return Correlation(n=n, r=r, low=math.tanh(z - half), high=math.tanh(z + half))


def effect_size_dz(mean_change: float, sd_change: float, n: int) -> tuple[float, float, float]:
    """Cohen's d_z with its approximate 95% CI: (d, low, high)."""
    if sd_change <= 0:
        raise ValueError("the SD of the changes must be above 0 for an effect size")
    d = mean_change / sd_change
    se = math.sqrt(1 / n + d * d / (2 * n))
    return d, d - Z_95 * se, d + Z_95 * se


@dataclass
class PairedChange:
    """Paired change on one scale between baseline and one later timepoint."""

    code: str
    scale: str
    n: int
    left_out: dict[str, int]
    mean_change: float | None = None
    sd_change: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    d: float | None = None
    d_low: float | None = None
    d_high: float | None = None
    categories: dict[str, int] = field(default_factory=dict)
    recovered: int | None = None
    reliable_recovery: int | None = None
    cases_at_baseline: int | None = None
    rci: float | None = None
    rci_basis: str = ""
    rci_missing: str = ""

    @property
    def enough(self) -> bool:
        return self.mean_change is not None

    @property
    def reliable_improvement(self) -> int | None:
        return self.categories.get(RELIABLE_IMPROVEMENT)

    @property
    def no_reliable_change(self) -> int | None:
        return self.categories.get(NO_RELIABLE_CHANGE)

    @property
    def reliable_deterioration(self) -> int | None:
        return self.categories.get(RELIABLE_DETERIORATION)

    @property
    def left_out_total(self) -> int:
        return sum(self.left_out.values())


@functools.lru_cache(maxsize=65536)
def _classify(code: str, scale: str, before: float, after: float, sd: float | None):
    # Scores come from small discrete sets, so a large service repeats the same pairs
    # many times; classify itself is pure, so its answers can be reused.
    if sd is None:
        return classify(code, scale, before=before, after=after)
    return classify(code, scale, before=before, after=after, sd=sd)


def needs_baseline_sd(code: str, scale: str) -> bool:
    """True where the scale's RCI is computed and its definition records no norm SD."""
    definition = get_instrument(code).scale(scale).rci
    return definition is not None and definition.computed and definition.norm_sd is None


def paired_change(
    code: str,
    scale: str,
    pairs: Sequence[tuple[float, float]],
    *,
    left_out: dict[str, int] | None = None,
    baseline_sd: float | None = None,
    min_n: int = MIN_PAIRED,
) -> PairedChange:
    """Summarise (before, after) pairs. `left_out` says who is missing and why.

    `baseline_sd` is the service's own baseline SD, used only where the scale's RCI is
    computed from it (MEASURES.md "others"); fixed RCIs and recorded norms are left alone.
    """
    result = PairedChange(code=code, scale=scale, n=len(pairs), left_out=dict(left_out or {}))
    if len(pairs) < min_n:
        return result
    changes = [after - before for before, after in pairs]
    summary = mean_ci(changes, min_n=min_n)
    result.mean_change, result.sd_change = summary.mean, summary.sd
    result.ci_low, result.ci_high = summary.low, summary.high
    if summary.sd:
        result.d, result.d_low, result.d_high = effect_size_dz(summary.mean, summary.sd, len(pairs))

    sd = baseline_sd if needs_baseline_sd(code, scale) else None
    try:
        classified = [_classify(code, scale, float(b), float(a), sd) for b, a in pairs]
    except ValueError as error:
        # No RCI can be reached (e.g. no reliability recorded): counts are not shown.
        result.rci_missing = str(error)
        return result
    result.rci, result.rci_basis = classified[0].rci, classified[0].rci_basis
    result.categories = {RELIABLE_IMPROVEMENT: 0, NO_RELIABLE_CHANGE: 0, RELIABLE_DETERIORATION: 0}
    for change in classified:
        result.categories[change.category] += 1
    if classified[0].cutoff is not None:
        result.cases_at_baseline = sum(1 for c in classified if c.case_before)
        result.recovered = sum(1 for c in classified if c.recovered)
        result.reliable_recovery = sum(1 for c in classified if c.reliable_recovery)
    return result


# --------------------------------------------------------------------------- rates, shares


def rate_per_person_year(events: float, person_years: float) -> float | None:
    if person_years <= 0:
        return None
    return events / person_years


def share(count: int, total: int) -> float | None:
    return None if total <= 0 else count / total


def suppress(count: int | None) -> int | str | None:
    """A count as shown on a service-level view: below 5 it is "fewer than 5"."""
    if count is None:
        return None
    return FEWER_THAN_5 if count < SUPPRESS_BELOW else count
