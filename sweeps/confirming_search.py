"""Search, then the finalists' evaluation, in one Tune run.

The searcher proposes ``n_search`` trials (the ``--auto`` race's among them); once they have
all ended it ranks the strategies and proposes the evaluation trials: the best config of each
finalist strategy on every cross-validation fold × repetition. One Tune run means one set of
reused trial actors: a second run would start new processes, each paying seconds of imports.
Evaluation trials report their value under another name than the searched metric, so neither the
scheduler nor the Optuna study sees them.
"""

from typing import Any

from ray.tune.search import Searcher

from sweeps import protocol
from sweeps.learning_rate_choice import with_learning_rate
from sweeps.protocol import Phase
from sweeps.ranking import rank_strategies
from sweeps.saved_state import SavedAsData, State
from sweeps.spec import Confirmation
from sweeps.wrapping_search import WrappingSearcher, ended_trial


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
    def __init__(
        self,
        inner: SavedAsData,
        n_search: int,
        confirmation: Confirmation,
        mode: str,
    ) -> None:
        super().__init__(inner)
        self.n_search = n_search
        self.confirmation = confirmation
        self.rank_mode = mode
        # configs: the search trials' Tune configs
        self.queue: list[dict[str, Any]] | None = None

    def state(self) -> State:
        return {**super().state(), "queue": self.queue}

    def load(self, state: State) -> None:
        super().load(state)
        self.queue = state["queue"]

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
            self.queue = self._evaluation_configs()
        if not self.queue:
            return Searcher.FINISHED
        return self.queue.pop(0)

    def _evaluation_configs(self) -> list[dict[str, Any]]:
        """Per fold and repetition, every finalist, then the leading one at each other learning
        rate: an interrupted evaluation still pairs up."""
        plan = self.confirmation
        ended = list(self.ended.values())
        ranks = rank_strategies(ended, protocol.BEST_VALUE, self.rank_mode, plan.top_k)
        finalists = [self.ended[rank.best_trial_id].config for rank in ranks[: plan.finalists]]
        planned = [(trial, Phase.CONFIRMATION) for trial in finalists]
        for factor in plan.learning_rate_factors if finalists else []:
            leader = finalists[0]
            lr = leader["optimizer"]["lr"] * factor
            planned.append((with_learning_rate(leader, lr), Phase.LEARNING_RATE))
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
            for trial, phase in planned
        ]

    def _cpus(self) -> float:
        cpus: float = next(iter(self.configs.values()))[protocol.CPUS]
        return cpus

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if trial_id in self.configs:
            self.inner.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        if trial_id not in self.configs:
            return
        self.inner.on_trial_complete(trial_id, result=result, error=error)
        trial = self.configs[trial_id][protocol.TRIAL]
        self.ended[trial_id] = ended_trial(trial_id, trial, result, error)
