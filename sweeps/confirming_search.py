"""Search, then the finalists' evaluation, in one Tune run.

The searcher proposes ``n_search`` trials (the ``--auto`` race's among them); once they have
all ended it ranks the strategies and proposes the evaluation trials: the best config of each
finalist strategy on every cross-validation fold × repetition; once those have ended, with
``confirmation.learning_rate_factors``, the recommended finalist's config at other learning
rates on the same folds and repetitions. One Tune run means one set of
reused trial actors: a second run would start new processes, each paying seconds of imports.
Evaluation trials report their value under another name than the searched metric, so neither the
scheduler nor the Optuna study sees them.
"""

from typing import Any

from ray.tune.search import Searcher

from sweeps import protocol
from sweeps.learning_rate_choice import with_learning_rate
from sweeps.ledger import TrialRecord
from sweeps.protocol import Phase, TrialStatus
from sweeps.ranking import StrategyRank, leaderboard, rank_strategies
from sweeps.report import costs_of, judge_finalists
from sweeps.saved_state import SavedAsData, State, records_of, records_state
from sweeps.spec import Confirmation
from sweeps.wrapping_search import WrappingSearcher, ended_trial

COSTS = (protocol.TRAINABLE_PARAMS, "epoch_time")
"""What a search trial reports each epoch that the verdict's cheaper-of-two rule reads."""


def evaluation_config(
    config: dict[str, Any],
    fold: int,
    folds: int,
    repetition: int,
    phase: Phase = Phase.CONFIRMATION,
) -> dict[str, Any]:
    """A search trial's Tune config as the evaluation trial of one fold and repetition (fresh
    folds, and the repetition as its model seed), scored on the fold at the epoch its
    validation part picks (see ``SplitConfig.folds``). Without a patience of its own it stops
    once that part has not improved for a quarter of its epochs: the epochs after would not be
    scored."""
    trial = config[protocol.TRIAL]
    split = {**trial["split"], "folds": folds, "fold": fold, "repetition": repetition}
    training = trial["training"]
    patience = training.get("patience") or max(training["max_epochs"] // 4, 3)
    evaluated = {
        **trial,
        "seed": repetition,
        "split": split,
        "training": {**training, "patience": patience},
    }
    # the phase as a plain string: Tune saves trial configs pickled, and pickles name classes
    return {**config, protocol.TRIAL: evaluated, protocol.PHASE: phase.value}


class ConfirmingSearcher(WrappingSearcher):
    """The search's trials, then the finalists' evaluation trials, then, with
    ``learning_rate_factors``, the recommended finalist's at its other learning rates: planned
    once the evaluation has ended, from the verdict the sweep's report will give on it."""

    def __init__(
        self,
        inner: SavedAsData,
        n_search: int,
        confirmation: Confirmation,
        *,
        metric: str,
        mode: str,
        chance: float,
    ) -> None:
        super().__init__(inner)
        self.n_search = n_search
        self.confirmation = confirmation
        # the spec's metric, as the verdict reads it (Tune's own ``metric`` is the searched one)
        self.verdict_metric, self.rank_mode, self.chance = metric, mode, chance
        # configs: the search trials' Tune configs
        self.queue: list[dict[str, Any]] | None = None  # evaluation trials not yet proposed
        self.evaluating: dict[str, dict[str, Any]] = {}  # those proposed, by trial id
        self.evaluated: dict[str, TrialRecord] = {}  # and their ends
        self.rates_planned = not confirmation.learning_rate_factors
        self.epochs: dict[str, list[dict[str, Any]]] = {}  # the search trials' costs per epoch

    def state(self) -> State:
        return {
            **super().state(),
            "queue": self.queue,
            "evaluating": self.evaluating,
            "evaluated": records_state(self.evaluated),
            "rates_planned": self.rates_planned,
            "epochs": self.epochs,
        }

    def load(self, state: State) -> None:
        super().load(state)
        self.queue = state["queue"]
        # a state saved before 2026-12-03 planned every evaluation trial at once, rates included
        planned_at_once = self.queue is not None and "rates_planned" not in state
        self.rates_planned = planned_at_once or state.get("rates_planned", self.rates_planned)
        self.evaluating = state.get("evaluating", {})
        self.evaluated = records_of(state.get("evaluated", {}))
        self.epochs = state.get("epochs", {})

    # ray's stub omits Searcher.FINISHED, a str that suggest may return
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        if len(self.configs) < self.n_search:
            config = self.inner.suggest(trial_id)
            if isinstance(config, dict):
                self.configs[trial_id] = config
            return config
        if any(trial_id not in self.ended for trial_id in self.configs):
            return None  # wait for the search to end before ranking
        if self.queue is None:
            self.queue = self._on_every_fold(self._finalists(), Phase.CONFIRMATION)
        if not self.queue and not self.rates_planned:
            if len(self.evaluated) < len(self.evaluating):
                return None  # wait for the evaluation to end before its verdict
            self.queue, self.rates_planned = self._other_learning_rates(), True
        if not self.queue:
            return Searcher.FINISHED
        self.evaluating[trial_id] = self.queue.pop(0)
        return self.evaluating[trial_id]

    def _ranks(self) -> list[StrategyRank]:
        ended, top_k = list(self.ended.values()), self.confirmation.top_k
        return rank_strategies(ended, protocol.BEST_VALUE, self.rank_mode, top_k)

    def _finalists(self) -> list[dict[str, Any]]:
        """The best search config of each finalist strategy, the best first."""
        ranks = self._ranks()[: self.confirmation.finalists]
        return [self.ended[rank.best_trial_id].config for rank in ranks]

    def _other_learning_rates(self) -> list[dict[str, Any]]:
        """The recommended finalist's config at its learning rate times each factor (none when
        nothing is recommended)."""
        ranks = self._ranks()
        board = leaderboard(list(self.ended.values()), protocol.BEST_VALUE, self.rank_mode)
        confirmed = [r for r in self.evaluated.values() if r.phase == Phase.CONFIRMATION]
        _, verdict = judge_finalists(
            confirmed,
            costs_of(board, ranks),
            plan=self.confirmation,
            metric=self.verdict_metric,
            mode=self.rank_mode,
            chance=self.chance,
        )
        best = next((r.best_trial_id for r in ranks if r.strategy == verdict.strategy), None)
        if best is None:
            return []
        config = self.ended[best].config
        factors = self.confirmation.learning_rate_factors
        return self._on_every_fold(
            [with_learning_rate(config, config["optimizer"]["lr"] * f) for f in factors],
            Phase.LEARNING_RATE,
        )

    def _on_every_fold(self, trials: list[dict[str, Any]], phase: Phase) -> list[dict[str, Any]]:
        """``trials`` as evaluation trials, per fold and repetition: an interrupted evaluation
        still pairs up."""
        plan = self.confirmation
        return [
            evaluation_config(
                {protocol.TRIAL: trial, protocol.CPUS: self._cpus()},
                fold,
                plan.folds,
                repetition,
                phase,
            )
            for fold in range(plan.folds)
            for repetition in range(1, plan.seeds + 1)  # fresh: the search ran seed 0 by default
            for trial in trials
        ]

    def _cpus(self) -> float:
        cpus: float = next(iter(self.configs.values()))[protocol.CPUS]
        return cpus

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if trial_id in self.configs:
            self.inner.on_trial_result(trial_id, result)
            costs = {k: result[k] for k in COSTS if k in result}
            self.epochs.setdefault(trial_id, []).append(costs)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        if trial_id in self.evaluating:
            config = self.evaluating[trial_id]
            self.evaluated[trial_id] = TrialRecord(
                trial_id,
                Phase(config[protocol.PHASE]),
                config[protocol.TRIAL],
                status=TrialStatus.FAILED if error else TrialStatus.FINISHED,
                # its scores on its fold and the fold's facts: what the verdict reads
                history=[{k: v for k, v in (result or {}).items() if k.startswith(protocol.FOLD)}],
            )
        if trial_id not in self.configs:
            return
        self.inner.on_trial_complete(trial_id, result=result, error=error)
        trial = self.configs[trial_id][protocol.TRIAL]
        self.ended[trial_id] = ended_trial(
            trial_id, trial, result, error, self.epochs.pop(trial_id, [])
        )
