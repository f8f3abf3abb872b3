"""What the sweep's own searchers share: each sits in front of another searcher (Optuna's, or
another of ours) and is saved with Tune's run, so that a resumed sweep continues it."""

import pickle
from typing import Any

from ray.tune.search import Searcher

from sweeps import protocol
from sweeps.ledger import TrialRecord
from sweeps.protocol import Phase


class WrappingSearcher(Searcher):
    """In front of ``inner``: Tune's search properties go to it; the whole searcher (``inner``
    included) is pickled into Tune's saved state."""

    def __init__(self, inner: Searcher) -> None:
        super().__init__(metric=inner.metric, mode=inner.mode)
        self.inner = inner

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        return self.inner.set_search_properties(metric, mode, config, **spec)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as handle:
            pickle.dump(self.__getstate__(), handle)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as handle:
            self.__dict__.update(pickle.load(handle))


def ended_trial(
    trial_id: str, trial: dict[str, Any], result: dict[str, Any] | None, error: bool
) -> TrialRecord:
    """An ended search trial as a ranking sees it: its best value, or none when it failed."""
    value = (result or {}).get(protocol.BEST_VALUE)
    history = [] if error or value is None else [{protocol.BEST_VALUE: value}]
    return TrialRecord(trial_id, Phase.SEARCH, trial, history=history)
