"""Tune's snapshots of its experiment state at a cost that does not grow per trial.

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
"""

from typing import Any

from ray.tune.execution.experiment_state import _ExperimentCheckpointManager

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
