"""Load: a sweep of 200 short trials ends with 200 child runs and a bounded driver (issue 6).

Reports the driver's peak RSS (VmHWM) and its RSS before the sweep, and counts the child runs
in MLflow.

    .venv/bin/python bench/load_200.py [--trials 200]
"""

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from common import identical_trials_spec, machine
from mlflow.tracking import MlflowClient

from sweeps.runtime import connect
from sweeps.sweep import run_sweep

warnings.filterwarnings("ignore")
DATA = {"kind": "synthetic", "subjects": [0], "trials_per_class": 16}
TRIAL = {
    "backbone": {"name": "EEGNet"},
    "strategy": {"kind": "linear_probe"},
    "training": {"max_epochs": 2, "batch_size": 8},
    "split": {"val_fraction": 0.25, "test_fraction": 0.25},
}


def rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_load_"))
    spec = identical_trials_spec(folder, "load", args.trials, DATA, TRIAL, concurrency=2)
    connect(None)
    before = rss_mib("VmRSS")
    start = time.perf_counter()
    run_sweep(spec)
    seconds = time.perf_counter() - start
    client = MlflowClient(spec.tracking.uri)
    experiment = client.get_experiment_by_name("load")
    runs = client.search_runs([experiment.experiment_id], max_results=10_000)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    print(f"machine: {machine()}")
    print(
        f"{args.trials} trials in {seconds:.0f} s; {len(children)} child runs under "
        f"{len(runs) - len(children)} parent run"
    )
    print(f"driver RSS: {before:.0f} MiB before the sweep, peak {rss_mib('VmHWM'):.0f} MiB")
    ok = len(children) == args.trials
    print(f"child runs == trials: {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
