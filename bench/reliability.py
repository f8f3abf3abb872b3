"""Faults injected for real, each recovered from, with the figures of docs/RELIABILITY.md.

On a two-node local Ray cluster (started here): (1) a trial whose loss becomes NaN, (2) the
worker node removed while its trials run, (3) Ctrl-C, then the resuming driver killed with
SIGKILL, then resumed again, (4) the MLflow server stopped mid-sweep and restarted after the
sweep, then ``probe-sweep sync``. For each: trials that finished (must be the requested number),
runs lost (0), duplicated child runs (0), and the time to recover.

    .venv/bin/python bench/reliability.py
"""

import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

import ray
from common import machine
from ray.cluster_utils import Cluster

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from sweep_helpers import (  # noqa: E402  (test helpers: specs, drivers, MLflow queries)
    MlflowServer,
    checkpointed_trials,
    cli,
    runs_by_kind,
    slow_spec,
    small_spec,
    wait_for,
    write_spec,
)

from sweeps.cli import main as probe_sweep  # noqa: E402
from sweeps.ledger import Ledger  # noqa: E402
from sweeps.protocol import Phase, TrialStatus  # noqa: E402
from sweeps.sweep_dir import SweepDir  # noqa: E402

warnings.filterwarnings("ignore")


def _searched(directory: SweepDir) -> list:
    return Ledger(directory.ledger).of_phase(Phase.SEARCH)


def outcome(uri: str, name: str, directory: SweepDir, requested: int) -> dict:
    searched = [r for r in _searched(directory) if r.status != TrialStatus.LOST]
    _, children = runs_by_kind(uri, name)
    runs = [
        c
        for c in children
        if c.data.tags.get("phase") == Phase.SEARCH and c.data.tags.get("lost") != "True"
    ]
    ended = sum(r.status in (TrialStatus.FINISHED, TrialStatus.PRUNED) for r in searched)
    return {
        "finished": ended,
        "requested": requested,
        "lost": requested - ended,
        "duplicates": len(runs) - len({c.data.tags["trial_id"] for c in runs}),
    }


def lost_node(cluster: Cluster, folder: Path) -> dict:
    spec = slow_spec(
        folder,
        "lost",
        cluster.address,
        num_samples=4,
        max_concurrent=4,
    )
    driver = cli("run", str(write_spec(folder, spec)))
    wait_for(lambda: checkpointed_trials(spec.sweep_dir().path) >= 3)
    removed = time.time()
    cluster.remove_node(next(iter(cluster.worker_nodes)))
    driver.communicate(timeout=900)
    cluster.add_node(num_cpus=2, num_gpus=2)
    restarted = [r for r in _searched(spec.sweep_dir()) if r.restarts]
    back = [min(h["time"] for h in r.history if h["time"] > removed) for r in restarted]
    return {
        **outcome(spec.tracking.uri, "lost", spec.sweep_dir(), 4),
        "recover_s": max(back) - removed if back else float("nan"),
        "how": "worker node removed (its raylet and workers killed)",
    }


def interrupted_then_killed(cluster: Cluster, folder: Path) -> dict:
    spec = slow_spec(
        folder,
        "killed",
        cluster.address,
        num_samples=5,
        max_concurrent=2,
        warm_start=False,
    )
    sweep_dir = spec.sweep_dir()
    driver = cli("run", str(write_spec(folder, spec)))
    wait_for(lambda: checkpointed_trials(sweep_dir.path) >= 1)
    driver.send_signal(signal.SIGINT)
    driver.communicate(timeout=120)
    time.sleep(3)
    driver = cli("resume", str(sweep_dir.path))
    finished = TrialStatus.FINISHED
    wait_for(lambda: sum(r.status == finished for r in _searched(sweep_dir)) >= 2)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    start = time.time()
    probe_sweep(["resume", str(sweep_dir.path)])
    return {
        **outcome(spec.tracking.uri, "killed", sweep_dir, 5),
        "recover_s": time.time() - start,
        "how": "Ctrl-C (SIGINT) to `run`, then SIGKILL to `resume`, then `resume`",
    }


def server_away(cluster: Cluster, folder: Path) -> dict:
    server = MlflowServer(folder)
    server.start()
    spec = slow_spec(
        folder,
        "offline",
        cluster.address,
        num_samples=2,
        max_concurrent=1,
        tracking={"uri": server.uri, "flush_timeout_s": 2},
    )
    driver = cli("run", str(write_spec(folder, spec)))
    wait_for(lambda: checkpointed_trials(spec.sweep_dir().path) >= 1)
    server.stop()
    driver.communicate(timeout=900)
    server.start()
    start = time.time()
    probe_sweep(["sync", str(spec.sweep_dir().path)])
    result = {
        **outcome(server.uri, "offline", spec.sweep_dir(), 2),
        "recover_s": time.time() - start,
        "how": "MLflow server stopped mid-sweep, back after it; `probe-sweep sync`",
    }
    server.stop()
    return result


def failing_trial(cluster: Cluster, folder: Path) -> dict:
    scale = [
        {
            "name": "scale",
            "path": "wrapper.on_the_fly_preprocessor.scaler",
            "categorical": [1.0, 1.0e38],
        }
    ]
    spec = small_spec(
        folder,
        "nan",
        ray_address=cluster.address,
        spaces=[scale],
        sampler={"name": "grid", "grid": {"scale": [1.0, 1.0e38]}},
        num_samples=2,
        max_failures=1,
    )
    start = time.time()
    probe_sweep(["run", str(write_spec(folder, spec))])
    records = _searched(spec.sweep_dir())
    return {
        "finished": sum(r.status == TrialStatus.FINISHED for r in records),
        "requested": 2,
        "lost": 0 if len(records) == 2 else 2 - len(records),
        "duplicates": 0,
        "recover_s": time.time() - start,
        "how": "a trial's loss becomes NaN (input scaled by 1e38): it ends FAILED, the "
        "other finishes",
    }


def main() -> None:
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False}
    )
    cluster.add_node(num_cpus=2, num_gpus=2)
    cluster.wait_for_nodes()
    folder = Path(tempfile.mkdtemp(prefix="bench_reliability_"))
    rows = {}
    for name, scenario in (
        ("failing trial", failing_trial),
        ("lost worker node", lost_node),
        ("Ctrl-C, then killed driver", interrupted_then_killed),
        ("tracking server away", server_away),
    ):
        scenario_dir = folder / name.replace(" ", "_").replace(",", "")
        scenario_dir.mkdir(parents=True)
        rows[name] = scenario(cluster, scenario_dir)
    ray.shutdown()  # the in-process runs connected this driver to the cluster
    cluster.shutdown()
    print(f"machine: {machine()}")
    print(
        "| fault | injected by | trials ended / requested | runs lost | duplicates | "
        "time to recover |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, row in rows.items():
        print(
            f"| {name} | {row['how']} | {row['finished']} / {row['requested']} | "
            f"{row['lost']} | {row['duplicates']} | {row['recover_s']:.1f} s |"
        )


if __name__ == "__main__":
    main()
