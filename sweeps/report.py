"""Which freeze strategy to use, with evidence: ranking, confirmation statistics, leaderboard."""

import statistics
from dataclasses import asdict, dataclass

from sweeps import protocol
from sweeps.ledger import TrialRecord
from sweeps.protocol import ENDED, TrialStatus


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


@dataclass(frozen=True)
class Confirmation:
    strategy: str
    values: list[float]

    @property
    def mean(self) -> float:
        return statistics.mean(self.values)

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0


@dataclass
class Recommendation:
    strategy: str
    metric: str
    mean: float
    std: float
    n_seeds: int
    runner_up: str | None
    margin: float | None
    trainable_params: int | None
    epoch_time: float | None
    test_metrics: dict | None = None

    def text(self) -> str:
        lines = [
            f"Recommended freeze strategy: {self.strategy}",
            f"  {self.metric}: {self.mean:.3f} ± {self.std:.3f} over {self.n_seeds} seed(s)",
        ]
        if self.runner_up is not None and self.margin is not None:
            lines.append(f"  margin over the runner-up ({self.runner_up}): {self.margin:+.3f}")
        if self.trainable_params is not None:
            lines.append(f"  trainable parameters: {self.trainable_params:,}")
        if self.epoch_time is not None:
            lines.append(f"  time per epoch: {self.epoch_time:.2f} s")
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


def recommend(
    ranks: list[StrategyRank],
    confirmations: list[Confirmation],
    board: list[dict],
    metric: str,
    mode: str,
) -> Recommendation:
    """The winner of the confirmation runs (or, without them, of the search), with evidence."""
    key = _order(mode)
    if confirmations:
        ordered = sorted(confirmations, key=lambda c: key(c.mean))
        winner, runner_up = ordered[0], (ordered[1] if len(ordered) > 1 else None)
        strategy, mean, std, n = winner.strategy, winner.mean, winner.std, len(winner.values)
        margin = None if runner_up is None else abs(winner.mean - runner_up.mean)
        runner_name = None if runner_up is None else runner_up.strategy
    else:
        strategy, mean, std, n = ranks[0].strategy, ranks[0].best, 0.0, 1
        runner_name = ranks[1].strategy if len(ranks) > 1 else None
        margin = None if len(ranks) < 2 else abs(ranks[0].best - ranks[1].best)
    row = next(r for r in board if r["strategy"] == strategy)
    return Recommendation(
        strategy=strategy,
        metric=metric,
        mean=mean,
        std=std,
        n_seeds=n,
        runner_up=runner_name,
        margin=margin,
        trainable_params=row["trainable_params"],
        epoch_time=row["epoch_time"],
    )


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


def conclude(
    searched: list[TrialRecord],
    confirmations: list[Confirmation],
    metric: str,
    mode: str,
    top_k: int,
) -> Conclusion:
    """Rank the search trials and recommend a strategy (none when no trial reported)."""
    board = leaderboard(searched, metric, mode)
    ranks = rank_strategies(searched, metric, mode, top_k)
    counts = {status: sum(r.status == status for r in searched) for status in ENDED}
    lost = sum(r.status == TrialStatus.LOST for r in searched)
    recommendation = recommend(ranks, confirmations, board, metric, mode) if ranks else None
    return Conclusion(board, ranks, counts, lost, recommendation, metric)
