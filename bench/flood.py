"""Flood (issue 25): how many trial results a sweep's driver takes per second, and on how many
nodes, measured with fake trials instead of derived.

Each fake trial reports a result of the real trainable's shape (its keys, from one real epoch
of the load benchmark's trial) every ``--epoch-s`` seconds without training, and checkpoints
each epoch as a real one does. The sweep around them is the real one: its Optuna searcher,
Tune, the MLflow tracker, the ledger and the outbox to a local SQLite store, on a local Ray
cluster of ``--nodes`` node processes on this one host (``ray.cluster_utils.Cluster``), each
offering ``--slots`` trial slots. The offered load is slots × nodes ÷ epoch_s results per
second. Per run it records the results the driver took per second and how late it took them
(from the trial's report to the tracker's callback): where the driver keeps up, the lag stays
near zero; past its limit, the lag grows through the run.

    python bench/flood.py --nodes 1 4 16 --epoch-s 0.5 0.1 0.02 [--out docs/scale/flood.json]
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import ray
from common import identical_trials_spec, machine
from load_200 import DATA, TRIAL
from ray import tune
from ray.cluster_utils import Cluster

import sweeps.tune_run
from probe_core import TrialConfig
from probe_core.training import TrialRunner
from sweeps import protocol
from sweeps.process import configure_process
from sweeps.sweep import SweepRun
from sweeps.tracking import MlflowTracker

SENT_AT = "bench_sent_at"
EPOCHS = 10


class FakeTrainable(tune.Trainable):
    """A trial that reports ``template`` every ``epoch_s`` seconds, for ``EPOCHS`` epochs."""

    template: dict[str, Any] = {}
    epoch_s = 0.1

    def setup(self, config: dict[str, Any], data: Any = None) -> None:
        self.epoch = 0

    def step(self) -> dict[str, Any]:
        time.sleep(self.epoch_s)
        self.epoch += 1
        done = self.epoch >= EPOCHS
        context = ray.get_runtime_context()
        return {
            **self.template,
            protocol.NODE_ID: context.get_node_id(),
            protocol.EPOCH: self.epoch,
            protocol.BEST_EPOCH: self.epoch,
            protocol.COMPLETED: done,
            "done": done,
            SENT_AT: time.time(),
        }

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        (Path(checkpoint_dir) / "trial.pt").write_bytes(b"\0" * 1024)

    def load_checkpoint(self, checkpoint_dir: str) -> None:  # type: ignore[override]
        pass

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        self.epoch = 0
        return True


def real_result() -> dict[str, Any]:
    """The keys and values a real trial reports after its first epoch."""
    config = TrialConfig.model_validate({**TRIAL, "data": DATA})
    runner = TrialRunner(config)
    metrics = runner.step().metrics
    return {
        **metrics,
        protocol.PID: 0,
        protocol.GPU_IDS: "",
        protocol.ONEDNN: runner.convolution_check.tag,
        protocol.BEST_VALUE: runner.best_value,
        protocol.TRAINABLE_PARAMS: runner.sizes.trainable,
        protocol.TOTAL_PARAMS: runner.sizes.total,
    }


class LagRecorder:
    """The tracker's callback, timed: when each result arrived and how late."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.arrived: list[float] = []
        self.lag: list[float] = []

    def install(self) -> None:
        take = MlflowTracker.on_trial_result

        def on_trial_result(tracker: MlflowTracker, *args: Any, **kwargs: Any) -> None:
            now = time.time()
            self.arrived.append(now)
            self.lag.append(now - kwargs["result"][SENT_AT])
            take(tracker, *args, **kwargs)

        MlflowTracker.on_trial_result = on_trial_result  # type: ignore[method-assign]


def cluster_of(nodes: int, slots: int) -> Cluster:
    """``nodes`` Ray nodes on this host, ``slots`` trial slots each."""
    node = {"num_cpus": slots, "object_store_memory": 128 * 2**20}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    for _ in range(nodes - 1):
        cluster.add_node(**node)
    cluster.wait_for_nodes()
    return cluster


def flood(address: str, nodes: int, slots: int, epoch_s: float, recorder: LagRecorder) -> dict:
    """One sweep of fake trials filling every slot three times over."""
    concurrent = nodes * slots
    trials = 3 * concurrent
    folder = Path(tempfile.mkdtemp(prefix="bench_flood_"))
    spec = identical_trials_spec(
        folder,
        "flood",
        trials,
        DATA,
        TRIAL,
        concurrency=concurrent,
        ray_address=address,
        resources={"cpus": 1.0},
    )
    FakeTrainable.epoch_s = epoch_s
    recorder.reset()
    start = time.perf_counter()
    run = SweepRun.start(spec)
    with run.tracking():
        run.search()
    seconds = time.perf_counter() - start
    span = recorder.arrived[-1] - recorder.arrived[0]
    tenth = max(len(recorder.lag) // 10, 1)
    row = {
        "nodes": nodes,
        "slots_per_node": slots,
        "epoch_s": epoch_s,
        "offered_per_s": concurrent / epoch_s,
        "results": len(recorder.arrived),
        "expected_results": trials * EPOCHS,
        "taken_per_s": (len(recorder.arrived) - 1) / span,
        "lag_median_s": statistics.median(recorder.lag),
        "lag_first_tenth_s": statistics.mean(recorder.lag[:tenth]),
        "lag_last_tenth_s": statistics.mean(recorder.lag[-tenth:]),
        "seconds": seconds,
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--slots", type=int, default=2, help="trial slots per node")
    parser.add_argument("--epoch-s", type=float, nargs="+", default=[0.5, 0.1, 0.02])
    parser.add_argument("--out", type=Path, default=Path("docs/scale/flood.json"))
    args = parser.parse_args()
    configure_process()
    FakeTrainable.template = real_result()
    sweeps.tune_run.ProbeTrainable = FakeTrainable  # type: ignore[misc]
    recorder = LagRecorder()
    recorder.install()
    rows = []
    for nodes in args.nodes:
        cluster = cluster_of(nodes, args.slots)
        try:
            rows += [
                flood(cluster.address, nodes, args.slots, epoch_s, recorder)
                for epoch_s in args.epoch_s
            ]
        finally:
            ray.shutdown()
            cluster.shutdown()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M UTC"), "runs": rows}
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
