"""What a finished sweep says: its leaderboard, its strategies ranked, how its trials ended,
and the recommendation (``recommendation.py``) drawn from them."""

import statistics
from dataclasses import asdict, dataclass

from sweeps import protocol
from sweeps.ledger import TrialRecord
from sweeps.protocol import ENDED, TrialStatus
from sweeps.recommendation import Recommendation, Scores, recommend, unevaluated


@dataclass(frozen=True)
class StrategyRank:
    strategy: str
    n_trials: int
    best: float
    top_k_mean: float
    best_trial_id: str


def _order(mode: str):
    return (lambda v: -v) if mode == "max" else (lambda v: v)


def leaderboard(records: list[TrialRecord], metric: str, mode: str) -> list[dict]:
    """One row per trial that reported, best first."""
    rows = []
    for record in records:
        best = record.best(metric, mode)
        if best is None:
            continue
        last = record.history[-1]
        times = [h["epoch_time"] for h in record.history if "epoch_time" in h]
        rows.append(
            {
                "trial_id": record.trial_id,
                "strategy": record.strategy,
                metric: best,
                "epochs": len(record.history),
                "status": record.status,
                "trainable_params": last.get(protocol.TRAINABLE_PARAMS),
                "epoch_time": statistics.mean(times) if times else None,
            }
        )
    key = _order(mode)
    return sorted(rows, key=lambda row: key(row[metric]))


def rank_strategies(
    records: list[TrialRecord], metric: str, mode: str, top_k: int
) -> list[StrategyRank]:
    """Strategies ordered by their best trial, ties broken by the mean of their top k trials."""
    key = _order(mode)
    by_strategy: dict[str, list[tuple[float, str]]] = {}
    for record in records:
        best = record.best(metric, mode)
        if best is not None:
            by_strategy.setdefault(record.strategy, []).append((best, record.trial_id))
    ranks = []
    for strategy, values in by_strategy.items():
        values.sort(key=lambda v: key(v[0]))
        top = [v for v, _ in values[:top_k]]
        ranks.append(
            StrategyRank(strategy, len(values), values[0][0], statistics.mean(top), values[0][1])
        )
    return sorted(ranks, key=lambda r: (key(r.best), key(r.top_k_mean)))


def format_leaderboard(board: list[dict], metric: str, limit: int = 10) -> str:
    header = f"{'rank':>4}  {'trial':<10} {'strategy':<16} {metric:>22} {'epochs':>6} {'status':<9}"
    lines = [header]
    for i, row in enumerate(board[:limit], 1):
        lines.append(
            f"{i:>4}  {row['trial_id']:<10} {row['strategy']:<16} {row[metric]:>22.4f} "
            f"{row['epochs']:>6} {row['status']:<9}"
        )
    return "\n".join(lines)


@dataclass
class Conclusion:
    """What a finished sweep says: its leaderboard, its strategies ranked, how its trials
    ended, and the recommendation (``None`` when no trial reported a value)."""

    board: list[dict]
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
        strategy = self.recommendation.strategy
        return next(r.best_trial_id for r in self.ranks if r.strategy == strategy)

    def counts_line(self) -> str:
        finished, pruned, failed = (self.counts[s] for s in ENDED)
        lost = f" ({self.lost} lost with a killed driver)" if self.lost else ""
        total = sum(self.counts.values())
        return f"{total} trials: {finished} finished, {pruned} pruned, {failed} failed{lost}"

    def leaderboard_text(self) -> str:
        return format_leaderboard(self.board, self.metric)

    def as_report(self) -> dict:
        """``report.json``."""
        return {
            "leaderboard": self.board,
            "strategies": [asdict(r) for r in self.ranks],
            "recommendation": self.recommendation.as_dict() if self.recommendation else None,
            "counts": {str(status): n for status, n in self.counts.items()},
        }


@dataclass(frozen=True)
class Evaluation:
    """How the finalists were evaluated: their scores by (fold, seed), on so many folds and
    seeds, and the metric's chance level."""

    scores: dict[str, Scores]
    folds: int
    seeds: int
    chance: float
    equivalence: float


def conclude(
    searched: list[TrialRecord], evaluation: Evaluation, metric: str, mode: str, top_k: int
) -> Conclusion:
    """Rank the search trials and recommend a strategy (none when no trial reported)."""
    board = leaderboard(searched, metric, mode)
    ranks = rank_strategies(searched, metric, mode, top_k)
    counts = {status: sum(r.status == status for r in searched) for status in ENDED}
    lost = sum(r.status == TrialStatus.LOST for r in searched)
    rows = {row["trial_id"]: row for row in board}
    costs = {
        r.strategy: (rows[r.best_trial_id]["trainable_params"], rows[r.best_trial_id]["epoch_time"])
        for r in ranks
    }
    recommendation = None
    if ranks and evaluation.scores:
        recommendation = recommend(
            evaluation.scores,
            costs,
            metric,
            mode,
            evaluation.chance,
            evaluation.folds,
            evaluation.seeds,
            evaluation.equivalence,
        )
    elif ranks:
        top = ranks[0]
        recommendation = unevaluated(
            top.strategy, top.best, costs[top.strategy], metric, evaluation.chance
        )
    return Conclusion(board, ranks, counts, lost, recommendation, metric)
