"""``--auto`` on the selection benchmark: its race at the base learning rate only against the
race at the warm start's two rates (the default), each the same sweep otherwise, scored on the
yardstick of ``compare.py`` beside the default search's rows of ``results.json``.

A race at one rate ranks the strategies by how fast each learns at that rate; the winner alone
is tuned after it, so a strategy that needs a higher rate is never searched (new_classes: the
probes lead at 1e-3, training EEGNet's last block wins at 1e-2). Every row (task × sweep seed
× race rates) goes to ``results_auto.json`` as it ends, and a rerun resumes from it.

    python -m bench.selection.auto_race --tasks new_classes few_shot   # 2-5 min a sweep, 2 CPUs
"""

import argparse
import json
import statistics
import tempfile
import warnings
from pathlib import Path

from bench.selection.compare import (
    DELIVERED,
    LEARNING_RATE_FACTORS,
    RESULTS,
    WARM_START_LR_FACTORS,
    scored,
    sweep_spec,
)
from bench.selection.ground_truth import DEFAULT_OUT
from bench.selection.tasks import TASKS, SelectionTask
from bench.selection.yardstick import Yardstick
from probe_core import EEGDataset, pretrain
from sweeps.sweep import run_sweep

warnings.filterwarnings("ignore")
OUT = Path(__file__).parent / "results_auto.json"
RACES = ([1.0], list(WARM_START_LR_FACTORS))
"""The race's learning rates as factors of the base one: before 2026-12-05, and the default."""


def auto_row(
    task: SelectionTask,
    dataset: EEGDataset,
    truth: dict,
    yardstick: Yardstick,
    folder: Path,
    sweep_seed: int,
    race_lr_factors: list[float],
) -> dict:
    """One ``--auto`` sweep of ``task`` (16 search trials, the finalists on 3 folds × 2 seeds,
    the learning-rate step), its race at the base rate times each of ``race_lr_factors``."""
    spec = sweep_spec(
        task,
        folder,
        "tpe",
        16,
        2,
        sweep_seed,
        learning_rate_factors=LEARNING_RATE_FACTORS,
        warm_start_lr_factors=race_lr_factors,
    )
    spec = spec.model_copy(update={"name": f"{spec.name}-auto-{len(race_lr_factors)}"})
    outcome = run_sweep(spec, auto=True)
    return {
        "task": task.name,
        "sweep_seed": sweep_seed,
        "race_lr_factors": race_lr_factors,
        **scored(spec, outcome, task, truth, yardstick, dataset),
    }


def report(rows: list[dict], default_rows: list[dict]) -> str:
    """Per race: mean and worst config-level regret in points, runs within a point, the
    strategy-level mean, compute; the default search (no race) on the same (task, sweep seed)
    pairs; then every run's pick."""
    pairs = {(r["task"], r["sweep_seed"]) for r in rows}
    default = [r["probe-sweep"] for r in default_rows if (r["task"], r["sweep_seed"]) in pairs]
    groups = {
        f"--auto, race at {factors}": [r for r in rows if r["race_lr_factors"] == factors]
        for factors in RACES
    }
    groups["the default search, no race"] = default
    lines = []
    for name, runs in groups.items():
        if not runs:
            continue
        regrets = [100 * r["config_regret"] for r in runs]
        lines.append(
            f"{name}: {len(runs)} runs, config-level regret mean {statistics.mean(regrets):.1f} "
            f"worst {max(regrets):.1f} points, within a point in {sum(x <= 1 for x in regrets)};"
            f" strategy-level mean {100 * statistics.mean(r['regret'] for r in runs):.1f}; "
            f"compute at most {max(r['compute'] for r in runs):.0%} of the grid"
        )
    for r in sorted(rows, key=lambda r: (r["task"], r["sweep_seed"], len(r["race_lr_factors"]))):
        lr = f" at {r['delivered']['lr']:.2g}" if r["delivered"] else ""
        lines.append(
            f"  {r['task']} seed {r['sweep_seed']}, race at {r['race_lr_factors']}: "
            f"{r['strategy']}{lr}, {100 * r['config_regret']:.1f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=[t.name for t in TASKS])
    parser.add_argument("--sweep-seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    truth = json.loads(DEFAULT_OUT.read_text())
    yardstick = Yardstick(DELIVERED)
    rows = json.loads(args.out.read_text()) if args.out.exists() else []
    done = {(r["task"], r["sweep_seed"], tuple(r["race_lr_factors"])) for r in rows}
    folder = Path(tempfile.mkdtemp(prefix="bench_auto_race_"))
    tasks = [t for t in TASKS if t.name in args.tasks and t.available]
    datasets: dict[str, EEGDataset] = {}  # built once per task
    for sweep_seed in range(args.sweep_seeds):
        for task in tasks:
            for factors in RACES:
                if (task.name, sweep_seed, tuple(factors)) in done:
                    continue
                if not task.source.output.exists():
                    pretrain(task.source)
                if task.name not in datasets:
                    datasets[task.name] = task.target.build()
                dataset = datasets[task.name]
                row = auto_row(task, dataset, truth, yardstick, folder, sweep_seed, factors)
                rows.append(row)
                args.out.write_text(json.dumps(rows, indent=1))
                print(json.dumps(row), flush=True)
    print(report(rows, json.loads(RESULTS.read_text())))


if __name__ == "__main__":
    main()
