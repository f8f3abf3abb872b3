"""Driver-side tracking cost per reported result (issue 7, benchmark 3).

The same stream of results (trials × epochs, with our trainable's metrics and a full TrialConfig
as params) goes through probe-sweep's tracker and through Ray's MLflowLoggerCallback, both
writing to a local SQLite MLflow store. Measured: the time the Tune driver loop spends per
result (the callbacks run inside it), and for ours also the time until every record has reached
MLflow (its background thread sends them in batches). Target: at most 5 ms per result.

    .venv/bin/python bench/tracking_cost.py [--trials 20] [--epochs 20]
"""

import argparse
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import get_args

from common import machine
from ray.air.integrations.mlflow import MLflowLoggerCallback

from probe_core import TrialConfig
from probe_core.metrics import MetricName
from sweeps.sweep_dir import SweepDir
from sweeps.tracking import MlflowTracker
from sweeps.tracking_session import open_session

warnings.filterwarnings("ignore")


class _Trial(SimpleNamespace):
    def __str__(self) -> str:
        return self.trial_id

    def __hash__(self) -> int:
        return hash(self.trial_id)


def results(trials: int, epochs: int) -> tuple[list, list[tuple]]:
    config = TrialConfig.model_validate(
        {"backbone": {"name": "EEGNet"}, "data": {"kind": "synthetic"}}
    ).model_dump(mode="json")
    fake = [
        _Trial(trial_id=f"t{i:04d}", config={"trial": config}, last_result={}, error_file=None)
        for i in range(trials)
    ]
    stream = []
    for epoch in range(1, epochs + 1):
        for trial in fake:
            metrics = {f"val_{k}": 0.5 + epoch / 100 for k in get_args(MetricName)}
            stream.append(
                (
                    trial,
                    {
                        **metrics,
                        "train_loss": 0.7,
                        "lr": 1e-3,
                        "train_time": 0.1,
                        "epoch_time": 0.12,
                        "epoch": epoch,
                        "training_iteration": epoch,
                        "best_value": 0.6,
                        "trainable_params": 258,
                        "node_id": "n",
                        "gpu_ids": "",
                        "pid": 1,
                        "completed": epoch == epochs,
                    },
                )
            )
    return fake, stream


def ours(folder: Path, fake: list, stream: list) -> tuple[float, float]:
    directory = SweepDir(folder / "ours", "ours")
    session = open_session(f"sqlite:///{folder / 'ours.db'}", "ours", directory)
    tracker = MlflowTracker(session, directory, "val_balanced_accuracy", "max")
    outbox = tracker.outbox
    outbox.start()
    start = time.perf_counter()
    for trial in fake:
        tracker.on_trial_start(0, [], trial)
    for trial, result in stream:
        tracker.on_trial_result(0, [], trial, result)
        trial.last_result = result
    for trial in fake:
        tracker.on_trial_complete(0, [], trial)
    loop = time.perf_counter() - start
    outbox.close(timeout_s=600)
    return loop, time.perf_counter() - start


def rays(folder: Path, fake: list, stream: list) -> float:
    callback = MLflowLoggerCallback(
        tracking_uri=f"sqlite:///{folder / 'ray.db'}", experiment_name="ray", save_artifact=False
    )
    callback.setup()
    trials = {t.trial_id: _Trial(trial_id=t.trial_id, config=t.config) for t in fake}
    start = time.perf_counter()
    for trial in trials.values():
        callback.log_trial_start(trial)
    for trial, result in stream:
        callback.log_trial_result(result["epoch"], trials[trial.trial_id], result)
    for trial in trials.values():
        callback.log_trial_end(trial)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_tracking_"))
    fake, stream = results(args.trials, args.epochs)
    n = len(stream)
    ray_total = rays(folder, fake, stream)
    ours_loop, ours_total = ours(folder, fake, stream)
    print(f"machine: {machine()}")
    print(f"{n} results ({args.trials} trials x {args.epochs} epochs), SQLite MLflow store")
    print(
        f"  Ray MLflowLoggerCallback: {ray_total / n * 1e3:7.2f} ms per result in the driver loop"
    )
    print(
        f"  probe-sweep tracker:      {ours_loop / n * 1e3:7.2f} ms per result in the driver "
        f"loop; all records in MLflow after {ours_total:.1f} s "
        f"({ours_total / n * 1e3:.2f} ms per result end to end)"
    )
    per_result = ours_loop / n * 1e3
    print(
        f"driver cost {per_result:.2f} ms per result (target <= 5 ms): "
        f"{'PASS' if per_result <= 5 else 'FAIL'}; {ray_total / ours_loop:.0f}x less than Ray's"
    )


if __name__ == "__main__":
    main()
