"""Connecting to Ray: an embedded local runtime by default, or an existing cluster."""

import os

import ray


def connect(address: str | None) -> None:
    """``address`` (or ``RAY_ADDRESS``) joins a running cluster; otherwise a fresh local runtime
    starts inside this process (``address="local"``, never an unrelated one left running)."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    env = {"env_vars": {"PYTHONWARNINGS": "ignore"}}
    if address:
        ray.init(address=address, runtime_env=env, log_to_driver=False)
    else:
        ray.init(address="local", include_dashboard=False, runtime_env=env, log_to_driver=False)


def cluster_capacity() -> dict[str, float]:
    """Total resources of the connected cluster (CPU, GPU, …)."""
    return {k: v for k, v in ray.cluster_resources().items() if not k.startswith("node:")}
