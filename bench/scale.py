"""Scale (issue 25): the cost of a trial as a sweep grows to thousands of trials.

Runs ``--trials`` identical short trials (EEGNet, linear probe, 2 epochs on a small synthetic
set, 2 at a time), and records in the driver, per window of ``--window`` trials: the wall time
per trial (between the ends of the window's first and last trials), the driver's own time per
trial in each stage it spends it (Tune callbacks for tracking, the ledger, the Optuna searcher,
the MLflow writes sent by the outbox's thread, Tune's snapshots of its experiment state), and
the driver's resident memory. With
``--server`` the MLflow store is a real ``mlflow server`` process (SQLite behind it) instead of
a local SQLite file; with ``--tpe`` the trials come from the default conditional spaces searched
by TPE instead of one fixed config. Writes the curves as JSON and PNG under ``--out``.

    python bench/scale.py --trials 3000 [--server] [--tpe] [--out docs/scale]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import identical_trials_spec, machine
from load_200 import DATA, TRIAL, rss_mib
from mlflow.tracking import MlflowClient
from ray.tune.execution.tune_controller import TuneController

from sweeps.ledger import Ledger
from sweeps.outbox import Outbox
from sweeps.runtime import connect
from sweeps.spec import SweepSpec
from sweeps.study_search import StudySearcher
from sweeps.sweep import run_sweep
from sweeps.tracking import MlflowTracker
from sweeps.ui import HOST, free_port

warnings.filterwarnings("ignore")
STAGES: dict[str, list[tuple[type, str]]] = {
    "tracking": [
        (MlflowTracker, name)
        for name in ("on_trial_start", "on_trial_result", "on_trial_complete", "on_trial_error")
    ],
    "ledger": [(Ledger, "save")],
    "searcher": [
        (StudySearcher, name) for name in ("suggest", "on_trial_result", "on_trial_complete")
    ],
    "mlflow": [(Outbox, "_send")],
    "tune state": [(TuneController, "save_to_dir")],
}
"""Where the driver's time goes, by the methods it goes in (tracking includes the ledger; Tune's
experiment state is its snapshot of every trial, for a resume)."""


class Recorder:
    """Times the stages' methods, and counts ended trials with their times and the memory."""

    def __init__(self, window: int, trials: int, trace_memory: bool = False) -> None:
        self.window, self.trials = window, trials
        self.trace_memory = trace_memory
        self.baseline: Any = None  # tracemalloc's snapshot at the end of the first window
        self.growth: list[str] = []  # where allocations grew from then to the last trial
        self.ended: list[float] = []
        self.rss: list[tuple[int, float]] = []
        self.spent: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))

    def install(self) -> None:
        for stage, methods in STAGES.items():
            for owner, name in methods:
                setattr(owner, name, self._timed(stage, getattr(owner, name)))
        complete = MlflowTracker.on_trial_complete

        def on_trial_complete(tracker: MlflowTracker, *args: Any, **kwargs: Any) -> None:
            complete(tracker, *args, **kwargs)
            self.ended.append(time.perf_counter())
            if len(self.ended) % 25 == 0:
                self.rss.append((len(self.ended), rss_mib("VmRSS")))
            if self.trace_memory and len(self.ended) == self.window:
                tracemalloc.start()
                self.baseline = tracemalloc.take_snapshot()
            if self.trace_memory and len(self.ended) == self.trials:
                growth = tracemalloc.take_snapshot().compare_to(self.baseline, "lineno")
                self.growth = [str(stat) for stat in growth[:12]]
                tracemalloc.stop()

        MlflowTracker.on_trial_complete = on_trial_complete  # type: ignore[method-assign]

    def _timed(self, stage: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                window = len(self.ended) // self.window
                self.spent[stage][window] += time.perf_counter() - start

        return timed

    def curves(self) -> list[dict[str, float]]:
        """Per window: the trials' end, wall seconds per trial, each stage's seconds per trial."""
        rows = []
        for index in range(len(self.ended) // self.window):
            first = self.ended[index * self.window - 1] if index else self.ended[0]
            last = self.ended[(index + 1) * self.window - 1]
            count = self.window - (index == 0)
            row = {"trials": (index + 1) * self.window, "wall": (last - first) / count}
            for stage in STAGES:
                row[stage] = self.spent[stage].get(index, 0.0) / self.window
            rows.append(row)
        return rows


def mlflow_server(folder: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", HOST, "--port", str(port)]
    command += ["--backend-store-uri", f"sqlite:///{folder / 'server.db'}", "--workers", "1"]
    command += ["--default-artifact-root", str(folder / "artifacts")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://{HOST}:{port}"
    for _ in range(240):
        try:
            MlflowClient(url).search_experiments()
            return url, process
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.5)
    raise SystemExit(f"mlflow server at {url} did not start")


def sweep_spec(folder: Path, args: argparse.Namespace, uri: str | None) -> SweepSpec:
    spec = identical_trials_spec(folder, "scale", args.trials, DATA, TRIAL, concurrency=2)
    update: dict[str, Any] = {}
    if uri is not None:
        update["tracking"] = spec.tracking.model_copy(update={"uri": uri})
    if args.tpe:  # the default conditional spaces, searched by TPE
        default = SweepSpec.model_validate({"name": "x", "data": DATA, "trial": TRIAL})
        update |= {
            "spaces": default.spaces,
            "sampler": default.sampler.model_copy(update={"name": "tpe", "seed": 0}),
        }
    return spec.model_copy(update=update)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--server", action="store_true")
    parser.add_argument("--tpe", action="store_true")
    parser.add_argument(
        "--trace-memory", action="store_true", help="where the driver's memory grows (slower)"
    )
    parser.add_argument("--out", type=Path, default=Path("docs/scale"))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    uri, server = mlflow_server(folder) if args.server else (None, None)
    spec = sweep_spec(folder, args, uri)
    recorder = Recorder(args.window, args.trials, args.trace_memory)
    recorder.install()
    connect(None)
    before = rss_mib("VmRSS")
    start = time.perf_counter()
    try:
        run_sweep(spec)
        seconds = time.perf_counter() - start
        children = _children(spec.tracking.uri)
    finally:
        if server is not None:
            server.terminate()
    curves = recorder.curves()
    label = f"{args.trials}{'_server' if args.server else ''}{'_tpe' if args.tpe else ''}"
    result = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC"),
        "trials": args.trials,
        "server": args.server,
        "tpe": args.tpe,
        "seconds": seconds,
        "child_runs": children,
        "rss_before_mib": before,
        "rss": recorder.rss,
        "memory_mib_per_trial": memory_slope(recorder.rss, args.window),
        "curves": curves,
        "memory_growth": recorder.growth,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"scale_{label}.json").write_text(json.dumps(result, indent=1))
    plot(result, args.out / f"scale_{label}.png")
    first, last = curves[0], curves[-1]
    print(json.dumps({k: v for k, v in result.items() if k not in ("rss", "curves")}))
    print(
        f"per trial: first window {first['wall']:.3f} s, last {last['wall']:.3f} s "
        f"({last['wall'] / first['wall']:.2f}×); child runs {children} of {args.trials}; "
        f"driver memory {result['memory_mib_per_trial']:.3f} MiB per trial"
    )


def memory_slope(rss: list[tuple[int, float]], window: int) -> float:
    """The driver's memory growth in MiB per trial: the least-squares slope after the first
    window (the imports and the first actors' set-up are not growth)."""
    after = [(trials, mib) for trials, mib in rss if trials >= window]
    return statistics.linear_regression(*zip(*after, strict=True)).slope


def _children(uri: str) -> int:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("scale")
    runs = client.search_runs(
        [experiment.experiment_id], "tags.phase = 'search'", max_results=50_000
    )
    return len(runs)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = result["curves"]
    trials = [row["trials"] for row in curves]
    figure, (cost, memory) = plt.subplots(1, 2, figsize=(11, 4))
    cost.plot(trials, [row["wall"] for row in curves], label="wall time per trial", color="k")
    for stage in STAGES:
        cost.plot(trials, [row[stage] for row in curves], label=f"driver: {stage}")
    cost.set_xlabel("trials ended")
    cost.set_ylabel("seconds per trial (window mean)")
    cost.set_ylim(bottom=0)
    cost.legend(fontsize=8)
    memory.plot(*zip(*result["rss"], strict=True), color="k")
    memory.set_xlabel("trials ended")
    memory.set_ylabel("driver resident memory (MiB)")
    title = f"{result['trials']} trials" + (", mlflow server" if result["server"] else "")
    figure.suptitle(title + (", TPE over the default spaces" if result["tpe"] else ""))
    figure.tight_layout()
    figure.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
