"""Tune's experiment-state snapshots: never forced by a trial's checkpoints, and their period
grows with their cost from one second (checked against the installed Ray's own manager, so
that a Ray that renames what is replaced fails here)."""

import pytest
from ray.tune.execution.experiment_state import _ExperimentCheckpointManager

from sweeps.tune_state import bound_snapshot_cost


def test_snapshots_are_never_forced_and_take_at_most_a_twentieth_of_the_time() -> None:
    bound_snapshot_cost()
    manager = _ExperimentCheckpointManager(
        storage=None, checkpoint_period=1.0, sync_every_n_trial_checkpoints=2
    )
    for _ in range(5):  # a trial that wrote more checkpoints than num_to_keep
        manager.on_trial_checkpoint(object())
    assert not manager._should_force_sync_up
    manager._update_auto_checkpoint_time(time_taken=0.2)  # a sweep of thousands of trials
    assert manager._checkpoint_period == pytest.approx(3.8)
    manager._update_auto_checkpoint_time(time_taken=0.001)  # a small one: every second
    assert manager._checkpoint_period == 1.0
