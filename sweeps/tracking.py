"""MLflow tracking from the driver: one parent run per sweep, one child run per trial.

A Tune callback, so trials on remote nodes never need access to the tracking store. Metrics are
buffered and sent in batches (``log_batch``), not one request per value: logging every result
synchronously costs ~0.1 s each on SQLite.
"""

import re
import time
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from ray import tune

from sweeps.ledger import Ledger, TrialRecord
from sweeps.tracking_session import TrackingSession

_CREDENTIAL = re.compile(r"(^|_)(token|secret|password|passwd|api_key|access_key|key)$", re.I)
_MAX_PARAM_LENGTH = 6000
_LOGGED_METRICS = ("train_loss", "lr", "train_time", "epoch_time")


def flatten(values: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys: ``{"optimizer": {"lr": 1}}`` -> ``{"optimizer.lr": 1}``."""
    if isinstance(values, dict) and values:
        out: dict[str, Any] = {}
        for key, value in values.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): values}


def loggable_params(config: dict) -> dict[str, str]:
    """The flattened config as MLflow params, without values whose names look like secrets."""
    return {
        key: str(value)[:_MAX_PARAM_LENGTH]
        for key, value in flatten(config).items()
        if not _CREDENTIAL.search(key.rsplit(".", 1)[-1])
    }


class MlflowTracker(tune.Callback):
    """Tune callback writing child runs under the sweep's parent run and keeping the ledger.

    It holds only paths and ids, and opens the client and the ledger in ``setup``: Tune pickles
    callbacks with its experiment state, and a restored sweep must continue from what is on
    disk, not from a stale copy.
    """

    def __init__(
        self,
        session: TrackingSession,
        ledger_path: Path,
        metric: str,
        mode: str,
        flush_interval_s: float = 2.0,
    ) -> None:
        self.session = session
        self.ledger_path = ledger_path
        self.metric = metric
        self.mode = mode
        self.flush_interval_s = flush_interval_s
        self._open()

    def _open(self) -> None:
        self.client: MlflowClient = self.session.client
        self.experiment_id = self.session.experiment_id
        self.parent_run_id = self.session.parent_run_id
        self.ledger = Ledger(self.ledger_path)
        self._pending: dict[str, list[Metric]] = {}
        self._last_flush = time.monotonic()

    def __getstate__(self) -> dict:
        keep = ("session", "ledger_path", "metric", "mode", "flush_interval_s")
        return {k: self.__dict__[k] for k in keep}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._open()

    def setup(self, **info: Any) -> None:
        self._open()  # the ledger as it is on disk now

    # --- Tune hooks ---------------------------------------------------------------------
    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        record = self.ledger.trials.get(trial.trial_id)
        if record is not None and record.run_id is not None:  # a restarted trial keeps its run
            record.status = "RUNNING"
            self.client.update_run(record.run_id, status="RUNNING")
            return
        phase = trial.config.get("phase", "search")
        record = TrialRecord(trial.trial_id, phase, trial.config["trial"])
        run = self.client.create_run(
            self.experiment_id,
            run_name=f"{record.strategy}-{trial.trial_id}",
            tags={
                "mlflow.parentRunId": self.parent_run_id,
                "strategy": record.strategy,
                "trial_id": trial.trial_id,
                "phase": phase,
            },
        )
        record.run_id = run.info.run_id
        params = [Param(k, v) for k, v in loggable_params(record.config).items()]
        for start in range(0, len(params), 100):  # MLflow's limit per batch
            self.client.log_batch(record.run_id, params=params[start : start + 100])
        self.ledger.trials[trial.trial_id] = record
        self.ledger.save()

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        record = self.ledger.trials[trial.trial_id]
        epoch = int(result["training_iteration"])
        metrics = {
            k: float(v) for k, v in result.items() if k.startswith("val_") or k in _LOGGED_METRICS
        }
        del record.history[epoch - 1 :]  # a trial restored from a checkpoint repeats epochs
        record.history.append(
            {
                "epoch": epoch,
                **metrics,
                "trainable_params": result.get("trainable_params"),
                "time": time.time(),
            }
        )
        placement = {k: str(result.get(k, "")) for k in ("node_id", "gpu_ids", "pid")}
        if placement != record.placement:  # first result, or the trial moved to another node
            record.placement = placement
            tags = [RunTag(k, v) for k, v in placement.items()]
            self.client.log_batch(record.run_id, tags=tags)
        stamp = int(time.time() * 1000)
        self._pending.setdefault(record.run_id, []).extend(
            Metric(key, value, stamp, epoch) for key, value in metrics.items()
        )
        if time.monotonic() - self._last_flush > self.flush_interval_s:
            self.flush()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        record = self.ledger.trials[trial.trial_id]
        finished = bool(trial.last_result.get("completed"))
        record.status = "FINISHED" if finished else "PRUNED"
        self._end(record, "FINISHED" if finished else "KILLED", {"pruned": str(not finished)})

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        record = self.ledger.trials[trial.trial_id]
        record.status = "FAILED"
        record.error = _error_text(trial)
        self._end(record, "FAILED", {"pruned": "False", "error": record.error[:5000]})

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.flush()

    # --- helpers --------------------------------------------------------------------------
    def _end(self, record: TrialRecord, status: str, tags: dict[str, str]) -> None:
        self.flush()
        best = record.best(self.metric, self.mode)
        if best is not None:
            self.client.log_metric(record.run_id, "best_value", best)
        self.client.log_batch(record.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        self.client.set_terminated(record.run_id, status=status)
        self.ledger.save()

    def flush(self) -> None:
        """Send every buffered metric, one ``log_batch`` per run (≤ 1000 values each)."""
        for run_id, metrics in list(self._pending.items()):
            for start in range(0, len(metrics), 1000):
                self.client.log_batch(run_id, metrics=metrics[start : start + 1000])
            del self._pending[run_id]
        self._last_flush = time.monotonic()


def _error_text(trial: Any) -> str:
    path = getattr(trial, "error_file", None)
    if path:
        try:
            with open(path) as handle:
                lines = [line for line in handle.read().strip().splitlines() if line.strip()]
            return lines[-1] if lines else "trial failed"
        except OSError:
            pass
    return str(getattr(trial, "error_msg", None) or "trial failed")
