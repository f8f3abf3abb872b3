"""Connecting to Ray: an embedded local runtime by default, or an existing cluster."""

import logging
import os

import ray


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
