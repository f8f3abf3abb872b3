"""Search, then confirmation runs, in one Tune run.

The searcher proposes ``n_search`` trials; once they have all ended it ranks the strategies and
proposes the confirmation trials (the best config of the top two strategies, with fresh
seeds). One Tune run means one set of reused trial actors: a second run would start new
processes, each paying seconds of imports. Confirmation trials report their value under another
name than the searched metric, so neither the scheduler nor the Optuna study sees them.
"""

import pickle
from typing import Any

from ray.tune.search import Searcher

from sweeps import protocol
from sweeps.ledger import TrialRecord
from sweeps.protocol import Phase
from sweeps.report import rank_strategies


class ConfirmingSearcher(Searcher):
    def __init__(self, inner: Searcher, n_search: int, n_seeds: int, top_k: int, mode: str) -> None:
        super().__init__(metric=inner.metric, mode=inner.mode)
        self.inner = inner
        self.n_search = n_search
        self.n_seeds = n_seeds
        self.top_k = top_k
        self.rank_mode = mode
        self.configs: dict[str, dict] = {}  # Tune configs of the search trials
        self.ended: dict[str, TrialRecord] = {}
        self.queue: list[dict] | None = None

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        return self.inner.set_search_properties(metric, mode, config, **spec)

    def suggest(self, trial_id: str) -> dict | str | None:
        if len(self.configs) < self.n_search:
            config = self.inner.suggest(trial_id)
            if isinstance(config, dict):
                self.configs[trial_id] = config
            return config
        if len(self.ended) < len(self.configs):
            return None  # wait for the search to end before ranking
        if self.queue is None:
            self.queue = self._confirmation_configs()
        if not self.queue:
            return Searcher.FINISHED
        return self.queue.pop(0)

    def _confirmation_configs(self) -> list[dict]:
        if self.n_seeds == 0:
            return []
        ended = list(self.ended.values())
        ranks = rank_strategies(ended, protocol.BEST_VALUE, self.rank_mode, self.top_k)
        configs = []
        for rank in ranks[:2]:
            best = self.configs[rank.best_trial_id]
            trial = best[protocol.TRIAL]
            for offset in range(1, self.n_seeds + 1):
                seeded = {**trial, "seed": trial.get("seed", 0) + offset}
                configs.append({**best, protocol.TRIAL: seeded, protocol.PHASE: Phase.CONFIRMATION})
        return configs

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self.configs:
            self.inner.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        if trial_id not in self.configs:
            return
        self.inner.on_trial_complete(trial_id, result=result, error=error)
        value = (result or {}).get(protocol.BEST_VALUE)
        history = [] if error or value is None else [{protocol.BEST_VALUE: value}]
        trial = self.configs[trial_id][protocol.TRIAL]
        self.ended[trial_id] = TrialRecord(trial_id, Phase.SEARCH, trial, history=history)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as handle:
            pickle.dump(self.__dict__, handle)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as handle:
            self.__dict__.update(pickle.load(handle))
