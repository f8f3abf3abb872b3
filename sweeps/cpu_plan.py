"""``resources.cpus: auto``: how many CPUs (torch threads) each trial gets, decided before the
sweep starts and kept in its spec.

On a local runtime the options are measured on the sweep's own model and data
(``probe_core.parallelism``). The measurement is kept next to the sweeps (``parallelism.json``
under the storage path) for the same model, data shape and machine: the next sweep of that model
starts without it.
"""

import contextlib
import json
import logging
import os
import platform
from pathlib import Path
from typing import Any

import ray
import torch

from probe_core import EEGDataset
from probe_core.parallelism import Parallelism, measure_parallelism
from sweeps.runtime import cluster_address, cluster_capacity
from sweeps.spec import SweepSpec

MEASUREMENTS_FILE = "parallelism.json"
log = logging.getLogger(__name__)


def plan_cpus(spec: SweepSpec, data: EEGDataset) -> SweepSpec:
    """``resources.cpus: auto`` made a number, and said. On a local runtime without GPUs:
    the threads per trial that train fastest with as many trials at once as the CPUs allow.
    On a cluster (its nodes may not be this machine) or with GPUs: one CPU per trial."""
    if spec.resources.cpus != "auto":
        return spec
    if on_cluster(spec.ray_address) or spec.resources.gpus > 0:
        threads = 1
        where = "a cluster" if spec.resources.gpus == 0 else "GPUs"
        log.info("resources.cpus auto: 1 CPU per trial on %s (set resources.cpus to change)", where)
    elif (cpus := local_cpus()) == 1:
        threads = 1
        log.info(
            "resources.cpus auto: 1 CPU per trial, one trial at a time (this machine has 1 CPU)"
        )
    else:
        measured, earlier = _measurement(spec, data, cpus)
        threads = measured.chosen.threads
        kept = f" (measured earlier: delete {earlier} to measure again)" if earlier else ""
        log.info("resources.cpus auto on %s CPUs: %s%s", cpus, measured.describe(), kept)
    return spec.model_copy(
        update={"resources": spec.resources.model_copy(update={"cpus": float(threads)})}
    )


def _measurement(spec: SweepSpec, data: EEGDataset, cpus: int) -> tuple[Parallelism, Path | None]:
    """Measured now, or earlier for the same case (then also the file it is kept in)."""
    path = spec.storage_path / MEASUREMENTS_FILE
    trial = spec.base_trial()
    max_trials = min(spec.max_concurrent or spec.num_samples, cpus)
    case = {
        "machine": [platform.node(), platform.machine(), cpus],
        "torch": [torch.__version__, torch.backends.mkldnn.enabled],  # oneDNN: the guard's say
        "model": trial.model_dump(mode="json", include={"backbone", "wrapper", "strategy"}),
        "batch_size": trial.training.batch_size,
        "data": [list(data.X.shape[1:]), data.n_classes],
        "max_trials": max_trials,
    }
    key = json.dumps(case, sort_keys=True)
    kept: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):  # none yet, or unreadable: measure
        kept = json.loads(path.read_text())
    if key in kept:
        return Parallelism.from_dict(kept[key]), path
    measured = measure_parallelism(trial, data, cpus, max_trials)
    path.parent.mkdir(parents=True, exist_ok=True)
    # sweeps starting together each write a whole file; one's entry may be lost (measured again)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps({**kept, key: measured.as_dict()}, indent=1))
    os.replace(partial, path)
    return measured, None


def on_cluster(address: str | None) -> bool:
    """Joining a cluster (an address, or a connection made before with several nodes)."""
    if cluster_address(address):
        return True
    return ray.is_initialized() and (
        # Ray leaves ray.nodes unannotated
        sum(node["Alive"] for node in ray.nodes()) > 1  # type: ignore[no-untyped-call]
    )


def local_cpus() -> int:
    """The CPUs of the local runtime: those of the one running, else those a new one would get
    (Ray's own count, which knows a container's CPU quota)."""
    if ray.is_initialized():
        return max(int(cluster_capacity().get("CPU", 1)), 1)
    from ray._private.utils import get_num_cpus  # no public equivalent

    return max(int(get_num_cpus()), 1)
