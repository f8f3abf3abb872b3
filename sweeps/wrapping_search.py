"""What the sweep's own searchers share: each sits in front of another searcher (an Optuna
study's, or another of ours) and is saved with Tune's run, as data, so that a resumed sweep
continues it."""

from typing import Any

from sweeps import protocol
from sweeps.ledger import TrialRecord
from sweeps.protocol import Phase
from sweeps.saved_state import SavedAsData, State, records_of, records_state


class WrappingSearcher(SavedAsData):
    """In front of ``inner``: Tune's search properties go to it. It keeps the configs of the
    trials ``inner`` proposed (as each subclass needs them) and those trials' ends; its saved
    state holds them and ``inner``'s."""

    def __init__(self, inner: SavedAsData) -> None:
        super().__init__(metric=inner.metric, mode=inner.mode)
        self.inner = inner
        self.configs: dict[str, dict[str, Any]] = {}
        self.ended: dict[str, TrialRecord] = {}

    def state(self) -> State:
        return {
            "configs": self.configs,
            "ended": records_state(self.ended),
            "inner": self.inner.state(),
        }

    def load(self, state: State) -> None:
        self.configs, self.ended = state["configs"], records_of(state["ended"])
        self.inner.load(state["inner"])

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        return self.inner.set_search_properties(metric, mode, config, **spec)


def ended_trial(
    trial_id: str,
    trial: dict[str, Any],
    result: dict[str, Any] | None,
    error: bool,
    epochs: list[dict[str, Any]] | None = None,
) -> TrialRecord:
    """An ended search trial as a ranking sees it: its best value (none when it failed), on
    the last of its ``epochs`` where they were kept (what each epoch cost)."""
    value = (result or {}).get(protocol.BEST_VALUE)
    if error or value is None:
        return TrialRecord(trial_id, Phase.SEARCH, trial)
    *before, last = epochs or [{}]
    return TrialRecord(
        trial_id, Phase.SEARCH, trial, history=[*before, {**last, protocol.BEST_VALUE: value}]
    )
