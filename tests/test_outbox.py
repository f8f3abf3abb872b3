"""The outbox against a real MLflow store: order, batching, and no duplicates after failures."""

import json

from mlflow.tracking import MlflowClient

from sweeps.outbox import Outbox, as_metrics
from sweeps.sweep_dir import SweepDir
from sweeps.tracking_session import open_session


def _outbox(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    directory = SweepDir(tmp_path / "sweep", "parent")
    session = open_session(uri, "outbox", directory)
    return session.outbox(directory), MlflowClient(uri)


def test_interleaved_batches_arrive_once_even_when_sending_fails_half_way(tmp_path) -> None:
    outbox, client = _outbox(tmp_path)
    for key in ("a", "b"):
        outbox.create_run(key, run_name=key, tags={"strategy": key}, params={"lr": "0.1"})
    for epoch in range(1, 4):
        for key in ("a", "b"):
            outbox.log_batch(key, as_metrics({"val_loss": epoch / 10}, epoch), {"last": str(epoch)})
    outbox.set_terminated("a", "FINISHED")
    real_send = outbox._send
    failures = []

    def send_failing_once_for_b(op):
        if op["key"] == "b" and op["op"] == "log_batch" and not failures:
            failures.append(op)
            raise OSError("connection refused")
        real_send(op)

    outbox._send = send_failing_once_for_b
    assert not outbox.flush() and outbox.pending > 0
    reopened = Outbox(outbox.directory, outbox.uri, outbox.experiment_id)  # state from disk
    assert reopened.flush() and reopened.pending == 0
    assert reopened.flush()  # nothing left: idempotent
    for key in ("a", "b"):
        run = client.get_run(reopened.runs[key])
        history = client.get_metric_history(run.info.run_id, "val_loss")
        assert [(m.step, m.value) for m in history] == [(1, 0.1), (2, 0.2), (3, 0.3)]
        assert run.data.tags["last"] == "3" and run.data.params == {"lr": "0.1"}
    assert client.get_run(reopened.runs["a"]).info.status == "FINISHED"
    assert len(failures) == 1


def test_a_run_is_created_once_per_key(tmp_path) -> None:
    outbox, client = _outbox(tmp_path)
    outbox.create_run("t1", run_name="t1", tags={}, params={})
    outbox.create_run("t1", run_name="t1", tags={}, params={})  # a restarted trial
    assert outbox.flush()
    runs = client.search_runs(
        [outbox.experiment_id], filter_string="tags.`probe_sweep.key` LIKE '%:t1'"
    )
    assert len(runs) == 1


def test_a_run_made_just_before_a_crash_is_found_not_made_twice(tmp_path) -> None:
    """The one write a crash can leave sent but unrecorded is the first after reopening: the
    store is asked for it then, and only then."""
    outbox, client = _outbox(tmp_path)
    outbox.create_run("t1", run_name="t1", tags={}, params={})
    outbox.create_run("t2", run_name="t2", tags={}, params={})
    made = client.create_run(  # sent, then the driver died before recording it
        outbox.experiment_id, tags={"probe_sweep.key": f"{outbox.directory.name}:t1"}
    )
    reopened = Outbox(outbox.directory, outbox.uri, outbox.experiment_id)
    asked = []
    search = reopened.client.search_runs
    reopened.client.search_runs = lambda *a, **k: asked.append(a) or search(*a, **k)
    assert reopened.flush()
    assert reopened.runs["t1"] == made.info.run_id and len(asked) == 1  # not asked for t2
    assert len(client.search_runs([outbox.experiment_id])) == 3  # the parent, t1, t2


def test_each_write_costs_the_same_however_many_came_before(tmp_path) -> None:
    """Sent writes leave memory, the state file stays two numbers, runs are appended."""
    outbox, _ = _outbox(tmp_path)
    for index in range(1200):
        outbox.log_batch("parent", as_metrics({"loss": index}, index))
    outbox.create_run("t1", run_name="t1", tags={}, params={})
    assert outbox.flush() and outbox.pending == 0
    assert len(outbox._ops) < 1000  # the sent ones forgotten
    state = json.loads((outbox.directory / "mlflow_outbox_state.json").read_text())
    assert state == {"sent": 1201, "block": None}
    lines = (outbox.directory / "mlflow_outbox_runs.jsonl").read_text().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["parent", "t1"]
    reopened = Outbox(outbox.directory, outbox.uri, outbox.experiment_id)
    assert reopened.pending == 0 and set(reopened.runs) == {"parent", "t1"}


def test_runs_kept_in_the_previous_state_file_are_carried_over(tmp_path) -> None:
    """Before 2026-12 the state file held every run id: a resumed sweep keeps them."""
    outbox, _ = _outbox(tmp_path)
    state = outbox.directory / "mlflow_outbox_state.json"
    state.write_text(json.dumps({"sent": 0, "block": None, "runs": {"old": "run-1"}}))
    resumed = Outbox(outbox.directory, outbox.uri, outbox.experiment_id)
    resumed.log_batch("parent", as_metrics({"loss": 1.0}, 1))
    assert resumed.flush()  # which rewrites the state file
    reopened = Outbox(outbox.directory, outbox.uri, outbox.experiment_id)
    assert reopened.runs["old"] == "run-1" and reopened.has_run("old")


def test_a_write_cut_short_by_a_crash_does_not_swallow_the_next(tmp_path) -> None:
    """The cut line is dropped on opening, so the next write starts a line of its own."""
    outbox, client = _outbox(tmp_path)
    outbox.create_run("t1", run_name="t1", tags={}, params={})
    with open(outbox.directory / "mlflow_outbox.jsonl", "a") as handle:
        handle.write('{"op": "log_batch", "key": "t1", "metr')  # the driver killed mid-write
    reopened = Outbox(outbox.directory, outbox.uri, outbox.experiment_id)
    reopened.log_batch("t1", as_metrics({"loss": 0.5}, 1))
    assert reopened.flush()
    again = Outbox(outbox.directory, outbox.uri, outbox.experiment_id)
    assert again.pending == 0
    again.log_batch("t1", as_metrics({"loss": 0.25}, 2))  # queued, then a crash before sending
    last = Outbox(outbox.directory, outbox.uri, outbox.experiment_id)
    assert last.pending == 1 and last.flush()
    history = client.get_metric_history(last.runs["t1"], "loss")
    assert [(m.step, m.value) for m in history] == [(1, 0.5), (2, 0.25)]
