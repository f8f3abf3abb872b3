"""Small sweep specs, drivers in their own process, and MLflow queries for the sweep tests."""

import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from mlflow.tracking import MlflowClient

from sweeps.spec import SweepSpec

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
"""Real recordings (../shared/realdata, never committed): tests that need them skip without."""


@contextlib.contextmanager
def said(logger: str) -> Iterator[list[str]]:
    """The messages ``logger`` logs at INFO and above while the block runs (also when the CLI
    has set the ``sweeps`` logger not to propagate to the root, where pytest's caplog sits)."""
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    target = logging.getLogger(logger)
    level = target.level
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        target.removeHandler(handler)
        target.setLevel(level)


def small_spec(tmp_path: Path, name: str, **overrides) -> SweepSpec:
    """EEGNet on two synthetic subjects: trials of a few seconds."""
    values = {
        "name": name,
        "data": {"kind": "synthetic", "subjects": [0, 1], "trials_per_class": 16},
        "trial": {
            "backbone": {"name": "EEGNet"},
            "split": {"val_fraction": 0.25, "test_fraction": 0.25},
            "training": {"max_epochs": 4, "batch_size": 8},
            "optimizer": {"lr": 0.003},
        },
        "spaces": ["freeze_strategy", "optimizer"],
        "num_samples": 4,
        "max_concurrent": 2,
        "scheduler": {"kind": "fifo"},
        "confirmation": {"seeds": 0},
        "tracking": {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
        "storage_path": str(tmp_path / "sweeps"),
    }
    for key, value in overrides.items():
        values[key] = (
            {**values[key], **value} if isinstance(value, dict) and key in values else value
        )
    return SweepSpec.model_validate(values)


def slow_spec(tmp_path: Path, name: str, ray_address: str, **overrides) -> SweepSpec:
    """``small_spec`` with trials of a few seconds each: long enough to inject a fault while
    they run."""
    return small_spec(
        tmp_path,
        name,
        ray_address=ray_address,
        data={"kind": "synthetic", "subjects": [0, 1], "trials_per_class": 24},
        trial={"training": {"max_epochs": 30, "batch_size": 8}},
        **overrides,
    )


def runs_by_kind(uri: str, experiment: str) -> tuple[list, list]:
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], max_results=5000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


def write_spec(tmp_path: Path, spec: SweepSpec) -> Path:
    path = tmp_path / f"{spec.name}.yaml"
    path.write_text(spec.to_yaml())
    return path


def cli(*args: str, **popen) -> subprocess.Popen:
    """``probe-sweep`` in its own process (a driver that a test can kill)."""
    return subprocess.Popen(
        [sys.executable, "-m", "sweeps.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def eventually(condition, timeout_s: float = 180.0, every_s: float = 0.5) -> bool:
    """Whether ``condition()`` holds within ``timeout_s``, asked every ``every_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(every_s)
    return True


def wait_for(condition, timeout_s: float = 180.0, every_s: float = 0.5) -> None:
    if not eventually(condition, timeout_s, every_s):
        raise TimeoutError("condition not met in time")


def _parents() -> dict[int, int]:
    """Each live (not zombie) process's parent, from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):  # ended meanwhile
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parents[int(stat.parent.name)] = int(fields[1])
    return parents


def descendants(pid: int) -> set[int]:
    """The live processes ``pid`` started, and theirs."""
    parents = _parents()
    found, todo = set(), [pid]
    while todo:
        pid = todo.pop()
        children = {child for child, parent in parents.items() if parent == pid}
        found |= children
        todo += children
    return found


def running(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (not ended, not zombies)."""
    return pids & _parents().keys()


OUR_MODULES = re.compile(rb"(sweeps|search_spaces|probe_core)\.[a-z_]+")
"""A name of ours inside a pickle (a path like ``sweeps/name`` does not match)."""


def saved_states_naming_us(tune_run: Path) -> list[str]:
    """The files of Tune's saved state that name a module of ours (renaming it would break them)."""
    return [p.name for p in tune_run.glob("*state-*") if OUR_MODULES.search(p.read_bytes())]


def checkpointed_trials(sweep_dir: Path) -> int:
    """Search trials that have saved at least one checkpoint (epoch) so far."""
    search = sweep_dir / "search"
    if not search.exists():
        return 0
    return sum(
        1 for trial in search.iterdir() if trial.is_dir() and any(trial.glob("checkpoint_*"))
    )


class MlflowServer:
    """A real ``mlflow server`` on a fixed local port that a test can stop and start again."""

    def __init__(self, folder) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.folder = folder
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--backend-store-uri",
                f"sqlite:///{self.folder / 'server.db'}",
                "--artifacts-destination",
                str(self.folder / "artifacts"),
                "--workers",
                "1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            # no background job runner: seven more processes this test does not need
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        )

        def up() -> bool:
            try:
                urllib.request.urlopen(f"{self.uri}/health", timeout=1)
                return True
            except OSError:
                return False

        wait_for(up, timeout_s=120)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)
