"""Shared pieces of the sweep benchmarks: specs of identical trials, process memory, timing."""

import os
import platform
import shutil
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


def own_memory_kib(pid: int) -> int:
    """A process's share of the memory it uses, without shared memory (Ray's object store):
    PSS, where a library page mapped by two processes counts half in each, less its shmem."""
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("Pss", "Pss_Shmem"):
                fields[name] = int(rest.split()[0])
    except OSError:
        return 0
    return fields.get("Pss", 0) - fields.get("Pss_Shmem", 0)


def shared_memory_kib() -> int:
    """Bytes in /dev/shm, where Ray's object store keeps its objects, in KiB."""
    return shutil.disk_usage("/dev/shm").used // 1024


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
