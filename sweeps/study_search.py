"""One Optuna study behind Tune's searcher interface, through Optuna's ask-and-tell.

Each Tune trial asks the study for a trial; the spaces sample its TrialConfig define-by-run; the
trial's end is told back. The study lives in the sweep's Optuna storage, so what this searcher
saves is only which Optuna trial each Tune trial is (``sweeps.saved_state``).
"""

import logging
from typing import Any

import optuna

# ray: its stub does not re-export the name
from ray.tune.result import TRAINING_ITERATION  # type: ignore[attr-defined]

from search_spaces import Space, SpaceContext
from sweeps import protocol
from sweeps.saved_state import SavedAsData, State

log = logging.getLogger(__name__)


class StudySearcher(SavedAsData):
    def __init__(
        self,
        study: optuna.Study,
        space: Space,
        context: SpaceContext,
        *,
        cpus: float,
        metric: str | list[str],
        mode: str | list[str],
    ) -> None:
        super().__init__(metric=metric, mode=mode)  # type: ignore[arg-type]  # Ray's stub: str only
        self.study, self.space, self.context, self.cpus = study, space, context, cpus
        self.asked: dict[str, int] = {}  # Tune trial id → the Optuna trial's id in the storage
        self.told: set[str] = set()

    def state(self) -> State:
        return {"asked": self.asked, "told": sorted(self.told)}

    def load(self, state: State) -> None:
        self.asked, self.told = dict(state["asked"]), set(state["told"])

    def _trial(self, trial_id: str) -> optuna.Trial:
        return optuna.Trial(self.study, self.asked[trial_id])

    def suggest(self, trial_id: str) -> dict[str, Any]:
        trial = self.study.ask()
        # optuna: the trial's id in the storage, to find it again after a restore
        self.asked[trial_id] = trial._trial_id
        config = self.space(trial, self.context).model_dump(mode="json")
        return {protocol.TRIAL: config, protocol.CPUS: self.cpus}

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """The running best, per epoch, as the trial's intermediate values (one objective only:
        Optuna keeps none for several)."""
        if isinstance(self.metric, str) and trial_id in self.asked and trial_id not in self.told:
            self._trial(trial_id).report(result[self.metric], result[TRAINING_ITERATION])

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Complete with the trial's values; without them failed (an error) or pruned (stopped
        by the scheduler before it reported)."""
        if trial_id not in self.asked or trial_id in self.told:
            return
        self.told.add(trial_id)
        metrics = self.metric if isinstance(self.metric, list) else [self.metric]
        values = [(result or {}).get(metric) for metric in metrics]
        state = optuna.trial.TrialState.COMPLETE
        if any(value is None for value in values):
            failed = optuna.trial.TrialState.FAIL
            state = failed if error else optuna.trial.TrialState.PRUNED
        told = values if isinstance(self.metric, list) else values[0]
        try:
            self.study.tell(
                self._trial(trial_id),
                told if state == optuna.trial.TrialState.COMPLETE else None,
                state=state,
                skip_if_finished=True,  # told already by a driver stopped before it saved this
            )
        except RuntimeError as error:  # stored all the same (Optuna stores in a ``finally``)
            if "Study.stop" not in str(error):
                raise
            log.debug("trial %s ended the grid: its sampler stops the study", trial_id)
