"""Tune's state of its trials: its snapshots and the statistics it keeps of every ended trial,
at a cost that does not grow per trial, and where a resumed sweep's new trials are stored.

A snapshot (every trial's state and the searcher's, what ``resume`` restarts from) writes every
trial, so it costs more as the sweep grows. Tune takes one every ``TUNE_GLOBAL_CHECKPOINT_S``
(1 s here: a killed driver loses at most a second of started trials), and forces another each
time a trial has written ``num_to_keep`` checkpoints since the last, so that the state never
names a checkpoint rotated away. At a thousand short trials that was several snapshots per
trial and half the driver's time per trial (``bench/scale.py``, docs/SCALE.md).

Here, as Tune's ``"auto"`` period does, the period grows with the snapshot's cost so that
snapshots take at most 5 % of the time, but from one second (Tune's floor is ten); and no
snapshot is forced: a trial restored from a rotated checkpoint continues from its newest one
(``sweeps/trainable.py``). Tune offers neither as a setting: its checkpoint manager's two
methods are replaced, in the driver only.

Tune also keeps, for every numeric key of every result of every trial, its max, min, mean, last
and means of the last 5 and 10 values, in memory and in each snapshot: about 47 KiB per trial,
the largest share of the driver's growth (docs/SCALE.md). Only a running trial's are read (by
Tune's stoppers and progress tables; ours read the results themselves), so
``ForgetEndedTrialStatistics`` drops them when a trial ends.

A resumed run restores its trials into the sweep directory as it is now, but the trials it
starts after the resume are stored where the directory was when the sweep started (Tune keeps
that in its search generator's saved experiment). A sweep directory moved or unpacked elsewhere
would then write its new trials into the old place, or fail them where that place is gone.
``store_resumed_trials_in_place`` points them at the directory being resumed.
"""

from typing import Any

from ray.tune import Callback
from ray.tune.execution.experiment_state import _ExperimentCheckpointManager
from ray.tune.execution.tune_controller import TuneController
from ray.tune.experiment import Trial

MIN_PERIOD_S = 1.0
SHARE = 0.05  # of the driver's time, at most, spent on snapshots


def _adapt_period(manager: Any, time_taken: float) -> None:
    manager._checkpoint_period = max(MIN_PERIOD_S, time_taken * (1 - SHARE) / SHARE)


def _never_force(manager: Any, trial: Any) -> None:
    """A trial's checkpoints do not force a snapshot."""


def bound_snapshot_cost() -> None:
    """From now on in this process, Tune's snapshots as the module says."""
    _ExperimentCheckpointManager._update_auto_checkpoint_time = _adapt_period  # type: ignore[method-assign,assignment]
    _ExperimentCheckpointManager.on_trial_checkpoint = _never_force  # type: ignore[method-assign,assignment]


_restore = TuneController.resume  # Tune's own, at import


def _resume_in_place(controller: TuneController, resume_config: Any) -> None:
    _restore(controller, resume_config)
    experiment = getattr(controller._search_alg, "_experiment", None)
    if experiment is not None:  # what new trials are made from, as first saved
        experiment.storage = experiment.spec["storage"] = controller._storage


def store_resumed_trials_in_place() -> None:
    """From now on in this process, a resumed Tune run starts its new trials in its own
    directory, as the module says."""
    TuneController.resume = _resume_in_place  # type: ignore[method-assign,assignment]


class ForgetEndedTrialStatistics(Callback):
    """Drops an ended trial's per-metric statistics; its last result stays."""

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        metadata = trial.run_metadata
        metadata.metric_analysis.clear()
        metadata.metric_n_steps.clear()
        metadata.invalidate_cache()  # type: ignore[no-untyped-call]  # the snapshot JSON
