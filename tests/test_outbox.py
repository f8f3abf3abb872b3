"""The outbox against a real MLflow store: order, batching, and no duplicates after failures."""

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
