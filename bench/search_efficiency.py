"""Search efficiency on the quickstart task (issue 7, benchmark 4).

The reference is the full grid: every applicable strategy at its default settings × 3 seeds,
every trial run to the end. For TPE + ASHA (and random search + ASHA) sweeps with 5 sampler seeds
each, count the training epochs spent (all trials, in the order they were reported) until some
trial comes within 1 point of balanced accuracy of the grid's best. Target: the median over the
5 seeds of TPE + ASHA is at most 30 % of the grid's epochs.

    .venv/bin/python bench/search_efficiency.py [--seeds 5] [--trials 24]
"""

import argparse
import statistics
import tempfile
import warnings
from pathlib import Path

from common import machine

from sweeps.ledger import Ledger
from sweeps.runtime import connect
from sweeps.spec import load_spec
from sweeps.sweep import ensure_pretrained, run_sweep

warnings.filterwarnings("ignore")
QUICKSTART = Path(__file__).resolve().parents[1] / "sweeps" / "specs" / "quickstart.yaml"
METRIC = "val_balanced_accuracy"


def epochs_in_order(sweep_dir: Path) -> list[tuple[float, float]]:
    """(time, value) of every reported epoch of the search, in the order they were reported."""
    points = []
    for record in Ledger(sweep_dir / "trials.json").of_phase("search"):
        points += [(h["time"], h[METRIC]) for h in record.history]
    return sorted(points)


def epochs_to_reach(sweep_dir: Path, target: float) -> int | None:
    for spent, (_, value) in enumerate(epochs_in_order(sweep_dir), 1):
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
    connect(None)
    common = {
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
    run_sweep(grid, say=lambda *_: None)
    grid_points = epochs_in_order(grid.sweep_dir())
    grid_best = max(value for _, value in grid_points)
    target = grid_best - 0.01
    print(f"machine: {machine()}")
    print(
        f"grid: {len(Ledger(grid.sweep_dir() / 'trials.json').of_phase('search'))} trials, "
        f"{len(grid_points)} epochs, best {METRIC} {grid_best:.4f}; target {target:.4f}"
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
            run_sweep(spec, say=lambda *_: None)
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
