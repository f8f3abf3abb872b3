"""Why a finalist's fold scores can sit far below its search score, measured.

A strategy's search score is its best trial's best epoch on one validation split: the best of
many trials, each at the best of its epochs. Each evaluation trial also picks its best epoch, on
its fold's own validation part, and is then scored on its fold at that epoch. So the drop from
the search to the folds splits into:

- the choice among trials: the search's best minus the evaluation trials' best validation
  scores (they ran the same config, without a choice among configs; their data differs too);
- the choice of the epoch: the evaluation trials' best validation scores minus their fold
  scores at those epochs (a small validation part flatters the epoch it picks);

and two things that would make the evaluation itself the cause: fewer training examples per
fold than in the search, and a patience that stopped the evaluation trials before the epoch the
search's best trial needed.
"""

import statistics
from dataclasses import dataclass
from typing import cast

from sweeps import protocol
from sweeps.evaluation import fold_score
from sweeps.ledger import TrialRecord
from sweeps.ranking import StrategyRank
from sweeps.recommendation import Recommendation


@dataclass(frozen=True)
class SearchGap:
    strategy: str
    search: float  # its best search trial's best validation score
    trials: int  # the strategy's search trials it was the best of
    best_epoch: int  # the epoch that trial peaked at
    fold_validation: float  # the evaluation trials' best validation scores, mean
    folds: float  # their fold scores, mean
    search_trained: int  # training examples of a search trial
    fold_trained: float  # training examples of a fold, mean
    cut_short: int  # evaluation trials stopped by patience before ``best_epoch``
    evaluated: int  # evaluation trials with a fold score
    sign: float  # 1 when higher is better, -1 when lower is

    def text(self) -> str:
        drop = self.sign * (self.search - self.folds)
        choice = self.sign * (self.search - self.fold_validation)
        epoch = self.sign * (self.fold_validation - self.folds)
        causes = {
            "the search's choice among its trials": choice,
            "picking the best epoch on a small validation part": epoch,
        }
        likely = max(causes, key=lambda cause: causes[cause])
        lines = [
            f"search vs folds: {self.strategy} scored {self.search:.3f} on the search's "
            f"validation split (the best of {self.trials} trials, at epoch {self.best_epoch}) "
            f"and {self.folds:.3f} on the folds, {drop:.3f} worse. Of that, {choice:+.3f} is "
            f"the choice among the search's trials (the evaluation's own validation parts "
            f"scored {self.fold_validation:.3f} at their best epochs) and {epoch:+.3f} picking "
            f"the best epoch on a small validation part: mostly {likely}.",
            f"  The folds trained on {self.fold_trained:.0f} examples, the search on "
            f"{self.search_trained}; {self.cut_short} of {self.evaluated} evaluation trials "
            f"stopped (patience) before epoch {self.best_epoch}.",
        ]
        return "\n".join(lines)


def search_gaps(
    recommendation: Recommendation,
    ranks: list[StrategyRank],
    searched: list[TrialRecord],
    confirmed: list[TrialRecord],
    *,
    mode: str,
    search_trained: int,
) -> list[SearchGap]:
    """A gap for each finalist whose search score lies beyond its fold interval."""
    sign = 1.0 if mode == "max" else -1.0
    metric = recommendation.metric
    rank_of = {rank.strategy: rank for rank in ranks}
    by_id = {record.trial_id: record for record in searched}
    gaps: list[SearchGap] = []
    for finalist in recommendation.finalists:
        rank = rank_of.get(finalist.strategy)
        if rank is None or not finalist.judged:
            continue
        assert finalist.score is not None  # judged
        bound = finalist.score.high if sign > 0 else finalist.score.low
        if sign * (rank.best - bound) <= 0:
            continue
        best_trial = by_id[rank.best_trial_id]
        best_epoch = 1 + [h.get(metric) for h in best_trial.history].index(rank.best)
        scored = [
            r
            for r in confirmed
            if r.strategy == finalist.strategy
            and fold_score(r, metric.removeprefix("val_")) is not None
            and protocol.FOLD_TRAINED in r.history[-1]  # not in a ledger of an older layout
        ]
        if not scored:
            continue
        gaps.append(
            SearchGap(
                strategy=finalist.strategy,
                search=rank.best,
                trials=rank.n_trials,
                best_epoch=best_epoch,
                # a scored evaluation trial reported its validation metric
                fold_validation=statistics.fmean(cast(float, r.best(metric, mode)) for r in scored),
                folds=finalist.score.mean,
                search_trained=search_trained,
                fold_trained=statistics.fmean(r.history[-1][protocol.FOLD_TRAINED] for r in scored),
                cut_short=sum(len(r.history) < best_epoch for r in scored),
                evaluated=len(scored),
                sign=sign,
            )
        )
    return gaps
