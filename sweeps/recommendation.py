"""Which freeze strategy to use, decided on evidence.

The search's best trial of each strategy won on one validation split, chosen among many trials:
its score is biased upwards. So the finalists (the best strategies of the search) are evaluated
again, on cross-validation folds × fresh seeds, each scored after the number of epochs its best
trial needed (not at its best epoch on the fold). Then, in this order:

1. a finalist whose interval does not clear the chance level has learnt nothing that the data
   shows; when none clears it, nothing is recommended;
2. the finalist with the best mean wins, unless the paired difference to another finalist is
   within noise (its interval holds 0) and small (at most ``equivalence``, 1 point by
   default): then they are tied, and the cheapest of the tied ones is chosen (10 % fewer
   trainable parameters, or as many and 20 % less time per epoch). A difference within noise
   but larger is not a tie (few folds give wide intervals: no evidence of a difference is no
   evidence of equality): the better mean stands, and the text says the data could not
   separate them.
"""

import math
from dataclasses import asdict, dataclass, field

from probe_core.metrics import metric_range
from sweeps.evidence import Interval, corrected_interval, paired_difference

BETTER = "better"  # beats the runner-up beyond noise
UNSEPARATED = "unseparated"  # ahead of the runner-up by more than a tie, within noise
TIED = "tied"  # within noise and within a tie: the cheapest of the tied finalists
ONLY = "only"  # a single finalist was evaluated
CHANCE = "chance"  # no finalist beats chance: nothing recommended
UNEVALUATED = "unevaluated"  # no evaluation trials: the search's best trial, no interval

Scores = dict[tuple[int, int], float]
"""A finalist's scores by (fold, seed)."""


@dataclass(frozen=True)
class Finalist:
    strategy: str
    score: Interval
    trainable_params: int | None
    epoch_time: float | None


@dataclass
class Recommendation:
    verdict: str
    strategy: str | None  # None when nothing beats chance
    metric: str
    chance: float
    folds: int
    seeds: int
    finalists: list[Finalist]
    runner_up: str | None = None
    difference: Interval | None = None  # the recommended minus the runner-up, paired
    reason: str = ""
    test_metrics: dict | None = field(default=None)

    @property
    def chosen(self) -> Finalist | None:
        return next((f for f in self.finalists if f.strategy == self.strategy), None)

    def text(self) -> str:
        """What the sweep prints, ``recommendation.txt`` holds and ``probe-sweep report``
        shows: the same figures as ``report.json`` and the MLflow parent run."""
        seeds = f"{self.seeds} seed{'s' * (self.seeds != 1)}"
        scored = self.metric.removeprefix("val_")  # on the folds, not the validation split
        evaluated = f"{scored} on {self.folds} folds × {seeds}, chance {self.chance:.3f}"
        if self.verdict == CHANCE:
            best = self.finalists[0]
            return "\n".join(
                [
                    f"No strategy beats chance: the best, {best.strategy}, scores "
                    f"{best.score.text()} ({evaluated}).",
                    "  Nothing is recommended and no best config was written. Likely causes: the "
                    "signal's scale (data.unit: MNE data is volts), labels that do not match the "
                    "epochs, too few epochs (training.max_epochs) or a learning rate too low "
                    "(optimizer.lr).",
                ]
            )
        lines = [f"Recommended freeze strategy: {self.strategy} ({self.reason})"]
        if self.verdict == UNEVALUATED:
            chosen = self.chosen
            lines.append(f"  {self.metric}: {chosen.score.mean:.3f} (best epoch of its best trial)")
        else:
            lines.append(f"  {evaluated}:")
            lines += [f"    {_finalist_line(f)}" for f in self.finalists]
        if self.difference is not None:
            lines.append(f"  difference to {self.runner_up}: {self.difference.text(signed=True)}")
        if self.test_metrics:
            shown = ", ".join(
                f"{k} {v:.3f}"
                for k, v in self.test_metrics.items()
                if k in ("balanced_accuracy", "accuracy", "f1_macro", "auroc")
            )
            lines.append(f"  held-out test: {shown}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Recommendation":
        """As ``report.json`` holds it."""
        finalists = [
            Finalist(**{**f, "score": Interval(**f["score"])}) for f in values["finalists"]
        ]
        difference = values["difference"] and Interval(**values["difference"])
        return cls(**{**values, "finalists": finalists, "difference": difference})


def _finalist_line(finalist: Finalist) -> str:
    cost = []
    if finalist.trainable_params is not None:
        cost.append(f"{finalist.trainable_params:,} trainable parameters")
    if finalist.epoch_time is not None:
        cost.append(f"{finalist.epoch_time:.2f} s per epoch")
    return f"{finalist.strategy:<16} {finalist.score.text()}   {', '.join(cost)}"


CHEAPER_PARAMS = 1.1
CHEAPER_TIME = 1.2
"""How much fewer trainable parameters (or, with as many, less time per epoch) make a finalist
cheaper: smaller differences are timing noise or rounding, and the better mean stands."""


def _cost(finalist: Finalist) -> tuple[float, float]:
    return (
        math.inf if finalist.trainable_params is None else finalist.trainable_params,
        math.inf if finalist.epoch_time is None else finalist.epoch_time,
    )


def _cheaper_by(first: Finalist, second: Finalist) -> str | None:
    """How much cheaper ``first`` is than ``second``, in words; None when it is not."""
    (params, time), (their_params, their_time) = _cost(first), _cost(second)
    if their_params >= params * CHEAPER_PARAMS:
        ratio = their_params / max(params, 1)
        shown = f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.1f}"
        return f"{shown}× fewer trainable parameters"
    if params < their_params * CHEAPER_PARAMS and their_time >= time * CHEAPER_TIME:
        return f"{their_time / time:.1f}× less time per epoch"
    return None


def recommend(
    scores: dict[str, Scores],
    costs: dict[str, tuple[int | None, float | None]],
    metric: str,
    mode: str,
    chance: float,
    folds: int,
    seeds: int,
    equivalence: float = 0.01,
) -> Recommendation:
    """The recommendation from the finalists' ``scores`` (by strategy), with their ``costs``
    (trainable parameters, seconds per epoch), the metric's ``chance`` level and the difference
    that counts as a tie (``equivalence``)."""
    sign = 1.0 if mode == "max" else -1.0
    bounds = metric_range(metric.removeprefix("val_"))  # scored on the folds

    def score(values: Scores) -> Interval:
        return corrected_interval(list(values.values()), folds).within(*bounds)

    finalists = [
        Finalist(strategy, score(values), *costs[strategy])
        for strategy, values in scores.items()
        if values
    ]
    finalists.sort(key=lambda f: -sign * f.score.mean)
    common = {"metric": metric, "chance": chance, "folds": folds, "seeds": seeds}

    def beats_chance(finalist: Finalist) -> bool:
        bound = finalist.score.low if sign > 0 else finalist.score.high
        return sign * (bound - chance) > 0

    learnt = [f for f in finalists if beats_chance(f)]
    if not learnt:
        return Recommendation(CHANCE, None, finalists=finalists, **common)
    top = learnt[0]

    def difference(first: Finalist, second: Finalist) -> Interval | None:
        """``first`` better than ``second`` (positive), paired by fold and seed."""
        found = paired_difference(scores[first.strategy], scores[second.strategy], folds)
        if found is None or sign > 0:
            return found
        return Interval(-found.mean, -found.high, -found.low, found.n)

    def is_tie(found: Interval | None) -> bool:
        return found is None or (found.contains(0.0) and abs(found.mean) <= equivalence)

    tied = [top] + [f for f in learnt[1:] if is_tie(difference(top, f))]
    chosen = top
    for finalist in tied[1:]:
        if _cheaper_by(finalist, chosen):
            chosen = finalist
    others = [f for f in finalists if f is not chosen]
    runner_up = others[0] if others else None
    gap = runner_up and difference(chosen, runner_up)
    if runner_up is None:
        verdict, reason = ONLY, "the only finalist"
    elif len(tied) > 1:
        other = next(f for f in tied if f is not chosen)
        cheaper = _cheaper_by(chosen, other)
        verdict = TIED
        reason = (
            f"tied within noise: chose {chosen.strategy}, {cheaper}"
            if cheaper
            else f"tied within noise with {other.strategy}, as cheap: the better mean"
        )
    elif gap is not None and gap.contains(0.0):
        verdict = UNSEPARATED
        reason = (
            f"ahead of {runner_up.strategy} by {gap.mean:+.3f}, more than a tie "
            f"({equivalence:g}) but within noise: the better mean; more folds or seeds would "
            "separate them"
        )
    else:
        verdict, reason = BETTER, f"better than {runner_up.strategy} beyond noise"
    return Recommendation(
        verdict,
        chosen.strategy,
        finalists=finalists,
        runner_up=runner_up and runner_up.strategy,
        difference=gap,
        reason=reason,
        **common,
    )


def unevaluated(
    strategy: str,
    best: float,
    cost: tuple[int | None, float | None],
    metric: str,
    chance: float,
) -> Recommendation:
    """The search's best trial, when no finalist was evaluated (``confirmation.seeds: 0``)."""
    score = Interval(best, -math.inf, math.inf, 1)
    return Recommendation(
        UNEVALUATED,
        strategy,
        metric=metric,
        chance=chance,
        folds=0,
        seeds=0,
        finalists=[Finalist(strategy, score, *cost)],
        reason="the search's best trial; not evaluated on folds (confirmation.seeds is 0), so "
        "without an interval or a test against chance",
    )
