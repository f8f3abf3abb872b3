"""Tune's state of its trials: snapshots never forced by a trial's checkpoints, their period
growing with their cost from one second, and an ended trial's per-metric statistics dropped
(checked against the installed Ray's own classes, so that a Ray that renames what is replaced
fails here)."""

import pytest
from ray.tune.execution.experiment_state import _ExperimentCheckpointManager
from ray.tune.experiment import Trial

from sweeps.tune_state import ForgetEndedTrialStatistics, bound_snapshot_cost


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


def test_an_ended_trial_keeps_its_last_result_but_not_tunes_statistics_of_every_metric() -> None:
    trial = Trial("ProbeTrainable", stub=True)
    for epoch in (1, 2, 3):
        trial.update_last_result({"training_iteration": epoch, "val_loss": 1 / epoch, "acc": 0.5})
    assert trial.run_metadata.metric_analysis["val_loss"]["max"] == 1.0
    snapshot_before = trial.run_metadata.get_json_state()

    ForgetEndedTrialStatistics().on_trial_complete(iteration=3, trials=[trial], trial=trial)

    assert trial.run_metadata.metric_analysis == {}
    assert trial.run_metadata.metric_n_steps == {}
    assert trial.last_result["val_loss"] == pytest.approx(1 / 3)
    snapshot = trial.run_metadata.get_json_state()  # not the cached one from before
    assert "last-10-avg" in snapshot_before and "last-10-avg" not in snapshot
