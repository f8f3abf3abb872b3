"""The search's trials ranked: the leaderboard (one row per trial) and the strategies ordered by
their best trial."""

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sweeps import protocol
from sweeps.ledger import TrialRecord


@dataclass(frozen=True)
class StrategyRank:
    strategy: str
    n_trials: int
    best: float
    top_k_mean: float
    best_trial_id: str


def _order(mode: str) -> Callable[[float], float]:
    return (lambda v: -v) if mode == "max" else (lambda v: v)


def leaderboard(records: list[TrialRecord], metric: str, mode: str) -> list[dict[str, Any]]:
    """One row per trial that reported, best first."""
    rows: list[dict[str, Any]] = []
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


def format_leaderboard(board: list[dict[str, Any]], metric: str, limit: int = 10) -> str:
    header = f"{'rank':>4}  {'trial':<10} {'strategy':<16} {metric:>22} {'epochs':>6} {'status':<9}"
    lines = [header]
    for i, row in enumerate(board[:limit], 1):
        lines.append(
            f"{i:>4}  {row['trial_id']:<10} {row['strategy']:<16} {row[metric]:>22.4f} "
            f"{row['epochs']:>6} {row['status']:<9}"
        )
    return "\n".join(lines)
