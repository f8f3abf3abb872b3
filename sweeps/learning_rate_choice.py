"""Which learning rate of the recommended strategy to deliver: the search's, or another one
that scored better on the same folds (``Confirmation.learning_rate_factors``).

A search of a few trials per strategy tries few learning rates, and a strategy often wins it at
its default one: on the selection benchmark most of the delivered configs' regret was their
learning rate (docs/SELECTION.md). Once the verdict has recommended a finalist, its best
config is therefore also evaluated at other learning rates on the finalists' folds and
repetitions, and the learning rate whose paired difference to the search's is the best is
delivered. The strategy's verdict is left to the search's config alone: the chosen rate's mean
is the best of several on the same folds, so optimistic, and says so.
"""

from dataclasses import dataclass
from typing import Any

from sweeps.evaluation import Evaluation, Scores, fold_score, key_of
from sweeps.evidence import Interval, paired_difference
from sweeps.ledger import TrialRecord


def with_learning_rate(trial: dict[str, Any], lr: float) -> dict[str, Any]:
    """A trial config (as a dict) at learning rate ``lr``."""
    return {**trial, "optimizer": {**trial["optimizer"], "lr": lr}}


@dataclass(frozen=True)
class LearningRateChoice:
    """The search's learning rate, the one delivered, and each other one evaluated with its
    difference to the search's on the (fold, repetition) pairs they share (better: positive;
    ``None`` where they share fewer than two)."""

    searched: float
    chosen: float
    learning_rates: list[float]
    differences: list[Interval | None]

    def text(self) -> str:
        others = [
            f"{lr:.2g}: {'not enough fold scores' if d is None else d.text(signed=True)}"
            for lr, d in zip(self.learning_rates, self.differences, strict=True)
        ]
        head = f"learning rate {self.chosen:.2g} delivered" + (
            " (the search's)"
            if self.chosen == self.searched
            else f" instead of the search's {self.searched:.2g}"
        )
        return (
            f"{head}; on the same folds against the search's: {'; '.join(others)} "
            "(the best of these is chosen, so its gain is optimistic)"
        )

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "LearningRateChoice":
        """As ``report.json`` holds it."""
        differences = [d and Interval(**d) for d in values["differences"]]
        return cls(**{**values, "differences": differences})


def choose_learning_rate(
    strategy: str,
    searched: float,
    evaluation: Evaluation,
    trials: list[TrialRecord],
    metric: str,
    mode: str,
) -> LearningRateChoice | None:
    """The learning rate to deliver for the recommended ``strategy``, whose best search trial
    ran at ``searched``, from the evaluation ``trials`` of that config at other learning rates
    (none when there are none, or they are another finalist's: a sweep before 2026-12-03
    evaluated the leading finalist's). ``metric`` without ``val_``."""
    trials = [t for t in trials if t.strategy == strategy]
    searched_scores = evaluation.scores.get(strategy)
    if not trials or not searched_scores:
        return None
    by_rate: dict[float, Scores] = {}
    for trial in trials:
        value = fold_score(trial, metric)
        if value is not None:
            by_rate.setdefault(trial.config["optimizer"]["lr"], {})[key_of(trial)] = value
    rates = sorted({t.config["optimizer"]["lr"] for t in trials})
    differences: list[Interval | None] = []
    for lr in rates:
        found = paired_difference(
            by_rate.get(lr, {}), searched_scores, evaluation.scored_share, evaluation.parts
        )
        differences.append(found if found is None or mode == "max" else found.negated())
    gains = {lr: d.mean for lr, d in zip(rates, differences, strict=True) if d is not None}
    best = max(gains, key=lambda lr: gains[lr], default=searched)
    chosen = best if gains.get(best, 0.0) > 0.0 else searched
    return LearningRateChoice(searched, chosen, rates, differences)
