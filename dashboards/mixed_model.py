"""Every timepoint of one scale, three ways: a mixed model, completers and LOCF.

Pure functions: no database, no Django. Each takes long-format rows (person, timepoint,
score), the timepoints in schedule order (the first is the baseline) and their names, and
returns a `View`: for each timepoint up to the latest one with any score, the estimated
mean with its 95% CI and the change from baseline with its 95% CI.

- Mixed model: a repeated-measures linear mixed model of every score anyone gave,
  `score ~ C(timepoint)` with a random intercept per person (statsmodels MixedLM, REML).
  The estimated mean at a timepoint is the intercept plus its coefficient, the change from
  baseline is the coefficient; both with Wald 95% CIs (normal quantile, as statsmodels's
  own conf_int). A timepoint where fewer than `min_n` people have a score is left out of
  the fit and shown as not enough data, as every statistic from fewer people is on the
  dashboards. If the fit fails or does not converge, the view says why, never raises.
- Completers: only the people with a score at every timepoint up to the latest one with
  scores; t-based CIs of the means and of the paired changes.
- LOCF: everyone with a baseline score; a missing later score is replaced by that person's
  last score before it; t-based CIs as for completers.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from dashboards.stats import MIN_PAIRED, Z_95, mean_ci

MIXED = "mixed"
COMPLETERS = "completers"
LOCF = "locf"
VIEW_ORDER = (MIXED, COMPLETERS, LOCF)
VIEW_NAMES = {
    MIXED: "Mixed model (everyone's scores)",
    COMPLETERS: "Completers",
    LOCF: "Last observation carried forward",
}
# One plain sentence for each: what the view has to take on trust.
ASSUMES = {
    MIXED: (
        "Uses every score anyone gave, and assumes that whether a questionnaire is missing "
        "depends only on what is already known, such as the person's earlier scores "
        "(missing at random)."
    ),
    COMPLETERS: (
        "Uses only the people with a score at every timepoint so far, and assumes that the "
        "people who stayed are like the people who left."
    ),
    LOCF: (
        "Uses everyone with a baseline score, filling each missing score with the person's "
        "last one, and so assumes that nobody changes after their last questionnaire."
    ),
}

# The views' names and assumptions in the order the pages show them.
EXPLAINED = tuple({"name": VIEW_NAMES[k], "assumes": ASSUMES[k]} for k in VIEW_ORDER)

Row = tuple[object, str, float]


@dataclass(frozen=True)
class Estimate:
    timepoint: str
    name: str
    n: int
    mean: float | None = None
    low: float | None = None
    high: float | None = None
    change: float | None = None
    change_low: float | None = None
    change_high: float | None = None

    @property
    def enough(self) -> bool:
        return self.mean is not None


@dataclass(frozen=True)
class View:
    kind: str
    people: int
    estimates: list[Estimate] = field(default_factory=list)
    # Why there are no estimates at all ("" when there are).
    not_estimable: str = ""

    @property
    def estimable(self) -> bool:
        return not self.not_estimable

    @property
    def name(self) -> str:
        return VIEW_NAMES[self.kind]

    @property
    def assumes(self) -> str:
        return ASSUMES[self.kind]

    def at(self, timepoint: str) -> Estimate | None:
        return next((e for e in self.estimates if e.timepoint == timepoint), None)


def _by_person(rows: Iterable[Row], keys: Sequence[str]) -> dict[object, dict[str, float]]:
    wanted = set(keys)
    people: dict[object, dict[str, float]] = defaultdict(dict)
    for person, timepoint, score in rows:
        if score is not None and timepoint in wanted:
            people[person][timepoint] = float(score)
    return dict(people)


def _shown_keys(people: dict, keys: Sequence[str]) -> list[str]:
    """The timepoints up to the latest one at which anyone has a score."""
    seen = {t for scores in people.values() for t in scores}
    last = max((i for i, k in enumerate(keys) if k in seen), default=-1)
    return list(keys[: last + 1])


def _observed_view(kind, people, keys, names, min_n) -> View:
    """Means and paired changes from baseline over complete per-person series."""
    baseline = keys[0]
    if len(people) < min_n:
        return View(
            kind,
            len(people),
            [Estimate(k, names[k], len(people)) for k in keys],
            not_estimable=f"fewer than {min_n} people",
        )
    estimates = []
    for key in keys:
        at = mean_ci([s[key] for s in people.values()], min_n=min_n)
        change = (
            mean_ci([s[key] - s[baseline] for s in people.values()], min_n=min_n)
            if key != baseline
            else None
        )
        estimates.append(
            Estimate(
                key,
                names[key],
                len(people),
                at.mean,
                at.low,
                at.high,
                *((change.mean, change.low, change.high) if change else (None, None, None)),
            )
        )
    return View(kind, len(people), estimates)


def completers(
    rows: Iterable[Row], keys: Sequence[str], names: dict[str, str], *, min_n: int = MIN_PAIRED
) -> View:
    """The people with a score at every timepoint up to the latest one with scores."""
    people = _by_person(rows, keys)
    shown = _shown_keys(people, keys)
    if len(shown) < 2:
        return View(COMPLETERS, 0, not_estimable="no scores after baseline yet")
    complete = {p: s for p, s in people.items() if all(k in s for k in shown)}
    return _observed_view(COMPLETERS, complete, shown, names, min_n)


def locf(
    rows: Iterable[Row], keys: Sequence[str], names: dict[str, str], *, min_n: int = MIN_PAIRED
) -> View:
    """Everyone with a baseline score, each missing score their last one before it."""
    people = _by_person(rows, keys)
    shown = _shown_keys(people, keys)
    if len(shown) < 2:
        return View(LOCF, 0, not_estimable="no scores after baseline yet")
    filled = {}
    for person, scores in people.items():
        if shown[0] not in scores:
            continue
        series, last = {}, None
        for key in shown:
            last = scores.get(key, last)
            series[key] = last
        filled[person] = series
    return _observed_view(LOCF, filled, shown, names, min_n)


def mixed_model(
    rows: Iterable[Row], keys: Sequence[str], names: dict[str, str], *, min_n: int = MIN_PAIRED
) -> View:
    """The repeated-measures mixed model's estimated means and changes from baseline."""
    people = _by_person(rows, keys)
    shown = _shown_keys(people, keys)
    counts = {k: sum(1 for s in people.values() if k in s) for k in shown}
    fitted = [k for k in shown if counts[k] >= min_n]
    thin = [Estimate(k, names[k], counts[k]) for k in shown]
    if len(shown) < 2:
        return View(MIXED, len(people), thin, not_estimable="no scores after baseline yet")
    if not fitted or fitted[0] != keys[0]:
        return View(
            MIXED, len(people), thin, not_estimable=f"fewer than {min_n} people at baseline"
        )
    if len(fitted) < 2:
        return View(
            MIXED,
            len(people),
            thin,
            not_estimable=f"fewer than {min_n} people at every timepoint after baseline",
        )
    position = {k: i for i, k in enumerate(fitted)}
    data = [
        (str(person), f"{position[k]:02d}", score)
        for person, scores in people.items()
        for k, score in scores.items()
        if k in position
    ]
    fit = fit_mixed_model(data)
    if isinstance(fit, str):
        return View(MIXED, len(people), thin, not_estimable=fit)
    means, changes = fit
    estimates = []
    for key in shown:
        if key not in position:
            estimates.append(Estimate(key, names[key], counts[key]))
            continue
        level = f"{position[key]:02d}"
        change = changes.get(level, (None, None, None))
        estimates.append(Estimate(key, names[key], counts[key], *means[level], *change))
    return View(MIXED, sum(1 for s in people.values() if set(s) & set(fitted)), estimates)


def fit_mixed_model(data: list[tuple[str, str, float]]):
    """Fit `score ~ C(timepoint)` with a random intercept per person, by REML.

    `data` is (person, timepoint level, score); the levels sort in schedule order, so the
    first is the baseline and the reference. Returns ({level: (mean, low, high)},
    {level: (change, low, high)} for the levels after the first), or a sentence saying why
    the model could not be estimated.
    """
    import numpy as np
    import pandas as pd
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    frame = pd.DataFrame(data, columns=["person", "timepoint", "score"])
    if frame["score"].nunique() < 2:
        return "every score is the same, so there is no variation to model"
    levels = sorted(frame["timepoint"].unique())
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = smf.mixedlm("score ~ C(timepoint)", frame, groups=frame["person"])
            result = model.fit(reml=True)
    except (ValueError, np.linalg.LinAlgError) as error:
        return f"the model could not be fitted ({type(error).__name__})"
    failed = [
        w
        for w in caught
        if issubclass(w.category, ConvergenceWarning)
        and "boundary" not in str(w.message)
        and "singular" not in str(w.message)
    ]
    if not result.converged or failed:
        return "the model's fit did not converge"
    names = list(result.fe_params.index)
    params = result.fe_params.to_numpy()
    cov = result.cov_params().loc[names, names].to_numpy()
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(cov))):
        return "the model's fit did not converge"
    means, changes = {}, {}
    for level in levels:
        weights = np.zeros(len(names))
        weights[0] = 1.0
        if level != levels[0]:
            index = names.index(f"C(timepoint)[T.{level}]")
            weights[index] = 1.0
            change, var = float(params[index]), float(cov[index, index])
            half = Z_95 * math.sqrt(max(var, 0.0))
            changes[level] = (change, change - half, change + half)
        mean = float(weights @ params)
        half = Z_95 * math.sqrt(max(float(weights @ cov @ weights), 0.0))
        means[level] = (mean, mean - half, mean + half)
    return means, changes


def scale_views(
    rows: Iterable[Row], keys: Sequence[str], names: dict[str, str], *, min_n: int = MIN_PAIRED
) -> dict[str, View]:
    """The three views of one scale, by kind."""
    rows = list(rows)
    return {
        MIXED: mixed_model(rows, keys, names, min_n=min_n),
        COMPLETERS: completers(rows, keys, names, min_n=min_n),
        LOCF: locf(rows, keys, names, min_n=min_n),
    }
