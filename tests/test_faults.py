"""Faults injected for real: failing trials, a lost node, a killed driver, Ctrl-C, a tracking
server that is away, and an unreachable cluster request. Nothing finished is lost or doubled."""

import json
import signal
import socket
import time

import optuna
from mlflow.tracking import MlflowClient
from sweep_helpers import (
    MlflowServer,
    checkpointed_trials,
    cli,
    runs_by_kind,
    saved_states_naming_us,
    slow_spec,
    small_spec,
    wait_for,
    write_spec,
)

from sweeps.cli import EXIT_NOTHING_LEARNT, main
from sweeps.ledger import Ledger
from sweeps.sweep_dir import SweepDir


def _ledger(tmp_path, name: str) -> Ledger:
    return Ledger(tmp_path / "sweeps" / name / "trials.jsonl")


def test_a_failing_trial_ends_failed_and_the_sweep_goes_on(ray_cluster, tmp_path, capsys):
    scale = [
        {
            "name": "scale",
            "path": "wrapper.on_the_fly_preprocessor.scaler",
            "categorical": [1.0, 1.0e38],
        }
    ]  # x * 1e38 overflows: the loss is NaN
    spec = small_spec(
        tmp_path,
        "nan",
        ray_address=ray_cluster.address,
        spaces=[scale],
        sampler={"name": "grid", "grid": {"scale": [1.0, 1.0e38]}},
        num_samples=2,
        max_failures=1,
    )
    assert main(["run", str(write_spec(tmp_path, spec))]) == 0
    assert "1 finished, 0 pruned, 1 failed" in capsys.readouterr().out
    records = {
        r.config["wrapper"]["on_the_fly_preprocessor"]["scaler"]: r
        for r in _ledger(tmp_path, "nan").of_phase("search")
    }
    failed, fine = records[1.0e38], records[1.0]
    assert failed.status == "FAILED" and "training loss is nan at epoch 1" in failed.error
    assert fine.status == "FINISHED"
    client = MlflowClient(spec.tracking.uri)
    run = client.get_run(failed.run_id)
    assert run.info.status == "FAILED" and "TrialDiverged" in run.data.tags["error"]
    report = json.loads((tmp_path / "sweeps" / "nan" / "report.json").read_text())
    assert report["counts"] == {"FINISHED": 1, "PRUNED": 0, "FAILED": 1}


def test_unreachable_resources_and_tracking_server_fail_before_any_trial(
    ray_cluster, tmp_path, capsys
):
    greedy = small_spec(
        tmp_path, "greedy", ray_address=ray_cluster.address, resources={"cpus": 1, "gpus": 4}
    )
    assert main(["run", str(write_spec(tmp_path, greedy))]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "probe-sweep: error: resources.gpus=4 per trial, but the Ray cluster has 2 GPUs in total"
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there
    away = small_spec(tmp_path, "away", tracking={"uri": f"http://127.0.0.1:{port}"})
    assert main(["run", str(write_spec(tmp_path, away))]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith(
            f"probe-sweep: error: tracking.uri http://127.0.0.1:{port}: no MLflow server answers"
        )
        and len(err.splitlines()) == 1
    )
    assert not (tmp_path / "sweeps" / "away").exists()  # nothing started, nothing written


def test_a_user_error_on_a_local_runtime_is_one_line_without_rays_warnings(tmp_path) -> None:
    """Ray starts (and would warn about its token authentication) before the resources are
    checked: the user still sees one line."""
    greedy = small_spec(tmp_path, "greedy-local", resources={"cpus": 1, "gpus": 4})
    driver = cli("run", str(write_spec(tmp_path, greedy)))
    out, err = driver.communicate(timeout=300)
    assert driver.returncode == 2
    lines = [line for line in err.strip().splitlines() if "oneDNN" not in line]  # a faulty CPU
    assert lines == [
        "probe-sweep: error: resources.gpus=4 per trial, but the Ray cluster has 0 GPUs in total"
    ]


def _study_trials(sweep_dir, name: str) -> list:
    study = optuna.load_study(
        study_name=f"{name}.search", storage=f"sqlite:///{sweep_dir / 'optuna.db'}"
    )
    return study.get_trials(deepcopy=False)


def test_ctrl_c_then_a_killed_driver_then_resume_lose_and_double_nothing(ray_cluster, tmp_path):
    """Ctrl-C stops cleanly and says how to resume; the resume's driver is then killed with
    SIGKILL; a second resume completes the sweep with exactly the requested trials."""
    spec = slow_spec(
        tmp_path,
        "killed",
        ray_cluster.address,
        num_samples=5,
        max_concurrent=2,
        confirmation={"seeds": 1, "folds": 2, "learning_rate_factors": []},
        warm_start=False,  # every Optuna trial is then created as its Tune trial starts
    )
    sweep_dir = tmp_path / "sweeps" / "killed"

    def finished() -> list:
        path = sweep_dir / "trials.jsonl"
        if not path.exists():
            return []
        return [r for r in Ledger(path).trials.values() if r.status == "FINISHED"]

    driver = cli("run", str(write_spec(tmp_path, spec)))
    try:
        wait_for(lambda: checkpointed_trials(sweep_dir) >= 1)
        driver.send_signal(signal.SIGINT)
        _, err = driver.communicate(timeout=120)
    finally:
        driver.kill()
    assert driver.returncode == 130
    assert f"probe-sweep resume {sweep_dir}" in err and "Traceback" not in err
    assert SweepDir.open(sweep_dir).holds_tune_state()
    assert saved_states_naming_us(sweep_dir / "search") == []  # data: no class of ours to rename
    assert not (sweep_dir / "report.json").exists()

    time.sleep(3)  # the cluster frees the stopped driver's trial slots
    driver = cli("resume", str(sweep_dir))
    try:
        wait_for(lambda: len(finished()) >= 2)
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        driver.kill()
    done_before = {r.trial_id: r.history for r in finished()}
    time.sleep(3)
    # finished: with a recommendation (0), or none, as 2 folds × 1 seed cannot clear chance (3)
    code = main(["resume", str(sweep_dir)])
    assert code in (0, EXIT_NOTHING_LEARNT)
    assert json.loads((sweep_dir / "report.json").read_text())["recommendation"]["verdict"]

    ledger = Ledger(sweep_dir / "trials.jsonl")
    # a trial started in the last second before the kill may be unknown to the saved state:
    # it is marked lost and replaced, never counted
    searched = [r for r in ledger.of_phase("search") if r.status != "LOST"]
    assert len(searched) == 5 and all(r.status in ("FINISHED", "PRUNED") for r in searched)
    for trial_id, history in done_before.items():  # not trained again
        assert [h["time"] for h in ledger.trials[trial_id].history] == [h["time"] for h in history]
    trials = _study_trials(sweep_dir, "killed")
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 5  # the sampler went on from its history, it did not start over
    # Optuna trials asked for by a stopped driver after its last save were never run: FAIL,
    # at most one per trial slot and stop, none left RUNNING
    others = [t for t in trials if t.state != optuna.trial.TrialState.COMPLETE]
    assert len(others) <= 4 and all(t.state == optuna.trial.TrialState.FAIL for t in others)
    parents, children = runs_by_kind(spec.tracking.uri, "killed")
    assert len(parents) == 1
    search_runs = [
        c
        for c in children
        if c.data.tags["phase"] == "search" and c.data.tags.get("lost") != "True"
    ]
    assert len(search_runs) == 5 and len({c.data.tags["trial_id"] for c in search_runs}) == 5
    assert (sweep_dir / "best_config.yaml").is_file() == (code == 0)


def test_runs_of_a_driver_killed_between_its_two_records_are_marked_lost(tmp_path) -> None:
    """A trial's MLflow run is queued before the ledger is saved: a driver killed in between
    leaves a run that no trial record knows. It is marked lost, as a still-running one is."""
    from sweeps.ledger import TrialRecord
    from sweeps.sweep import settle_lost_trials
    from sweeps.tracking_session import open_session

    spec = small_spec(tmp_path, "half-saved")
    directory = spec.sweep_dir()
    session = open_session(spec.tracking.uri, spec.name, directory)
    outbox = session.outbox(directory)
    ledger = Ledger(directory.ledger)
    config = spec.trial.model_dump(mode="json")
    for trial_id, status in (("done", "FINISHED"), ("running", "RUNNING")):
        ledger.trials[trial_id] = TrialRecord(trial_id, "search", config, status=status)
    ledger.save()
    for key in ("done", "running", "unsaved"):
        outbox.create_run(
            key, run_name=key, tags={"mlflow.parentRunId": session.parent_run_id}, params={}
        )
    outbox.set_terminated("done", "FINISHED")

    # the --auto race's study and the search's: each left with a trial asked and never told
    studies = [optuna.create_study(study_name=stage) for stage in ("race", "search")]
    for study in studies:
        study.ask()
    settle_lost_trials(Ledger(directory.ledger), outbox, studies=studies)
    assert [[t.state.name for t in study.trials] for study in studies] == [["FAIL"], ["FAIL"]]
    assert outbox.flush()
    client = MlflowClient(spec.tracking.uri)
    runs = {key: client.get_run(outbox.runs[key]) for key in ("done", "running", "unsaved")}
    assert {k: r.data.tags.get("lost") for k, r in runs.items()} == {
        "done": None,
        "running": "True",
        "unsaved": "True",
    }
    assert {k: r.info.status for k, r in runs.items()} == {
        "done": "FINISHED",
        "running": "KILLED",
        "unsaved": "KILLED",
    }
    assert Ledger(directory.ledger).trials["running"].status == "LOST"
    assert client.get_run(session.parent_run_id).info.status == "RUNNING"  # not the parent


def test_a_lost_node_and_a_lost_tracking_server_in_one_sweep_lose_and_double_nothing(
    ray_cluster, tmp_path, capsys
):
    """Mid-sweep, the worker node dies and the MLflow server stops (and stays away until the
    sweep is over). The lost node's trials restart from their checkpoints on the head; the
    records wait on disk; ``probe-sweep sync`` then sends every one of them, once."""
    server = MlflowServer(tmp_path)
    server.start()
    spec = slow_spec(
        tmp_path,
        "storm",
        ray_cluster.address,
        num_samples=4,
        max_concurrent=4,
        tracking={"uri": server.uri, "flush_timeout_s": 2},
    )
    driver = cli("run", str(write_spec(tmp_path, spec)))
    sweep_dir = tmp_path / "sweeps" / "storm"
    try:
        # four trials at once need both nodes; strike once three are under way
        wait_for(lambda: checkpointed_trials(sweep_dir) >= 3)
        ray_cluster.remove_node(next(iter(ray_cluster.worker_nodes)))
        server.stop()
        out, err = driver.communicate(timeout=600)
    finally:
        driver.kill()
        ray_cluster.add_node(num_cpus=2, num_gpus=2)  # the shape the other tests expect
        ray_cluster.wait_for_nodes()
    assert driver.returncode == 0, err
    records = _ledger(tmp_path, "storm").of_phase("search")
    assert len(records) == 4 and all(r.status == "FINISHED" for r in records)
    assert all(len(r.history) == 30 for r in records)
    assert sum(r.restarts for r in records) >= 1  # the lost node's trials started again
    assert "could not be sent" in out and f"probe-sweep sync {sweep_dir}" in out
    queued = len((sweep_dir / "mlflow_outbox.jsonl").read_text().splitlines())
    assert json.loads((sweep_dir / "mlflow_outbox_state.json").read_text())["sent"] < queued

    server.start()
    try:
        assert main(["sync", str(sweep_dir)]) == 0
        assert "nothing left to send" in capsys.readouterr().out
        assert main(["sync", str(sweep_dir)]) == 0  # idempotent
        assert "sent 0 MLflow record(s)" in capsys.readouterr().out
        parents, children = runs_by_kind(server.uri, "storm")
        assert len(parents) == 1 and parents[0].data.tags["recommended_strategy"]
        search = [c for c in children if c.data.tags["phase"] == "search"]
        assert len(search) == 4  # a restarted trial continued its own run
        assert all(c.info.status == "FINISHED" for c in search)
        client = MlflowClient(server.uri)
        for run in search:
            steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")]
            assert steps == list(range(1, 31))  # every epoch arrived, once
    finally:
        server.stop()


def test_a_resumed_trial_whose_checkpoints_were_rotated_away_continues_and_never_fails(
    ray_cluster, tmp_path
):
    """A driver killed right after its trials rotated their checkpoints (``num_to_keep``) left a
    state that names checkpoints no longer on disk. On resume, a trial continues from the
    newest checkpoint it wrote, or, with none left, starts again and says so in its run."""
    import shutil

    spec = slow_spec(tmp_path, "rotated", ray_cluster.address, num_samples=2, warm_start=False)
    sweep_dir = tmp_path / "sweeps" / "rotated"
    driver = cli("run", str(write_spec(tmp_path, spec)))
    try:
        wait_for(
            lambda: (
                sum(
                    len(list(trial.glob("checkpoint_*"))) >= 2
                    for trial in (sweep_dir / "search").glob("*")
                    if trial.is_dir()
                )
                == 2
            )
        )
        driver.send_signal(signal.SIGINT)
        driver.communicate(timeout=120)
    finally:
        driver.kill()
    assert driver.returncode == 130
    kept, emptied = sorted(p for p in (sweep_dir / "search").glob("*") if p.is_dir())
    # "kept": only a checkpoint newer than any the saved state can name survives
    written = sorted(kept.glob("checkpoint_*"))
    newest = written[-1]
    newer = newest.with_name(f"checkpoint_{int(newest.name.split('_')[1]) + 1:06d}")
    shutil.copytree(newest, newer)
    for path in written:
        shutil.rmtree(path)
    for path in emptied.glob("checkpoint_*"):  # "emptied": nothing left to continue from
        shutil.rmtree(path)

    time.sleep(3)  # the cluster frees the stopped driver's trial slots
    resumed_at = time.time()
    assert main(["resume", str(sweep_dir)]) == 0
    records = {r.trial_id: r for r in _ledger(tmp_path, "rotated").of_phase("search")}
    assert {r.status for r in records.values()} == {"FINISHED"}
    assert [[h["epoch"] for h in r.history] for r in records.values()] == [list(range(1, 31))] * 2
    saved_epochs = int(newest.name.split("_")[1]) + 1  # checkpoint_00000k holds epoch k + 1
    ended = [h["time"] for h in records[kept.name].history]
    assert max(ended[:saved_epochs]) < resumed_at < min(ended[saved_epochs:])  # not trained again
    assert min(h["time"] for h in records[emptied.name].history) > resumed_at
    client = MlflowClient(spec.tracking.uri)
    tags = {key: client.get_run(r.run_id).data.tags for key, r in records.items()}
    assert tags[kept.name]["restored_from"] == newer.name
    assert tags[emptied.name]["restored_from"] == "scratch: its checkpoints were gone"
