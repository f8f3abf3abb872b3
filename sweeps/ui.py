"""``probe-sweep ui DIR``: the sweep's MLflow UI and the Optuna dashboard on 127.0.0.1,
started for its stores, with the addresses printed; each server behind a guard
(``sweeps/server_guard.py``) that ends it, its workers included, when this command ends: by
Ctrl-C, SIGTERM, a closed terminal, or a kill that nothing can catch."""

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from sweeps.errors import SweepError
from sweeps.sweep_dir import SweepDir
from sweeps.tracking_session import RUNS_VIEW, TrackingSession

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


@dataclass
class Server:
    name: str
    url: str  # the page to open
    process: subprocess.Popen[bytes] | None  # None: a server this command did not start


def experiment_page(uri: str, experiment_id: str) -> str:
    """The experiment in MLflow's UI, on its runs table (MLflow 3's UI opens an experiment by
    its global mode, GenAI by default, unless the address names one) with the columns that
    answer the sweep (``tracking_session.RUNS_VIEW``, saved with the experiment)."""
    return (
        f"{uri.rstrip('/')}/#/experiments/{experiment_id}/runs"
        f"?workflowType=machine_learning&viewStateShareKey={RUNS_VIEW}"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SweepError(f"{url}: the server stopped at once (exit {process.returncode})")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise SweepError(f"{url}: no answer after {timeout_s:.0f} s")


def _launch(
    command: list[str], environment: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sweeps.server_guard", *command], env=environment
    )


def start_servers(directory: SweepDir) -> list[Server]:
    """The MLflow UI on the sweep's experiment (started here for a local store; a tracking
    server is only named), and the Optuna dashboard on its studies. Both start at once: the
    addresses come when the slower answers, not after the two in turn."""
    if not directory.tracking_state.exists():
        raise SweepError(f"{directory.tracking_state}: not a sweep directory")
    session = TrackingSession.load(directory)
    servers = []
    probes = {}  # each started server's process: the address that answers once it is up
    if session.uri.startswith(("http://", "https://")):
        experiment = experiment_page(session.uri, session.experiment_id)
        servers.append(Server("MLflow (the sweep's tracking server)", experiment, None))
    else:
        port = free_port()
        base = f"http://{HOST}:{port}"
        command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", session.uri]
        command += ["--host", HOST, "--port", str(port), "--workers", "1"]
        # no background job runner: it runs GenAI scorers, nothing a sweep's runs need, and
        # its processes make the UI slower to start
        environment = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        experiment = experiment_page(base, session.experiment_id)
        mlflow = _launch(command, environment)
        servers.append(Server("MLflow UI", experiment, mlflow))
        probes[mlflow] = f"{base}/health"
    port = free_port()
    base = f"http://{HOST}:{port}"
    executable = shutil.which("optuna-dashboard", path=str(Path(sys.executable).parent))
    command = [executable or "optuna-dashboard", directory.study_storage]
    command += ["--host", HOST, "--port", str(port)]
    dashboard = _launch(command)
    servers.append(Server("Optuna dashboard", base, dashboard))
    probes[dashboard] = base
    try:
        for process, probe in probes.items():
            _wait_until_up(probe, process)
    except SweepError:
        stop_servers(servers)
        raise
    return servers


def stop_servers(servers: list[Server]) -> None:
    for server in servers:
        if server.process is not None and server.process.poll() is None:
            server.process.terminate()
            server.process.wait(timeout=30)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(directory: SweepDir) -> None:
    """Start the servers, print their addresses, and keep them up until Ctrl-C, SIGTERM or a
    closed terminal (SIGHUP)."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    servers = start_servers(directory)
    try:
        for server in servers:
            log.info("%s: %s", server.name, server.url)
        log.info("Ctrl-C to stop")
        while all(s.process is None or s.process.poll() is None for s in servers):
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        stop_servers(servers)
