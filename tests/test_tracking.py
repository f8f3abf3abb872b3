"""The MLflow tracker as Tune drives it, without Ray: Tune's calls are made by hand on trials
that look like Tune's, against a real SQLite MLflow store."""

import json
from types import SimpleNamespace

import pytest
from mlflow.tracking import MlflowClient

from sweeps import protocol
from sweeps.ledger import Ledger
from sweeps.protocol import Phase, TrialStatus
from sweeps.sweep_dir import SweepDir
from sweeps.tracking import MlflowTracker, loggable_params
from sweeps.tracking_session import open_session

METRIC = "val_balanced_accuracy"
CONFIG = {
    "backbone": {"name": "EEGNet", "kwargs": {"api_key": "s3cret"}},
    "strategy": {"kind": "lora", "rank": 4},
    "optimizer": {"lr": 0.001},
}


@pytest.fixture
def tracker(tmp_path):
    directory = SweepDir(tmp_path / "sweep", "tracked")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    session = open_session(uri, "tracked", directory)
    tracker = MlflowTracker(session, directory, METRIC, "max")
    yield tracker
    tracker.outbox.close(timeout_s=30)


def _trial(trial_id: str, phase: Phase | None = None) -> SimpleNamespace:
    config = {protocol.TRIAL: CONFIG, protocol.CPUS: 1}
    if phase is not None:
        config[protocol.PHASE] = phase
    return SimpleNamespace(trial_id=trial_id, config=config, last_result={}, error_file=None)


def _result(epoch: int, value: float, node: str = "node-a", **extra) -> dict:
    return {
        protocol.EPOCH: epoch,
        METRIC: value,
        "val_loss": 1.0 - value,
        "train_loss": 0.5,
        protocol.TRAINABLE_PARAMS: 258,
        protocol.NODE_ID: node,
        protocol.GPU_IDS: "",
        protocol.PID: 7,
        protocol.ONEDNN: "on",
        "epoch_time": 0.25,
        "time": 1000.0 + epoch,
        **extra,
    }


def _report(tracker, trial, result: dict) -> None:
    tracker.on_trial_result(0, [], trial, result)
    trial.last_result = result


def _run(tracker, trial_id: str):
    assert tracker.outbox.flush()
    client = MlflowClient(tracker.session.uri)
    return client, client.get_run(tracker.outbox.runs[trial_id])


def test_a_trial_is_one_child_run_with_its_config_metrics_and_placement(tracker) -> None:
    trial = _trial("t1")
    tracker.on_trial_start(0, [], trial)
    assert Ledger(tracker.directory.ledger).trials["t1"].status == TrialStatus.RUNNING
    for epoch, value in ((1, 0.6), (2, 0.8), (3, 0.7)):
        _report(tracker, trial, _result(epoch, value, completed=epoch == 3))
    tracker.on_trial_complete(0, [], trial)

    client, run = _run(tracker, "t1")
    assert run.data.tags["mlflow.parentRunId"] == tracker.session.parent_run_id
    assert run.data.tags["strategy"] == "lora" and run.data.tags["phase"] == "search"
    assert run.data.params["strategy.rank"] == "4" and run.data.params["optimizer.lr"] == "0.001"
    assert "backbone.kwargs.api_key" not in run.data.params  # looks like a secret
    assert run.data.tags[protocol.NODE_ID] == "node-a" and run.data.tags["onednn"] == "on"
    history = client.get_metric_history(run.info.run_id, METRIC)
    assert [(m.step, m.value) for m in history] == [(1, 0.6), (2, 0.8), (3, 0.7)]
    assert run.data.metrics[protocol.BEST_VALUE] == 0.8
    assert run.info.status == "FINISHED" and run.data.tags["pruned"] == "False"
    # a sortable runs table: the best value, size and speed as metrics; strategy, value and
    # status in the name and tags
    assert run.data.metrics[f"best_{METRIC}"] == 0.8
    assert run.data.metrics["trainable_params"] == 258
    assert run.data.metrics["epoch_time_mean"] == pytest.approx(0.25)
    assert run.info.run_name == "lora 0.800 (t1)" and run.data.tags["status"] == "FINISHED"
    record = Ledger(tracker.directory.ledger).trials["t1"]
    assert record.status == TrialStatus.FINISHED and record.best(METRIC, "max") == 0.8
    assert [h["time"] for h in record.history] == [1001.0, 1002.0, 1003.0]


def test_pruned_and_failed_trials_end_their_runs_accordingly(tracker, tmp_path) -> None:
    pruned, failed = _trial("pruned"), _trial("failed")
    for trial in (pruned, failed):
        tracker.on_trial_start(0, [], trial)
        _report(tracker, trial, _result(1, 0.5, completed=False))
    tracker.on_trial_complete(0, [], pruned)
    error_file = tmp_path / "error.txt"
    error_file.write_text("Traceback (most recent call last):\n  ...\nTrialDiverged: loss is nan\n")
    failed.error_file = str(error_file)
    tracker.on_trial_error(0, [], failed)

    _, run = _run(tracker, "pruned")
    assert run.info.status == "KILLED" and run.data.tags["pruned"] == "True"
    _, run = _run(tracker, "failed")
    assert run.info.status == "FAILED" and run.data.tags["error"] == "TrialDiverged: loss is nan"
    ledger = Ledger(tracker.directory.ledger)
    assert ledger.trials["pruned"].status == TrialStatus.PRUNED
    assert ledger.trials["failed"].status == TrialStatus.FAILED


def test_a_restored_trial_continues_its_run_and_its_ledger_history(tracker) -> None:
    """After a restore the trial repeats epochs its checkpoint lacks, elsewhere: the run gets
    each epoch once, the new placement and where it restored from; the ledger takes the
    epochs before the restore from the checkpoint."""
    trial = _trial("t1")
    tracker.on_trial_start(0, [], trial)
    for epoch in (1, 2, 3):
        _report(tracker, trial, _result(epoch, 0.1 * epoch))
    tracker.on_trial_start(0, [], trial)  # restarted from the checkpoint of epoch 2
    checkpointed = [_result(e, 0.1 * e) for e in (1, 2)]
    restored = _result(
        3,
        0.35,
        node="node-b",
        **{protocol.RESTORED_FROM: "checkpoint_000001", protocol.RESTORED_HISTORY: checkpointed},
    )
    _report(tracker, trial, restored)
    _report(tracker, trial, _result(4, 0.5, node="node-b", completed=True))
    tracker.on_trial_complete(0, [], trial)

    client, run = _run(tracker, "t1")
    steps = [m.step for m in client.get_metric_history(run.info.run_id, METRIC)]
    assert steps == [1, 2, 3, 4]  # epoch 3 is not logged twice
    assert run.data.tags[protocol.NODE_ID] == "node-b"
    assert run.data.tags[protocol.RESTORED_FROM] == "checkpoint_000001"
    record = Ledger(tracker.directory.ledger).trials["t1"]
    assert [h["epoch"] for h in record.history] == [1, 2, 3, 4]
    assert record.history[2][METRIC] == 0.35 and record.restarts == 1


def test_evaluation_trials_keep_their_fold_scores_also_when_replayed(tracker) -> None:
    """An evaluation trial's last result holds its fold scores; one restored from the checkpoint
    of its last epoch (a resumed driver) reports them again with its replayed epoch."""
    trial = _trial("c1", Phase.CONFIRMATION)
    tracker.on_trial_start(0, [], trial)
    _report(tracker, trial, _result(1, 0.7))
    tracker.on_trial_start(0, [], trial)  # the driver died before it heard the trial end
    history = [_result(1, 0.7)]
    replayed = _result(1, 0.7, fold_balanced_accuracy=0.66, **{protocol.REPLAYED: True})
    _report(
        tracker,
        trial,
        {**replayed, protocol.RESTORED_FROM: "x", protocol.RESTORED_HISTORY: history},
    )
    _, run = _run(tracker, "c1")
    assert run.data.tags["phase"] == "confirmation"
    tracker.ledger.save()  # as Tune's end of the trial would
    record = Ledger(tracker.directory.ledger).of_phase(Phase.CONFIRMATION)[0]
    assert [h["epoch"] for h in record.history] == [1]
    assert record.history[-1]["fold_balanced_accuracy"] == 0.66


def test_credential_looking_names_are_left_out_but_model_output_key_is_kept() -> None:
    params = loggable_params(
        {"auth": {"token": "x", "password": "y"}, "wrapper": {"model_output_key": "pooled"}}
    )
    assert params == {"wrapper.model_output_key": "pooled"}


def test_the_ledger_appends_one_line_per_save_and_stays_bounded(tmp_path) -> None:
    """Saving a trial costs one appended line whatever the sweep's size; the file is compacted
    when old lines outnumber the trials; a line cut short by a crash leaves the one before."""
    from sweeps.ledger import TrialRecord

    ledger = Ledger(tmp_path / "trials.jsonl")
    records = [TrialRecord(f"t{i}", Phase.SEARCH, {"strategy": {"kind": "lora"}}) for i in range(3)]
    for record in records:
        ledger.trials[record.trial_id] = record
        ledger.save(record)
    records[1].status = TrialStatus.FINISHED
    ledger.save(records[1])
    lines = (tmp_path / "trials.jsonl").read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[-1])["trial_id"] == "t1"
    assert Ledger(tmp_path / "trials.jsonl").trials["t1"].status == TrialStatus.FINISHED
    for _ in range(200):  # a long sweep's saves of the same few trials
        ledger.save(records[0])
    assert len((tmp_path / "trials.jsonl").read_text().splitlines()) <= 2 * 3 + 64
    with open(tmp_path / "trials.jsonl", "a") as handle:
        handle.write('{"trial_id": "t2", "phase": "sea')  # the driver killed mid-write
    reopened = Ledger(tmp_path / "trials.jsonl")
    assert sorted(reopened.trials) == ["t0", "t1", "t2"]
    assert reopened.trials["t2"].status == TrialStatus.RUNNING
    reopened.trials["t2"].status = TrialStatus.FAILED
    reopened.save(reopened.trials["t2"])  # not glued onto the cut line
    assert Ledger(tmp_path / "trials.jsonl").trials["t2"].status == TrialStatus.FAILED


def test_a_ledger_in_the_previous_layout_is_carried_over_whole_on_its_first_save(tmp_path):
    from dataclasses import asdict

    from sweeps.ledger import TrialRecord

    old = [TrialRecord(f"t{i}", Phase.SEARCH, {"strategy": {"kind": "lora"}}) for i in range(2)]
    (tmp_path / "trials.json").write_text(json.dumps({r.trial_id: asdict(r) for r in old}))
    ledger = Ledger(tmp_path / "trials.jsonl")
    new = TrialRecord("t2", Phase.SEARCH, {"strategy": {"kind": "lora"}})
    ledger.trials["t2"] = new
    ledger.save(new)
    assert sorted(Ledger(tmp_path / "trials.jsonl").trials) == ["t0", "t1", "t2"]
