"""The statistics behind a recommendation: a finalist's score over folds × repetitions with its
95 % interval, and the paired difference between two finalists.

Each repetition cuts the data into k folds afresh (repeated k-fold, ``SplitConfig.repetition``),
so there are J = k·r scores. They are not independent: every fold is cut from the same examples,
so a lucky or unlucky data set moves them all, and the plain t-interval is too narrow. The
interval is the corrected repeated k-fold t-test of Bouckaert & Frank (2004), after Nadeau &
Bengio (2003): the variance of the mean is ``s² (1/J + ρ/(1 - ρ))`` with J - 1 degrees of
freedom, where ρ, the correlation between two folds' scores, is taken as the share of the
evaluation's examples a fold scores (n_scored / n, Nadeau & Bengio's n2/n). The counts come from
the evaluation trials themselves (``probe_core.training.FoldScore``), n being every example the
folds are cut from: capping the training examples per class does not make the folds share more
data. docs/SELECTION.md measures the coverage this gives.

However the fold scores agree, the interval is never narrower than the scored epochs allow
(``sampling_floor``): six folds that each score two epochs right have no spread, and a
t-interval of no width, yet seven epochs cannot show a balanced accuracy above 0.65. The floor
is the Wilson score interval of the mean as a proportion of the distinct epochs one repetition
scores (a metric on a bounded range, read as a proportion of it).

Repetitions that drew the same scored part (whole-subject folds with as many subjects as folds
can be dealt only one way) are one piece of evidence, not several: their scores are averaged
first (``by_part``), and J counts distinct parts.
"""

import math
import statistics
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TypeVar

from scipy import stats

LEVEL = 0.95
MIN_SCORES = 2
"""Fewer scores (or pairs) than this give no interval: not enough evidence."""

_Key = TypeVar("_Key", bound=Hashable)  # a score's label: a (fold, repetition), or any other


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` scores and its ``LEVEL`` interval."""

    mean: float
    low: float
    high: float
    n: int

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def within(self, lowest: float, highest: float) -> "Interval":
        """The interval cut to the values the scores can take: the t-interval's symmetry can
        reach past them near a bound (a balanced accuracy up to 1.010)."""
        return Interval(self.mean, max(self.low, lowest), min(self.high, highest), self.n)

    def negated(self) -> "Interval":
        return Interval(-self.mean, -self.high, -self.low, self.n)

    def text(self, signed: bool = False) -> str:
        number = "{:+.3f}" if signed else "{:.3f}"
        shown = [number.format(v) for v in (self.mean, self.low, self.high)]
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return f"{shown[0]} (no interval: {self.n} score{'s' * (self.n != 1)})"
        return f"{shown[0]} (95% CI {shown[1]} to {shown[2]})"


def by_part(values: dict[_Key, float], parts: dict[_Key, int]) -> list[float]:
    """One score per distinct scored part: the mean of the (fold, repetition) ``values`` whose
    ``parts`` (fingerprints of the scored examples) are the same; a key without one stands
    alone."""
    groups: dict[object, list[float]] = {}
    for key, value in values.items():
        groups.setdefault(parts.get(key, key), []).append(value)
    return [statistics.fmean(group) for group in groups.values()]


def corrected_interval(values: list[float], scored_share: float) -> Interval:
    """The mean of ``values`` (one per fold × repetition) with its corrected repeated k-fold
    t-interval, for folds that each score ``scored_share`` of the examples; fewer than
    ``MIN_SCORES`` values have an infinitely wide one."""
    n = len(values)
    mean = statistics.fmean(values)
    if n < MIN_SCORES:
        return Interval(mean, -math.inf, math.inf, n)
    correction = scored_share / (1.0 - scored_share)
    spread = math.sqrt(statistics.variance(values) * (1.0 / n + correction))
    half = stats.t.ppf(0.5 + LEVEL / 2, df=n - 1) * spread
    return Interval(mean, mean - half, mean + half, n)


def sampling_floor(interval: Interval, epochs: int, bounds: tuple[float, float]) -> Interval:
    """``interval`` widened, where needed, to the Wilson interval of its mean as a proportion
    of ``bounds`` over ``epochs`` scored epochs; unchanged for an unbounded metric (a loss)."""
    lowest, highest = bounds
    if not math.isfinite(highest - lowest) or epochs < 1:
        return interval
    share = min(max((interval.mean - lowest) / (highest - lowest), 0.0), 1.0)
    z = stats.norm.ppf(0.5 + LEVEL / 2)
    shrink = 1.0 + z * z / epochs
    centre = (share + z * z / (2 * epochs)) / shrink
    half = z / shrink * math.sqrt(share * (1 - share) / epochs + z * z / (4 * epochs * epochs))
    low, high = (lowest + (highest - lowest) * v for v in (centre - half, centre + half))
    return Interval(interval.mean, min(interval.low, low), max(interval.high, high), interval.n)


def paired_difference(
    first: dict[_Key, float],
    second: dict[_Key, float],
    scored_share: float,
    parts: dict[_Key, int] | None = None,
) -> Interval | None:
    """``first - second`` over the (fold, repetition) pairs both have, one per distinct part;
    None with fewer than ``MIN_SCORES`` (no evidence either way)."""
    shared = {key: first[key] - second[key] for key in set(first) & set(second)}
    differences = by_part(shared, parts or {})
    if len(differences) < MIN_SCORES:
        return None
    return corrected_interval(differences, scored_share)
