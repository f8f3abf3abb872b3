"""MLflow tracking from the driver: one parent run per sweep, one child run per trial.

A Tune callback, so trials on remote nodes never need access to the tracking store. It only
queues writes in the sweep's outbox, which sends them in batches from a background thread: the
Tune loop never waits on MLflow (a synchronous write costs ~0.1 s on SQLite), and records
survive a tracking server that is away.
"""

import re
import time
from typing import Any

from ray import tune
from ray.tune.experiment import Trial

from sweeps import protocol
from sweeps.ledger import Ledger, TrialRecord
from sweeps.outbox import as_metrics
from sweeps.protocol import Phase, TrialStatus
from sweeps.sweep_dir import SweepDir
from sweeps.tracking_session import TrackingSession

# Names that look like credentials are not logged, erring on the safe side ("monkey" too); the
# config's own fields that only look like one are.
_CREDENTIAL = re.compile(r"(token|secret|password|passwd|credentials?|key)$", re.I)
_NOT_CREDENTIALS = {"model_output_key"}
_MAX_PARAM_LENGTH = 6000


def flatten(values: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys: ``{"optimizer": {"lr": 1}}`` -> ``{"optimizer.lr": 1}``."""
    if isinstance(values, dict) and values:
        out: dict[str, Any] = {}
        for key, value in values.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): values}


def _looks_like_credential(name: str) -> bool:
    return name not in _NOT_CREDENTIALS and _CREDENTIAL.search(name) is not None


def loggable_params(config: dict[str, Any]) -> dict[str, str]:
    """The flattened config as MLflow params, without values whose names look like secrets."""
    return {
        key: str(value)[:_MAX_PARAM_LENGTH]
        for key, value in flatten(config).items()
        if not _looks_like_credential(key.rsplit(".", 1)[-1])
    }


class MlflowTracker(tune.Callback):
    """Tune callback queueing child runs under the sweep's parent run and keeping the ledger.

    It holds only paths and ids, and reopens the ledger and outbox in ``setup``: with a Ray
    client (``ray://``) Tune's run is pickled to the cluster, and must continue from what is
    on disk, not from a stale copy.
    """

    def __init__(
        self, session: TrackingSession, directory: SweepDir, metric: str, mode: str
    ) -> None:
        self.session = session
        self.directory = directory
        self.metric = metric
        self.mode = mode
        self._open()

    def _open(self) -> None:
        self.ledger = Ledger(self.directory.ledger)
        self.outbox = self.session.outbox(self.directory)

    def __getstate__(self) -> dict[str, Any]:
        return {k: self.__dict__[k] for k in ("session", "directory", "metric", "mode")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._open()

    def setup(self, *args: Any, **info: Any) -> None:  # Tune's arguments are not used
        self._open()  # the ledger as it is on disk now

    # --- Tune hooks ---------------------------------------------------------------------
    def on_trial_start(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        record = self.ledger.trials.get(trial.trial_id)
        if record is None:
            phase = trial.config.get(protocol.PHASE, Phase.SEARCH)
            record = TrialRecord(trial.trial_id, phase, trial.config[protocol.TRIAL])
            self.ledger.trials[trial.trial_id] = record
        else:
            record.restarts += 1
        record.status = TrialStatus.RUNNING
        # a restarted trial (lost node, resumed sweep) continues its run: created once per key
        self.outbox.create_run(
            trial.trial_id,
            run_name=f"{record.strategy} ({trial.trial_id})",
            tags={
                "mlflow.parentRunId": self.session.parent_run_id,
                "strategy": record.strategy,
                "trial_id": trial.trial_id,
                "phase": record.phase,
            },
            params=loggable_params(record.config),
        )
        self.ledger.save(record)

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict[str, Any], **info: Any
    ) -> None:
        record = self.ledger.trials[trial.trial_id]
        if protocol.RESTORED_HISTORY in result:  # the epochs before a restore, from its checkpoint
            record.history = [
                _epoch_entry(epoch, metrics, result)
                for epoch, metrics in enumerate(result[protocol.RESTORED_HISTORY], 1)
            ]
        if result.get(protocol.REPLAYED):  # its last epoch again: only the fold scores may be new
            scores = {k: v for k, v in result.items() if k.startswith(protocol.FOLD)}
            if record.history:
                record.history[-1].update(scores)
            return
        epoch = int(result[protocol.EPOCH])
        metrics = _logged_metrics(result)
        resent = epoch <= record.logged_epochs  # repeated after a restore from a checkpoint
        del record.history[epoch - 1 :]
        record.history.append(_epoch_entry(epoch, result, result))
        placement = {k: str(result.get(k, "")) for k in protocol.PLACEMENT}
        tags = placement if placement != record.placement else {}  # first, or on a new node
        if protocol.RESTORED_FROM in result:  # the first result after a restore says from where
            tags = {**tags, protocol.RESTORED_FROM: str(result[protocol.RESTORED_FROM])}
        record.placement = placement
        if not resent or tags:
            self.outbox.log_batch(
                trial.trial_id, [] if resent else as_metrics(metrics, epoch), tags
            )
        record.logged_epochs = max(record.logged_epochs, epoch)

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        record = self.ledger.trials[trial.trial_id]
        finished = bool(trial.last_result.get(protocol.COMPLETED))
        record.status = TrialStatus.FINISHED if finished else TrialStatus.PRUNED
        self._end(record, "FINISHED" if finished else "KILLED", {"pruned": str(not finished)})

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        record = self.ledger.trials[trial.trial_id]
        record.status = TrialStatus.FAILED
        record.error = _error_text(trial)
        self._end(record, "FAILED", {"pruned": "False", "error": record.error[:5000]})

    def _end(self, record: TrialRecord, status: str, tags: dict[str, str]) -> None:
        """End the run with the summary a sortable runs table needs: the best validation value,
        the trainable parameters, the time per epoch, and the strategy, value and status in its
        name and tags."""
        summary = _summary(record, self.metric, self.mode)
        tags = {**tags, "status": record.status}
        best = summary.get(protocol.BEST_VALUE)
        if best is not None:
            tags["mlflow.runName"] = f"{record.strategy} {best:.3f} ({record.trial_id})"
        self.outbox.log_batch(record.trial_id, as_metrics(summary, 0), tags)
        self.outbox.set_terminated(record.trial_id, status)
        self.ledger.save(record)


def _summary(record: TrialRecord, metric: str, mode: str) -> dict[str, float]:
    """A trial's figures for the runs table (the metric also under its own name)."""
    summary: dict[str, float] = {}
    best = record.best(metric, mode)
    if best is not None:
        summary.update({protocol.BEST_VALUE: best, f"best_{metric}": best})
    times = [h["epoch_time"] for h in record.history if "epoch_time" in h]
    if times:
        summary["epoch_time_mean"] = sum(times) / len(times)
    if record.history and record.history[-1].get(protocol.TRAINABLE_PARAMS) is not None:
        summary[protocol.TRAINABLE_PARAMS] = float(record.history[-1][protocol.TRAINABLE_PARAMS])
    return summary


def _logged_metrics(values: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in values.items()
        if k.startswith(("val_", protocol.FOLD)) or k in protocol.LOGGED_METRICS
    }


def _epoch_entry(epoch: int, metrics: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """A ledger entry: the epoch's metrics, the trial's size, and when the epoch ended."""
    return {
        "epoch": epoch,
        **_logged_metrics(metrics),
        protocol.TRAINABLE_PARAMS: result.get(protocol.TRAINABLE_PARAMS),
        "time": metrics.get("time", time.time()),
    }


def _error_text(trial: Any) -> str:
    """The last line of the trial's error (the exception and its message)."""
    path = getattr(trial, "error_file", None)
    if path:
        try:
            with open(path) as handle:
                lines = [line for line in handle.read().strip().splitlines() if line.strip()]
            return lines[-1] if lines else "trial failed"
        except OSError:
            pass
    return str(getattr(trial, "error_msg", None) or "trial failed")
