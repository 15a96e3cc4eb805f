"""Pure statistics for the dashboards: no database, no Django.

Conventions, shown on the pages:
- 95% confidence interval of a mean: mean +/- t(0.975, n - 1) x SD / sqrt(n), SD with n - 1.
- Change is after minus before. The paired effect size is Cohen's d_z: mean change / SD of
  the changes. Its 95% CI uses the usual large-sample standard error
  SE(d_z) = sqrt(1/n + d_z^2 / (2n)) with z = 1.959964 (an approximation; say so).
- Reliable change and reliable recovery come only from measures.change.classify, with the
  SD rci_basis chooses (the service's own baseline SD from 20 baseline scores up, else the
  published one); recovery needs only the scale's cut-off.
- Association between two measures: Pearson's r, its 95% CI from Fisher's z transform
  (atanh(r) +/- z / sqrt(n - 3)); it describes association, never cause.
- Below MIN_PAIRED people a figure is "not enough data", never a number.
- On the service page, counts are suppressed by dashboards.suppression.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from scipy import stats as scipy_stats

from measures.change import (
    NO_RELIABLE_CHANGE,
    RELIABLE_DETERIORATION,
    RELIABLE_IMPROVEMENT,
    classify,
    rci,
)
from measures.definitions import get_instrument

# The normal distribution's 97.5th centile, 1.959964 to six places.
Z_95 = float(scipy_stats.norm.ppf(0.975))
MIN_PAIRED = 5
# A computed RCI uses the service's own baseline SD from this many baseline scores up.
MIN_BASELINE_FOR_OWN_SD = 20
NOT_ENOUGH_DATA = "not enough data"


# --------------------------------------------------------------------------- Student's t


@functools.cache
def t_quantile_975(df: int) -> float:
    """The t value with 2.5% in each tail (t(0.975, df)), from SciPy's Student's t."""
    if df < 1:
        raise ValueError(f"df must be 1 or more, not {df!r}")
    return float(scipy_stats.t.ppf(0.975, df))


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


def uses_baseline_sd(code: str, scale: str) -> bool:
    """True where the scale's RCI is computed from a baseline SD (MEASURES.md "computed")."""
    definition = get_instrument(code).scale(scale).rci
    return definition is not None and definition.computed


@dataclass(frozen=True)
class RciBasis:
    """Which SD and reliability a scale's reliable change index comes from, in words.

    `sd` is what classify is given: the service's own baseline SD where it has at least
    MIN_BASELINE_FOR_OWN_SD baseline scores, else None (the published SD recorded in the
    definition, where there is one). `rci` is None where no index can be reached.
    """

    sd: float | None
    rci: float | None
    text: str


def _unverified(code: str, scale: str, field_name: str) -> str:
    verified = get_instrument(code).is_verified(f"scales.{scale}.rci.{field_name}")
    return "" if verified else " (unverified)"


@functools.lru_cache(maxsize=4096)
def rci_basis(code: str, scale: str, own_sd: float | None, own_n: int) -> RciBasis:
    """The one rule for a scale's RCI (MEASURES.md, "Change"), with the words to show it.

    Fixed RCIs are used as published. A computed RCI takes the service's own baseline SD
    when the service has at least 20 baseline scores for the scale, else the published SD
    named in the definition's source; with neither, or with no reliability, there is none.
    """
    definition = get_instrument(code).scale(scale).rci
    if definition is None:
        return RciBasis(None, None, "no reliable change index is defined for this scale")
    if not definition.computed:
        return RciBasis(
            None, float(definition.value), f"fixed at {definition.value:g} ({definition.source})"
        )
    if definition.reliability is None:
        return RciBasis(
            None, None, "no reliable change index: no published reliability is recorded"
        )
    reliability = (
        f"reliability {definition.reliability:g}"
        f"{_unverified(code, scale, 'reliability')} ({definition.source})"
    )
    if own_sd is not None and own_n >= MIN_BASELINE_FOR_OWN_SD:
        value = rci(own_sd, definition.reliability)
        return RciBasis(
            own_sd,
            value,
            f"{value:.2f}, from this service's own baseline SD {own_sd:.2f} "
            f"({own_n} baseline scores) and {reliability}",
        )
    fewer = f"this service has {own_n} baseline scores, fewer than {MIN_BASELINE_FOR_OWN_SD}"
    if definition.norm_sd is None:
        return RciBasis(
            None, None, f"no reliable change index: {fewer}, and no published SD is recorded"
        )
    value = rci(definition.norm_sd, definition.reliability)
    return RciBasis(
        None,
        value,
        f"{value:.2f}, from the published SD {definition.norm_sd:g}"
        f"{_unverified(code, scale, 'norm_sd')} ({fewer}) and {reliability}",
    )


def paired_change(
    code: str,
    scale: str,
    pairs: Sequence[tuple[float, float]] | Mapping[tuple[float, float], int],
    *,
    left_out: dict[str, int] | None = None,
    baseline_sd: float | None = None,
    baseline_n: int = 0,
    min_n: int = MIN_PAIRED,
) -> PairedChange:
    """Summarise (before, after) pairs. `left_out` says who is missing and why.

    `pairs` are the pairs themselves, or {(before, after): how many people have it}: the
    distinct pairs of a large service are far fewer than its people, and every figure is
    the same either way (each sum is math.fsum over every person's value, in C).
    `baseline_sd` and `baseline_n` are the service's own baseline SD for the scale and how
    many baseline scores it comes from; rci_basis decides whether they are used.
    Recovery needs only a cut-off, so it is counted even where no RCI can be reached.
    """
    counts = pairs if isinstance(pairs, Mapping) else Counter(pairs)
    counts = {pair: k for pair, k in counts.items() if k}
    n = sum(counts.values())
    result = PairedChange(code=code, scale=scale, n=n, left_out=dict(left_out or {}))
    basis = rci_basis(code, scale, baseline_sd, baseline_n)
    result.rci_basis = basis.text
    if n < min_n:
        return result
    changes = [(float(after) - float(before), k) for (before, after), k in counts.items()]
    summary = mean_ci(_each(changes), min_n=min_n)
    result.mean_change, result.sd_change = summary.mean, summary.sd
    result.ci_low, result.ci_high = summary.low, summary.high
    if summary.sd:
        result.d, result.d_low, result.d_high = effect_size_dz(summary.mean, summary.sd, n)

    definition = get_instrument(code).scale(scale)
    if definition.cutoff is not None:
        result.cases_at_baseline = sum(k for (b, _a), k in counts.items() if definition.is_case(b))
        result.recovered = sum(
            k for (b, a), k in counts.items() if definition.is_case(b) and not definition.is_case(a)
        )
    if basis.rci is None:
        # No RCI can be reached: reliable change (and so reliable recovery) is not shown.
        result.rci_missing = basis.text
        return result
    classified = [
        (_classify(code, scale, float(b), float(a), basis.sd), k) for (b, a), k in counts.items()
    ]
    result.rci = classified[0][0].rci
    result.categories = {RELIABLE_IMPROVEMENT: 0, NO_RELIABLE_CHANGE: 0, RELIABLE_DETERIORATION: 0}
    for change, k in classified:
        result.categories[change.category] += k
    if definition.cutoff is not None:
        result.reliable_recovery = sum(k for c, k in classified if c.reliable_recovery)
    return result


def _each(counted: list[tuple[float, int]]) -> Iterator[float]:
    """Every value as often as it is counted: the same list of values, so the same
    figures, as from every person's own pair."""
    return itertools.chain.from_iterable(itertools.repeat(v, k) for v, k in counted)


# --------------------------------------------------------------------------- rates, shares


def rate_per_person_year(events: float, person_years: float) -> float | None:
    if person_years <= 0:
        return None
    return events / person_years


def share(count: int, total: int) -> float | None:
    return None if total <= 0 else count / total
