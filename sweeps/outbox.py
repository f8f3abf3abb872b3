"""Durable, ordered MLflow writes, so a tracking server that goes away loses nothing.

Every write of a sweep (create a run, log a batch, end a run, log an artifact, register a
model) is appended to a file in the sweep directory and sent in order by a background thread.
When the server is unreachable the writes wait on disk and are retried; ``probe-sweep sync DIR``
sends what is left later. Sending is idempotent: the number of writes already sent is kept next
to them, and a run is created only when no run of that key exists yet.

Every write costs the same however long the sweep: the files are appended to (the runs made so
far too, one line each), the state file holds two numbers, the writes already sent leave
memory, and the store is asked whether a run exists only for the first write after opening (the
only one a crash can have sent unrecorded).
"""

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from sweeps.json_lines import append_records, read_records

LOGGER = logging.getLogger(__name__)
OPS_FILE = "mlflow_outbox.jsonl"
STATE_FILE = "mlflow_outbox_state.json"
RUNS_FILE = "mlflow_outbox_runs.jsonl"  # {"key": …, "run_id": …} per run made or adopted
_KEEP_SENT = 1000  # sent writes dropped from memory in chunks of this many
KEY_TAG = "probe_sweep.key"
# Errors that will not go away by retrying: the write is skipped (and logged), not retried.
_PERMANENT = {"INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS", "BAD_REQUEST"}


class Outbox:
    _open: dict[Path, "Outbox"] = {}
    _registry_lock = threading.Lock()

    @classmethod
    def for_directory(cls, directory: Path, uri: str, experiment_id: str) -> "Outbox":
        """The one outbox of a sweep directory in this process (shared by the Tune callback,
        which Tune pickles and restores, and the sweep itself)."""
        directory = Path(directory).resolve()
        with cls._registry_lock:
            if directory not in cls._open:
                cls._open[directory] = cls(directory, uri, experiment_id)
            return cls._open[directory]

    def __init__(self, directory: Path, uri: str, experiment_id: str) -> None:
        self.directory = directory
        self.uri = uri
        self.experiment_id = experiment_id
        self.client = MlflowClient(tracking_uri=uri)
        # queueing never waits for a send (the Tune loop queues; the thread sends)
        self._queue_lock = threading.Lock()  # one append to the file at a time
        self._send_lock = threading.RLock()  # one sender at a time (the thread, close, sync)
        state_path = directory / STATE_FILE
        state = json.loads(state_path.read_text()) if state_path.exists() else {}
        self.sent: int = state.get("sent", 0)  # writes sent, of all ever queued
        self.block: dict[str, Any] | None = state.get("block")  # a stretch of batches half sent
        self.runs: dict[str, str] = {}
        for line in read_records(directory / RUNS_FILE):
            self.runs[line["key"]] = line["run_id"]
        for key, run_id in state.get("runs", {}).items():  # before 2026-12 the state held them
            if key not in self.runs:
                self._record_run(key, run_id)
        queued = read_records(directory / OPS_FILE)
        self._keys = {op["key"] for op in queued if op["op"] == "create_run"} | set(self.runs)
        self._offset: int = self.sent  # writes before it are sent: not kept in memory
        self._ops: list[dict[str, Any]] = queued[self.sent :]
        self._opened_at: int = self.sent
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- queueing -----------------------------------------------------------------------
    def _add(self, op: dict[str, Any]) -> None:
        with self._queue_lock:
            append_records(self.directory / OPS_FILE, [op])
            self._ops.append(op)

    def has_run(self, key: str) -> bool:
        return key in self._keys

    @property
    def run_keys(self) -> frozenset[str]:
        """Keys of every run created or queued for creation."""
        return frozenset(self._keys)

    def adopt_run(self, key: str, run_id: str) -> None:
        """A run created outside the outbox (the sweep's parent run)."""
        with self._send_lock:
            self._keys.add(key)
            self._record_run(key, run_id)

    def _record_run(self, key: str, run_id: str) -> None:
        self.runs[key] = run_id
        append_records(self.directory / RUNS_FILE, [{"key": key, "run_id": run_id}])

    def create_run(
        self, key: str, run_name: str, tags: dict[str, str], params: dict[str, str]
    ) -> None:
        if self.has_run(key):
            return
        self._keys.add(key)
        self._add(
            {"op": "create_run", "key": key, "run_name": run_name, "tags": tags, "params": params}
        )

    def log_batch(
        self,
        key: str,
        metrics: Sequence[tuple[str, float, int, int]] = (),
        tags: dict[str, str] | None = None,
    ) -> None:
        self._add({"op": "log_batch", "key": key, "metrics": list(metrics), "tags": tags or {}})

    def set_terminated(self, key: str, status: str) -> None:
        self._add({"op": "set_terminated", "key": key, "status": status})

    def log_artifact(self, key: str, path: Path, artifact_path: str | None = None) -> None:
        self._add(
            {"op": "log_artifact", "key": key, "path": str(path), "artifact_path": artifact_path}
        )

    def register_model(self, key: str, artifact_path: str, name: str) -> None:
        self._add(
            {"op": "register_model", "key": key, "artifact_path": artifact_path, "name": name}
        )

    @property
    def pending(self) -> int:
        return self._offset + len(self._ops) - self.sent

    def _queued(self, index: int) -> dict[str, Any]:
        """The write queued at ``index`` (of all ever queued)."""
        return self._ops[index - self._offset]

    def _forget_sent(self) -> None:
        """Drop sent writes from memory, a chunk at a time (amortised O(1) per write)."""
        if self.sent - self._offset >= _KEEP_SENT:
            del self._ops[: self.sent - self._offset]
            self._offset = self.sent

    # --- sending --------------------------------------------------------------------------
    def flush(self) -> bool:
        """Send what is queued, in order; stop at the first failure. True when all is sent.

        A stretch of consecutive ``log_batch`` writes goes out as one request per run (a result
        per epoch and trial would otherwise be one request each). Within such a stretch the runs
        already sent are remembered, so a failure half-way never sends a record twice.
        """
        with self._send_lock:
            while self.pending:
                first = self._queued(self.sent)
                if first["op"] != "log_batch":
                    if not self._attempt(self._send, first):
                        return False
                    self.sent += 1
                    self._save_state()
                    continue
                if self.block is None:
                    end = self.sent
                    while end < self.sent + self.pending and self._queued(end)["op"] == "log_batch":
                        end += 1
                    self.block = {"end": end, "done": []}
                stretch = [self._queued(i) for i in range(self.sent, self.block["end"])]
                for key, batch in self._merge(stretch).items():
                    if key in self.block["done"]:
                        continue
                    if not self._attempt(self._send, batch):
                        return False
                    self.block["done"].append(key)
                    self._save_state()
                self.sent, self.block = self.block["end"], None
                self._save_state()
            self._forget_sent()
            return True

    @staticmethod
    def _merge(ops: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Consecutive ``log_batch`` writes, one per run, in order (later tags win)."""
        merged: dict[str, dict[str, Any]] = {}
        for op in ops:
            batch = merged.setdefault(
                op["key"], {"op": "log_batch", "key": op["key"], "metrics": [], "tags": {}}
            )
            batch["metrics"].extend(op["metrics"])
            batch["tags"].update(op["tags"])
        return merged

    def _attempt(self, send: Callable[[dict[str, Any]], None], op: dict[str, Any]) -> bool:
        """False when the server cannot be reached (retry later); a refused write is skipped."""
        try:
            send(op)
        except MlflowException as error:
            if error.error_code not in _PERMANENT:
                return False
            LOGGER.warning("MLflow refused %s for %s: %s", op["op"], op["key"], error)
        except OSError:
            return False
        return True

    def _send(self, op: dict[str, Any]) -> None:
        kind, key = op["op"], op["key"]
        if kind == "create_run":
            if key not in self.runs:  # else made before a crash cut the state's save short
                self._record_run(key, self._find_or_create(op))
            return
        run_id = self.runs[key]
        if kind == "log_batch":
            metrics = [Metric(k, v, stamp, step) for k, v, stamp, step in op["metrics"]]
            for start in range(0, max(len(metrics), 1), 1000):  # MLflow's limit per request
                self.client.log_batch(
                    run_id,
                    metrics=metrics[start : start + 1000],
                    tags=[RunTag(k, v) for k, v in op["tags"].items()] if start == 0 else [],
                )
        elif kind == "set_terminated":
            self.client.set_terminated(run_id, status=op["status"])
        elif kind == "log_artifact":
            path = Path(op["path"])
            if path.is_dir():
                self.client.log_artifacts(run_id, str(path), op["artifact_path"])
            elif path.exists():
                self.client.log_artifact(run_id, str(path), op["artifact_path"])
        elif kind == "register_model":
            import mlflow

            mlflow.set_tracking_uri(self.uri)
            mlflow.register_model(f"runs:/{run_id}/{op['artifact_path']}", op["name"])

    def _find_or_create(self, op: dict[str, Any]) -> str:
        """Idempotent: a run already created for this key (a send cut short before it was
        recorded: only the first write after opening can be one) is reused."""
        if self.sent == self._opened_at:
            found = self.client.search_runs(
                [self.experiment_id], filter_string=f"tags.`{KEY_TAG}` = '{self._tag(op['key'])}'"
            )
            if found:
                return cast(str, found[0].info.run_id)  # mlflow: run_id is Any
        run = self.client.create_run(
            self.experiment_id,
            run_name=op["run_name"],
            tags={**op["tags"], KEY_TAG: self._tag(op["key"])},
        )
        params = [Param(k, v) for k, v in op["params"].items()]
        for start in range(0, len(params), 100):
            self.client.log_batch(run.info.run_id, params=params[start : start + 100])
        return cast(str, run.info.run_id)

    def _tag(self, key: str) -> str:
        return f"{self.directory.name}:{key}"

    def _save_state(self) -> None:
        tmp = self.directory / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps({"sent": self.sent, "block": self.block}))
        os.replace(tmp, self.directory / STATE_FILE)

    # --- background thread ----------------------------------------------------------------
    def start(self, interval_s: float = 2.0) -> None:
        """Send in the background every ``interval_s`` (the Tune loop never waits on MLflow)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval_s):
                self.flush()

        self._thread = threading.Thread(target=loop, name="mlflow-outbox", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float) -> bool:
        """Stop the thread and keep trying to send for up to ``timeout_s``. True when all sent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        deadline = time.monotonic() + timeout_s
        while not self.flush():
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(2.0, max(deadline - time.monotonic(), 0.0)))
        return True


def describe_unsent(outbox: Outbox) -> str:
    return (
        f"{outbox.pending} MLflow record(s) could not be sent to {outbox.uri}; they are kept in "
        f"{outbox.directory}. When the server is back: probe-sweep sync {outbox.directory}"
    )


def as_metrics(values: dict[str, Any], step: int) -> list[tuple[str, float, int, int]]:
    stamp = int(time.time() * 1000)
    return [(k, float(v), stamp, step) for k, v in values.items()]
