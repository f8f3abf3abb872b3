"""Connecting to Ray: an embedded local runtime by default, or an existing cluster."""

import logging
import os
import socket
import subprocess
import sys
from typing import Any

import ray

from sweeps.errors import SweepError

CONNECT_TIMEOUT_S = 5
"""How long a cluster's address may take to accept a connection."""
PROBE_TIMEOUT_S = 12
"""How long joining the cluster may take in the probe (``check_cluster``)."""
PROBE = "import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR')"
CHECK_ADDRESS = "check --address or RAY_ADDRESS (`ray status` on the head node prints its address)"


def cluster_address(address: str | None) -> str | None:
    """The cluster a sweep joins (its spec's, else ``RAY_ADDRESS``); None for a local one
    (also when it says ``local``, as Ray's own address does)."""
    address = address or os.environ.get("RAY_ADDRESS")
    return None if address == "local" else address


def connect(address: str | None) -> None:
    """``address`` (or ``RAY_ADDRESS``) joins a running cluster; otherwise a fresh local runtime
    starts inside this process (``address="local"``, never an unrelated one left running)."""
    if ray.is_initialized():
        return
    address = cluster_address(address)
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if not address:
        ray.init(address="local", include_dashboard=False, **options)
        return
    check_answers(address)
    if not address.startswith("ray://"):  # a client connection starts a server on the head
        check_cluster(address)
    ray.init(address=address, **options)


def check_answers(address: str) -> None:
    """Something listens at ``address`` (``host:port``, ``[IPv6]:port``, ``ray://host:port``),
    or a one-line error naming it; other forms (``auto``) are Ray's to resolve."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit():
        return
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        reason = error.strerror or error
        message = f"no Ray cluster answers at {address} ({reason}): {CHECK_ADDRESS}"
        raise SweepError(message) from None


def check_cluster(address: str) -> None:
    """Join the cluster at ``address`` once in a throw-away process, or fail in one line. Ray's
    own failures take 20 s (a refused token) to minutes (a port that is not Ray's), print its
    client's warnings once a second meanwhile, and end in a long traceback."""
    environment = {**os.environ, "RAY_gcs_server_port_wait_time_s": str(PROBE_TIMEOUT_S - 4)}
    try:
        probe = subprocess.run(
            [sys.executable, "-c", PROBE, address],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            env=environment,
        )
    except subprocess.TimeoutExpired:
        raise SweepError(
            f"the Ray cluster at {address} did not answer within {PROBE_TIMEOUT_S} s: "
            f"{CHECK_ADDRESS}"
        ) from None
    if probe.returncode != 0:
        raise SweepError(_refused(address, probe.stderr))


def _refused(address: str, said: str) -> str:
    """Why the cluster at ``address`` would not take a driver that ``said`` this, in one line."""
    if "authentication" in said.lower():
        return (
            f"the Ray cluster at {address} requires token authentication and refused this "
            "driver's token (or found none): set RAY_AUTH_TOKEN, or put the token in "
            "~/.ray/auth_token (`ray get-auth-token` on the head node prints it)"
        )
    last = [line for line in said.splitlines() if line.strip()][-1:] or ["no message"]
    return f"the Ray cluster at {address} did not take this driver: {last[0].strip()}"


def cluster_capacity() -> dict[str, float]:
    """Total resources of the connected cluster (CPU, GPU, …)."""
    # ray: cluster_resources is unannotated
    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return {k: v for k, v in resources.items() if not k.startswith("node:")}


def concurrency(max_concurrent: int | None, cpus_per_trial: float) -> int:
    """Trials that can run at once: the spec's cap, else what the cluster's CPUs allow."""
    if max_concurrent is not None:
        return max_concurrent
    return max(int(cluster_capacity().get("CPU", 1) // cpus_per_trial), 1)


def allow_pending_trials(n: int) -> None:
    """Let Tune start ``n`` trials at once. With a search algorithm it otherwise keeps one
    trial pending at a time, so trial actors (seconds of imports each) start one by one."""
    os.environ["TUNE_MAX_PENDING_TRIALS_PG"] = str(n)
