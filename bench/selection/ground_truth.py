"""Compute the ground truth of the strategy-selection benchmark, once, into a JSON file that tests
and CI read instead of recomputing it.

Every applicable strategy at its default settings × a learning-rate grid × model seeds, and
neuralbench's named presets × a few seeds at the base learning rate, each trained on the task's
target with ``run_trial`` and tested on its held-out split. The file is rewritten after every
run and a rerun resumes from it (runs of a task whose definition changed are dropped).

    python -m bench.selection.ground_truth [--tasks few_shot ...] [--seeds 5] [--out FILE]
        [--learning-rates 1e-4 3e-4 ...] [--more-seeds 5] [--jobs 2]

``--more-seeds N`` adds N model seeds at each strategy's tuned learning rate once its grid is
done: more power for the paired tests between strategies, at a fraction of the grid's cost. The
rate is still chosen on the grid's seeds alone. The published table has none; the power check
(docs/SELECTION.md) starts from a copy of it:

    cp bench/selection/ground_truth.json bench/selection/ground_truth_more_seeds.json
    python -m bench.selection.ground_truth --more-seeds 5 --jobs 2 \
        --out bench/selection/ground_truth_more_seeds.json
"""

import argparse
import datetime
import functools
import json
import multiprocessing
import os
import platform
import statistics
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from bench.selection.tasks import REALDATA, TASKS, SelectionTask
from probe_core import EEGDataset, PretrainConfig, TrialConfig, pretrain, run_trial
from search_spaces.config_paths import with_values
from search_spaces.context import make_context
from search_spaces.presets import PRESETS, available_presets

LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
PRESET_SEEDS = 3
METRIC = "balanced_accuracy"
DEFAULT_OUT = Path(__file__).parent / "ground_truth.json"
REALDATA_MARK = "$REALDATA"
BY_NAME = {task.name: task for task in TASKS}


def task_definition(task: SelectionTask) -> dict:
    """What the task's runs depend on (the checkpoint path is a cache detail, left out)."""
    return {
        "description": task.description,
        "expected_winner": task.expected_winner,
        "source": _portable(task.source.model_dump(mode="json", exclude={"output"})),
        "base_trial": _portable(_without_checkpoint(task.base).model_dump(mode="json")),
        "strategies": list(task.strategies),
    }


def is_current(stored: dict, task: SelectionTask) -> bool:
    """Whether runs made under the ``stored`` definition still hold for ``task``: compared as
    validated configs, so that a config field added later with a default does not outdate them."""
    source = PretrainConfig.model_validate(
        {**_local(stored["source"]), "output": task.source.output}
    )
    base = TrialConfig.model_validate(_local(stored["base_trial"]))
    return (
        stored["strategies"] == list(task.strategies)
        and source == task.source
        and base == _without_checkpoint(task.base)
    )


def _portable(value: Any) -> Any:
    """``value`` with every path under the real recordings written as ``$REALDATA/...``, so that
    the table still holds on a machine that keeps the recordings elsewhere (CI does)."""
    return _rewrite_prefix(value, f"{REALDATA}/", f"{REALDATA_MARK}/")


def _local(value: Any) -> Any:
    """The inverse of ``_portable`` on this machine."""
    return _rewrite_prefix(value, f"{REALDATA_MARK}/", f"{REALDATA}/")


def _rewrite_prefix(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {key: _rewrite_prefix(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_rewrite_prefix(item, old, new) for item in value]
    if isinstance(value, str) and value.startswith(old):
        return new + value.removeprefix(old)
    return value


def _without_checkpoint(config: TrialConfig) -> TrialConfig:
    backbone = config.backbone.model_copy(update={"checkpoint": None})
    return config.model_copy(update={"backbone": backbone})


def planned_runs(
    task: SelectionTask,
    presets: list[str],
    seeds: int,
    learning_rates: tuple[float, ...] = LEARNING_RATES,
) -> list[dict]:
    """The runs of ``task``: the strategies' grid, then the presets at the base learning rate."""
    runs = [
        {"task": task.name, "arm": kind, "lr": lr, "seed": seed}
        for kind in task.strategies
        for lr in learning_rates
        for seed in range(seeds)
    ]
    base_lr = task.base.optimizer.lr
    return runs + [
        {"task": task.name, "arm": f"preset:{name}", "lr": base_lr, "seed": seed}
        for name in presets
        for seed in range(PRESET_SEEDS)
    ]


def trial_config(task: SelectionTask, run: dict) -> TrialConfig:
    arm = run["arm"]
    if arm.startswith("preset:"):
        values = {**PRESETS[arm.removeprefix("preset:")], "seed": run["seed"]}
        return with_values(task.base, values)
    return task.trial({"kind": arm}, run["lr"], run["seed"])


def execute(run: dict) -> dict:
    """One run, as a worker process does it: single-threaded, its task's data built once."""
    task = BY_NAME[run["task"]]
    start = time.perf_counter()
    result = run_trial(trial_config(task, run), target_data(task.name), evaluate_test=True)
    return {
        **run,
        "val": round(result.val_metrics[METRIC], 4),
        "test": round(result.test_metrics[METRIC], 4),
        "trainable_params": result.trainable_params,
        "best_epoch": result.best_epoch,
        "epochs": len(result.history),
        "seconds": round(time.perf_counter() - start, 2),
    }


@functools.cache
def target_data(name: str) -> EEGDataset:
    return BY_NAME[name].target.build()


def single_threaded() -> None:
    """Each run on one thread, so that ``--jobs`` runs share the CPUs without contention; the
    same in the driver (pretraining) and in every worker."""
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=FutureWarning)


def ensure_source(task: SelectionTask) -> dict:
    """Pretrain the task's source unless cached; its validation score and time, kept beside the
    checkpoint so that a resumed or rebuilt table still reports them."""
    record = task.source.output.with_suffix(".json")
    if not task.source.output.exists() or not record.exists():
        print(f"pretraining {task.source.output.name}", flush=True)
        start = time.perf_counter()
        result = pretrain(task.source)
        summary = {
            "checkpoint": task.source.output.name,
            f"val_{METRIC}": round(result.val_metrics[METRIC], 4),
            "seconds": round(time.perf_counter() - start, 2),
        }
        record.write_text(json.dumps(summary))
    return json.loads(record.read_text())


def tuned_runs(runs: list[dict], kind: str) -> list[dict]:
    """``kind``'s runs (one per seed) at the learning rate with the best mean validation score
    over the seeds every rate ran (the grid's: seeds added at the chosen rate cannot change the
    choice): what a user who tuned it would have had. Empty when it has no runs."""
    by_lr: dict[float, list[dict]] = {}
    for run in runs:
        if run["arm"] == kind:
            by_lr.setdefault(run["lr"], []).append(run)
    if not by_lr:
        return []
    shared = set.intersection(*({r["seed"] for r in lr_runs} for lr_runs in by_lr.values()))

    def tuning_score(lr: float) -> float:
        return statistics.mean(r["val"] for r in by_lr[lr] if r["seed"] in shared)

    return by_lr[max(sorted(by_lr), key=tuning_score)]


def more_seeds_runs(runs: list[dict], task: SelectionTask, seeds: int, more: int) -> list[dict]:
    """Seeds ``seeds`` to ``seeds + more - 1`` of each strategy at its tuned learning rate."""
    own = [r for r in runs if r["task"] == task.name]
    return [
        {"task": task.name, "arm": kind, "lr": tuned[0]["lr"], "seed": seed}
        for kind in task.strategies
        if (tuned := tuned_runs(own, kind))
        for seed in range(seeds, seeds + more)
    ]


def summarise(runs: list[dict], task: SelectionTask) -> dict:
    """Per strategy: test score (mean ± std over seeds) at the learning rate with the best mean
    validation score; the winner by mean test score (exact ties, such as last_k_blocks and
    full_finetune on a one-block backbone, go to fewer trainable parameters, then the name);
    and the preset baseline: the preset with the best mean validation score, and its test
    score."""
    strategies = {}
    for kind in task.strategies:
        tuned = tuned_runs(runs, kind)
        if tuned:
            strategies[kind] = {"lr": tuned[0]["lr"], **_scores(tuned)}
    presets = {}
    for arm in sorted({r["arm"] for r in runs if r["arm"].startswith("preset:")}):
        presets[arm.removeprefix("preset:")] = _scores([r for r in runs if r["arm"] == arm])
    summary: dict = {"strategies": strategies, "presets": presets}
    if strategies:
        summary["winner"] = min(
            strategies,
            key=lambda k: (-strategies[k]["test_mean"], strategies[k]["trainable_params"], k),
        )
    if presets:
        chosen = max(presets, key=lambda name: presets[name]["val_mean"])
        summary["preset_baseline"] = {"preset": chosen, "test_mean": presets[chosen]["test_mean"]}
    return summary


def _scores(runs: list[dict]) -> dict:
    tests = [r["test"] for r in runs]
    return {
        "val_mean": round(statistics.mean(r["val"] for r in runs), 4),
        "test_mean": round(statistics.mean(tests), 4),
        "test_std": round(statistics.stdev(tests), 4) if len(tests) > 1 else 0.0,
        "seeds": len(runs),
        "trainable_params": runs[0]["trainable_params"],
    }


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0].partition(":")[2].strip() if names else cpu
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def load(path: Path) -> tuple[list[dict], dict]:
    """The runs and pretrained sources already in ``path``, for the tasks still defined as they
    were."""
    if not path.exists():
        return [], {}
    document = json.loads(path.read_text())
    stored = document["tasks"]
    current = {
        task.name for task in TASKS if task.name in stored and is_current(stored[task.name], task)
    }
    return [r for r in document["runs"] if r["task"] in current], document["sources"]


def write(
    path: Path,
    runs: list[dict],
    sources: dict,
    seeds: int,
    learning_rates: tuple[float, ...] = LEARNING_RATES,
    more_seeds: int = 0,
) -> None:
    """The whole table, atomically: a header, per-task summaries, one line per run."""
    tasks = [task for task in TASKS if any(r["task"] == task.name for r in runs)]
    used = {task.source.output.name: sources[task.source.output.name] for task in tasks}
    document = {
        "machine": machine(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "total_seconds": round(
            sum(r["seconds"] for r in runs) + sum(s["seconds"] for s in used.values()), 1
        ),
        "grid": {
            "learning_rates": list(learning_rates),
            "seeds": seeds,
            "more_seeds_at_the_tuned_learning_rate": more_seeds,
            "strategy_settings": "defaults",
            "preset_seeds": PRESET_SEEDS,
            "presets": PRESETS,
            "metric": METRIC,
        },
        "sources": used,
        "tasks": {task.name: task_definition(task) for task in tasks},
        "summary": {
            task.name: summarise([r for r in runs if r["task"] == task.name], task)
            for task in tasks
        },
        "runs": "RUNS",
    }
    rows = ",\n  ".join(json.dumps(r, separators=(",", ":")) for r in runs)
    text = json.dumps(document, indent=1, ensure_ascii=False)
    text = text.replace('"RUNS"', f"[\n  {rows}\n ]")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text + "\n")
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=[t.name for t in TASKS], help="default: all")
    parser.add_argument("--seeds", type=int, default=5, help="model seeds per strategy and lr")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--learning-rates", nargs="+", type=float, default=list(LEARNING_RATES))
    parser.add_argument(
        "--more-seeds", type=int, default=0, help="seeds added at each tuned learning rate"
    )
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, one thread each")
    args = parser.parse_args()
    if not all(task.available for task in TASKS):
        parser.error(f"the table holds tasks on the real recordings: none at {REALDATA}")
    learning_rates = tuple(args.learning_rates)
    single_threaded()
    runs, sources = load(args.out)
    done = {(r["task"], r["arm"], r["lr"], r["seed"]) for r in runs}
    chosen = TASKS if args.tasks is None else [t for t in TASKS if t.name in args.tasks]
    for task in TASKS:  # every source the table names, under its name in this version
        if task in chosen or any(r["task"] == task.name for r in runs):
            sources[task.source.output.name] = ensure_source(task)
    spawn = multiprocessing.get_context("spawn")  # workers never inherit a used torch runtime
    with ProcessPoolExecutor(args.jobs, mp_context=spawn, initializer=single_threaded) as pool:

        def run_missing(planned: list[dict]) -> None:
            todo = [r for r in planned if (r["task"], r["arm"], r["lr"], r["seed"]) not in done]
            for record in pool.map(execute, todo):  # in order, each as soon as it and those
                runs.append(record)  # before it are done
                write(args.out, runs, sources, args.seeds, learning_rates, args.more_seeds)
                print(json.dumps(record), flush=True)

        for task in chosen:
            presets = available_presets(make_context(task.base, target_data(task.name)))
            run_missing(planned_runs(task, presets, args.seeds, learning_rates))
            run_missing(more_seeds_runs(runs, task, args.seeds, args.more_seeds))
    write(args.out, runs, sources, args.seeds, learning_rates, args.more_seeds)


if __name__ == "__main__":
    main()
