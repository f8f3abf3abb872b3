"""What a finished sweep says: its leaderboard, its strategies ranked, how its trials ended,
and the recommendation (``recommendation.py``) drawn from them."""

import math
from dataclasses import asdict, dataclass
from typing import Any

from probe_core.classical import ReferenceScores
from sweeps.evaluation import Evaluation, read_evaluation
from sweeps.learning_rate_choice import choose_learning_rate
from sweeps.ledger import TrialRecord
from sweeps.protocol import ENDED, TrialStatus
from sweeps.ranking import StrategyRank, format_leaderboard, leaderboard, rank_strategies
from sweeps.recommendation import Recommendation, judge_reference, recommend, unevaluated
from sweeps.search_gap import search_gaps
from sweeps.spec import Confirmation


@dataclass
class Conclusion:
    """What a finished sweep says: its leaderboard, its strategies ranked, how its trials
    ended, and the recommendation (``None`` when no trial reported a value)."""

    board: list[dict[str, Any]]
    ranks: list[StrategyRank]
    counts: dict[TrialStatus, int]
    lost: int
    recommendation: Recommendation | None
    metric: str

    @property
    def result(self) -> bool:
        """Whether a strategy is recommended (no trial reported, or none beats chance: no)."""
        return self.recommendation is not None and self.recommendation.strategy is not None

    @property
    def best_trial_id(self) -> str:
        """The best search trial of the recommended strategy."""
        if self.recommendation is None:  # as reading ``None.strategy`` would
            raise AttributeError("'NoneType' object has no attribute 'strategy'")
        strategy = self.recommendation.strategy
        return next(r.best_trial_id for r in self.ranks if r.strategy == strategy)

    def counts_line(self) -> str:
        finished, pruned, failed = (self.counts[s] for s in ENDED)
        lost = f" ({self.lost} lost with a killed driver)" if self.lost else ""
        total = sum(self.counts.values())
        return f"{total} trials: {finished} finished, {pruned} pruned, {failed} failed{lost}"

    def leaderboard_text(self) -> str:
        return format_leaderboard(self.board, self.metric)

    def as_report(self) -> dict[str, Any]:
        """``report.json``."""
        return {
            "leaderboard": self.board,
            "strategies": [asdict(r) for r in self.ranks],
            "recommendation": self.recommendation.as_dict() if self.recommendation else None,
            "counts": {str(status): n for status, n in self.counts.items()},
        }


def costs_of(
    board: list[dict[str, Any]], ranks: list[StrategyRank]
) -> dict[str, tuple[int | None, float | None]]:
    """Each strategy's cost as its best search trial's: trainable parameters, seconds per
    epoch (what the verdict's cheaper-of-two rule reads)."""
    rows = {row["trial_id"]: row for row in board}
    return {
        r.strategy: (rows[r.best_trial_id]["trainable_params"], rows[r.best_trial_id]["epoch_time"])
        for r in ranks
    }


def judge_finalists(
    confirmed: list[TrialRecord],
    costs: dict[str, tuple[int | None, float | None]],
    *,
    plan: Confirmation,
    metric: str,
    mode: str,
    chance: float,
) -> tuple[Evaluation, Recommendation]:
    """The finalists' evaluation from their ``confirmed`` trials, and the verdict on it: the
    report's, and the searcher's when it plans the recommended finalist's other learning
    rates."""
    evaluation = read_evaluation(
        confirmed,
        list(dict.fromkeys(r.strategy for r in confirmed)),
        folds=plan.folds,
        repetitions=plan.seeds,
        metric=metric.removeprefix("val_"),
        chance=chance,
        equivalence=plan.equivalence,
    )
    return evaluation, recommend(evaluation, costs, metric, mode)


def conclude(
    searched: list[TrialRecord],
    confirmed: list[TrialRecord],
    *,
    plan: Confirmation,
    metric: str,
    mode: str,
    chance: float,
    search_trained: int,
    reference: ReferenceScores | None = None,
    learning_rate_trials: list[TrialRecord] | None = None,
) -> Conclusion:
    """Rank the ``searched`` trials and recommend a strategy from the ``confirmed`` ones (the
    finalists' evaluation trials), none when no trial reported, and its learning rate from the
    ``learning_rate_trials`` (its evaluation at other learning rates); hold the classical
    ``reference`` against them. ``chance``: the metric's chance level on the whole
    data; ``search_trained``: a search trial's training examples."""
    board = leaderboard(searched, metric, mode)
    ranks = rank_strategies(searched, metric, mode, plan.top_k)
    counts = {status: sum(r.status == status for r in searched) for status in ENDED}
    lost = sum(r.status == TrialStatus.LOST for r in searched)
    costs = costs_of(board, ranks)
    recommendation = None
    evaluation: Evaluation | None = None
    if ranks and (plan.seeds == 0 or not confirmed):
        top = ranks[0]
        why = "confirmation.seeds is 0" if plan.seeds == 0 else "its evaluation did not run"
        recommendation = unevaluated(
            top.strategy, top.best, costs[top.strategy], metric, chance, why
        )
    elif ranks:
        evaluation, recommendation = judge_finalists(
            confirmed, costs, plan=plan, metric=metric, mode=mode, chance=chance
        )
        gaps = search_gaps(
            recommendation, ranks, searched, confirmed, mode=mode, search_trained=search_trained
        )
        recommendation.gaps = [gap.text() for gap in gaps]
        if recommendation.strategy is not None:
            best = next(r for r in ranks if r.strategy == recommendation.strategy)
            searched_lr = next(
                r.config["optimizer"]["lr"] for r in searched if r.trial_id == best.best_trial_id
            )
            recommendation.learning_rate = choose_learning_rate(
                recommendation.strategy,
                searched_lr,
                evaluation,
                learning_rate_trials or [],
                metric.removeprefix("val_"),
                mode,
            )
    if recommendation is not None and reference is not None:
        scored = metric.removeprefix("val_")
        scores = {
            key: fold.metrics[scored]
            for key, fold in reference.folds.items()
            if math.isfinite(fold.metrics[scored])
        }
        recommendation.reference = judge_reference(
            recommendation,
            evaluation,
            scores,
            kind=reference.kind,
            mode=mode,
            test_metrics=reference.test_metrics,
            seconds=reference.seconds,
            transferred=reference.transferred,
        )
    return Conclusion(board, ranks, counts, lost, recommendation, metric)
