"""Connecting to Ray (an embedded local runtime by default, or an existing cluster), and how
many CPUs each trial takes from it."""

import logging
import os
from collections.abc import Callable

import ray

from probe_core import EEGDataset
from probe_core.parallelism import measure_parallelism
from sweeps.spec import SweepSpec


def cluster_address(address: str | None) -> str | None:
    """The cluster a sweep joins (its spec's, else ``RAY_ADDRESS``); None for a local one."""
    return address or os.environ.get("RAY_ADDRESS")


def connect(address: str | None) -> None:
    """``address`` (or ``RAY_ADDRESS``) joins a running cluster; otherwise a fresh local runtime
    starts inside this process (``address="local"``, never an unrelated one left running)."""
    if ray.is_initialized():
        return
    address = cluster_address(address)
    options = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(address="local", include_dashboard=False, **options)


def cluster_capacity() -> dict[str, float]:
    """Total resources of the connected cluster (CPU, GPU, …)."""
    return {k: v for k, v in ray.cluster_resources().items() if not k.startswith("node:")}


def concurrency(max_concurrent: int | None, cpus_per_trial: float) -> int:
    """Trials that can run at once: the spec's cap, else what the cluster's CPUs allow."""
    if max_concurrent is not None:
        return max_concurrent
    return max(int(cluster_capacity().get("CPU", 1) // cpus_per_trial), 1)


def allow_pending_trials(n: int) -> None:
    """Let Tune start ``n`` trials at once. With a search algorithm it otherwise keeps one
    trial pending at a time, so trial actors (seconds of imports each) start one by one."""
    os.environ["TUNE_MAX_PENDING_TRIALS_PG"] = str(n)


def plan_cpus(spec: SweepSpec, data: EEGDataset, say: Callable[[str], None]) -> SweepSpec:
    """``resources.cpus: auto`` made a number, and said. On a local runtime without GPUs:
    the threads per trial that train fastest with as many trials at once as the CPUs allow,
    measured on the sweep's model and data. On a cluster (its nodes may not be this machine) or
    with GPUs: one CPU per trial."""
    if spec.resources.cpus != "auto":
        return spec
    if cluster_address(spec.ray_address) or spec.resources.gpus > 0:
        threads = 1
        where = "a cluster" if spec.resources.gpus == 0 else "GPUs"
        say(f"resources.cpus auto: 1 CPU per trial on {where} (set resources.cpus to change)")
    else:
        cpus = local_cpus()
        measured = measure_parallelism(
            spec.base_trial(), data, cpus, spec.max_concurrent or spec.num_samples
        )
        threads = measured.chosen.threads
        say(f"resources.cpus auto on {cpus} CPUs: {measured.describe()}")
    return spec.model_copy(
        update={"resources": spec.resources.model_copy(update={"cpus": float(threads)})}
    )


def local_cpus() -> int:
    """The CPUs of the local runtime: those of the one running, else those a new one would get
    (Ray's own count, which knows a container's CPU quota)."""
    if ray.is_initialized():
        return max(int(cluster_capacity().get("CPU", 1)), 1)
    from ray._private.utils import get_num_cpus  # no public equivalent

    return max(int(get_num_cpus()), 1)
