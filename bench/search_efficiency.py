"""Search efficiency on the quickstart task (issue 7, benchmark 4).

The reference is the full grid: every applicable strategy at its default settings × 3 seeds,
every trial run to the end; the grid's best is its best strategy's mean over the 3 seeds (the
grid's answer; the single luckiest seed is printed too). For TPE + ASHA (and random search +
ASHA) sweeps with 5 sampler seeds each, count the training epochs spent (all trials, in the
order they were reported) until some trial comes within 1 point of balanced accuracy of the
grid's best. Target: the median over the 5 seeds of TPE + ASHA is at most 30 % of the grid's
epochs. The task is the quickstart's with four times its validation examples (ten labelled
training trials per class as there): on the quickstart's 60 validation examples one example is
1.7 points, coarser than the 1-point margin.

    .venv/bin/python bench/search_efficiency.py [--seeds 5] [--trials 24]
"""

import argparse
import statistics
import tempfile
import warnings
from pathlib import Path

from common import machine

from sweeps.ledger import Ledger
from sweeps.protocol import Phase
from sweeps.runtime import connect
from sweeps.spec import load_spec
from sweeps.sweep import ensure_pretrained, run_sweep
from sweeps.sweep_dir import SweepDir

warnings.filterwarnings("ignore")
QUICKSTART = Path(__file__).resolve().parents[1] / "sweeps" / "specs" / "quickstart.yaml"
METRIC = "val_balanced_accuracy"


def epochs_in_order(directory: SweepDir) -> list[tuple[float, float]]:
    """(time, value) of every reported epoch of the search, in the order they were reported."""
    points = []
    for record in Ledger(directory.ledger).of_phase(Phase.SEARCH):
        points += [(h["time"], h[METRIC]) for h in record.history]
    return sorted(points)


def epochs_to_reach(directory: SweepDir, target: float) -> int | None:
    for spent, (_, value) in enumerate(epochs_in_order(directory), 1):
        if value >= target:
            return spent
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=24)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_search_"))
    quickstart = load_spec(QUICKSTART)
    ensure_pretrained(quickstart.pretrain)
    data = quickstart.data.model_copy(update={"trials_per_class": 120})
    connect(None)
    common = {
        "data": data,
        "storage_path": folder / "sweeps",
        "confirmation": quickstart.confirmation.model_copy(update={"seeds": 0}),
        "tracking": quickstart.tracking.model_copy(update={"uri": f"sqlite:///{folder / 'm.db'}"}),
    }
    grid = quickstart.model_copy(
        update={
            **common,
            "name": "grid",
            "spaces": ["freeze_strategy_defaults", "seeds"],
            "sampler": quickstart.sampler.model_copy(update={"name": "grid"}),
            "scheduler": quickstart.scheduler.model_copy(update={"kind": "fifo"}),
            "num_samples": 1000,
            "warm_start": False,  # the grid sampler stops when it is done
        }
    )
    run_sweep(grid)
    grid_points = epochs_in_order(grid.sweep_dir())
    by_strategy: dict[str, list[float]] = {}
    for record in Ledger(grid.sweep_dir().ledger).of_phase(Phase.SEARCH):
        by_strategy.setdefault(record.strategy, []).append(record.best(METRIC, "max"))
    means = {strategy: statistics.mean(values) for strategy, values in by_strategy.items()}
    best_strategy = max(means, key=means.get)
    target = means[best_strategy] - 0.01
    print(f"machine: {machine()}")
    print(
        f"grid: {sum(map(len, by_strategy.values()))} trials, {len(grid_points)} epochs; best "
        f"{best_strategy} {METRIC} {means[best_strategy]:.4f} (mean of 3 seeds; luckiest "
        f"single trial {max(v for _, v in grid_points):.4f}); target {target:.4f}"
    )
    medians = {}
    for sampler in ("tpe", "random"):
        spent = []
        for seed in range(args.seeds):
            spec = quickstart.model_copy(
                update={
                    **common,
                    "name": f"{sampler}{seed}",
                    "num_samples": args.trials,
                    "sampler": quickstart.sampler.model_copy(
                        update={"name": sampler, "seed": seed}
                    ),
                }
            )
            run_sweep(spec)
            needed = epochs_to_reach(spec.sweep_dir(), target)
            total = len(epochs_in_order(spec.sweep_dir()))
            spent.append(needed if needed is not None else float("inf"))
            shown = "never" if needed is None else f"{needed} epochs"
            print(f"  {sampler} + ASHA, seed {seed}: reached after {shown} ({total} in all)")
        medians[sampler] = statistics.median(spent)
        ratio = medians[sampler] / len(grid_points)
        print(f"{sampler} + ASHA: median {medians[sampler]} epochs = {ratio:.1%} of the grid's")
    ratio = medians["tpe"] / len(grid_points)
    print(
        f"TPE + ASHA needs {ratio:.1%} of the grid's epochs (target <= 30 %): "
        f"{'PASS' if ratio <= 0.30 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
