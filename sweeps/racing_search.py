"""``--auto``: race every strategy at its defaults (at the warm start's learning rates), then
search the winner, in one Tune run.

The race's trials are proposed first; once they have all ended the best strategy (by its best
trial) wins, and the search of that strategy alone is built and proposes the rest. One Tune run
means one set of trial processes: a second run would start new ones, each paying seconds of
imports. Each part keeps its own Optuna study (``<name>.race``, ``<name>.search``).
"""

import logging
from collections.abc import Callable
from typing import Any

from ray.tune.search import Searcher

from sweeps import protocol
from sweeps.ranking import rank_strategies
from sweeps.saved_state import SavedAsData, State
from sweeps.wrapping_search import WrappingSearcher, ended_trial

log = logging.getLogger(__name__)


class RacingSearcher(WrappingSearcher):
    def __init__(
        self,
        race: SavedAsData,
        n_race: int,
        search_of: Callable[[str], SavedAsData],
        mode: str,
    ) -> None:
        """``search_of(winner)``: the search of the winning strategy."""
        super().__init__(race)  # the race first: ``inner``
        self.n_race, self.search_of, self.rank_mode = n_race, search_of, mode
        # configs: the raced trials' TrialConfigs; ended: the raced trials that ended
        self.winner: str | None = None
        self.search: SavedAsData | None = None

    def state(self) -> State:
        search = self.search.state() if self.search else None
        return {**super().state(), "winner": self.winner, "search": search}

    def load(self, state: State) -> None:
        super().load(state)
        self.winner, self.search = state["winner"], None
        if self.winner is not None:
            self.search = self.search_of(self.winner)
            self.search.load(state["search"])

    # ray's stub omits Searcher.FINISHED, a str that suggest may return
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        if len(self.configs) < self.n_race:
            config = self.inner.suggest(trial_id)
            if isinstance(config, dict):
                self.configs[trial_id] = config[protocol.TRIAL]
            return config
        if self.search is None:
            if len(self.ended) < len(self.configs):
                return None  # wait for the race to end
            ranks = rank_strategies(
                list(self.ended.values()), protocol.BEST_VALUE, self.rank_mode, 1
            )
            if not ranks:  # every raced trial failed: nothing to tune
                return Searcher.FINISHED
            self.winner = ranks[0].strategy
            self.search = self.search_of(self.winner)
            log.info("the race is won by %s: tuning it", self.winner)
        return self.search.suggest(trial_id)

    def _owner(self, trial_id: str) -> Searcher | None:
        return self.inner if trial_id in self.configs else self.search

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        owner = self._owner(trial_id)
        if owner is not None:
            owner.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        owner = self._owner(trial_id)
        if owner is None:
            return
        owner.on_trial_complete(trial_id, result=result, error=error)
        if trial_id in self.configs:
            self.ended[trial_id] = ended_trial(trial_id, self.configs[trial_id], result, error)
