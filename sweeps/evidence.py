"""The statistics behind a recommendation: a finalist's score over folds × seeds with its 95 %
interval, and the paired difference between two finalists.

Folds of one dataset share most of their training data, so their scores are correlated and the
plain t-interval is too narrow. The intervals here use the corrected resampled t-test of Nadeau
& Bengio (2003): the variance of the mean is ``s² (1/n + n_val/n_train)`` instead of ``s²/n``,
with ``n_val/n_train = 1/(k - 1)`` for k equal folds.
"""

import math
import statistics
from dataclasses import dataclass

from scipy import stats

LEVEL = 0.95


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

    def text(self, signed: bool = False) -> str:
        number = "{:+.3f}" if signed else "{:.3f}"
        shown = [number.format(v) for v in (self.mean, self.low, self.high)]
        return f"{shown[0]} (95% CI {shown[1]} to {shown[2]})"


def corrected_interval(values: list[float], folds: int) -> Interval:
    """The mean of ``values`` (one per fold × seed) with its corrected resampled t-interval;
    a single value has an infinitely wide one."""
    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return Interval(mean, -math.inf, math.inf, n)
    ratio = 1.0 / (folds - 1) if folds > 1 else 1.0
    spread = math.sqrt(statistics.variance(values) * (1.0 / n + ratio))
    half = stats.t.ppf(0.5 + LEVEL / 2, df=n - 1) * spread
    return Interval(mean, mean - half, mean + half, n)


def paired_difference(
    first: dict[tuple, float], second: dict[tuple, float], folds: int
) -> Interval | None:
    """``first - second`` over the (fold, seed) pairs both have; None without a pair."""
    keys = sorted(set(first) & set(second))
    if not keys:
        return None
    return corrected_interval([first[k] - second[k] for k in keys], folds)
