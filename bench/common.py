"""Shared pieces of the sweep benchmarks: specs of identical trials, process memory, timing."""

import os
import platform
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from sweeps.spec import SweepSpec


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"Python {platform.python_version()}"
    )


def identical_trials_spec(
    folder: Path, name: str, n: int, data: dict, trial: dict, concurrency: int, **extra
) -> SweepSpec:
    """``n`` trials of one fixed config: a one-choice space, FIFO, no confirmation."""
    fixed = [{"name": "seed", "path": "seed", "categorical": [0]}]
    return SweepSpec.model_validate(
        {
            "name": name,
            "data": data,
            "trial": trial,
            "spaces": [fixed],
            "sampler": {"name": "random"},
            "scheduler": {"kind": "fifo"},
            "num_samples": n,
            "max_concurrent": concurrency,
            "warm_start": False,
            "confirmation": {"seeds": 0},
            "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}"},
            "storage_path": str(folder / "sweeps"),
            **extra,
        }
    )


@contextmanager
def timed(label: str, into: dict):
    start = time.perf_counter()
    yield
    into[label] = time.perf_counter() - start


def pss_kib(pid: int) -> int:
    """Proportional set size: shared pages (Ray's object store) count once across processes."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def processes_named(fragment: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if fragment in (entry / "cmdline").read_bytes().decode(errors="ignore"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids
