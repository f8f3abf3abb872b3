"""Score the automatic choice against the known answers of the selection benchmark.

Per task: a probe-sweep (TPE + ASHA, then its finalists on folds × seeds) recommends a strategy,
and so does random search with as many trials, picking its best trial. Regret is the ground
truth's best strategy (mean test score over seeds, at the learning rate its validation score
picked) minus the recommended strategy's; compute is the epochs a method trained, as a share of
the ground truth's grid. The fixed baselines are read from the table: always full fine-tune,
always linear probe, and neuralbench's presets × 3 seeds, taking the best mean validation score;
at config level also the best single strategy across the tasks, chosen in hindsight.
Beside that strategy-level regret, the config-level one (``yardstick.py``): what each method
delivers, trained again with 5 seeds and scored on the test split, against the same best. The
sweep's classical reference (tangent space; canonical correlation on the SSVEP tasks) is scored
on the same test split. Every row (task × sweep seed) is written to ``results.json`` as it ends,
and a rerun resumes from it; the sweeps run with the product's defaults: the learning-rate step
and the warm start at two learning rates (the same runs made with the base rate's warm start
only are in ``results_base_rate_warm_start.json``, and without the step as well in
``results_without_learning_rate_step.json``).

    python -m bench.selection.compare               # 3 sweeps of every task (6-12 min each, 2 CPUs)
    python -m bench.selection.compare --reduced     # one simulated and one real task, 1 sweep
"""

import argparse
import json
import statistics
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench.selection.decisive import family
from bench.selection.ground_truth import DEFAULT_OUT, METRIC
from bench.selection.tasks import REALDATA, TASKS, SelectionTask
from bench.selection.yardstick import Yardstick
from probe_core import EEGDataset, TrialConfig, pretrain
from sweeps.ledger import Ledger
from sweeps.spec import Confirmation, SweepSpec
from sweeps.sweep import SweepOutcome, run_sweep

warnings.filterwarnings("ignore")
REGRET_TARGET = 0.01
COMPUTE_TARGET = 0.25
# the recommended finalist's other learning rates, as factors of its own: the product's
# default (``--learning-rate-factors``)
LEARNING_RATE_FACTORS = tuple(Confirmation().learning_rate_factors)
# every strategy's first trials, at the base learning rate times each: the product's default
WARM_START_LR_FACTORS = tuple(SweepSpec.model_fields["warm_start_lr_factors"].default)
RATES_OF = "recommended finalist"  # whose other learning rates a sweep evaluated


def sweep_spec(
    task: SelectionTask,
    folder: Path,
    sampler: str,
    trials: int,
    seeds: int,
    sweep_seed: int = 0,
    with_reference: bool = True,
    learning_rate_factors: Sequence[float] = (),
    warm_start_lr_factors: Sequence[float] = WARM_START_LR_FACTORS,
) -> SweepSpec:
    """The task as a user would sweep it: its target data and base trial, every strategy, and
    the finalists evaluated on 3 folds × ``seeds`` (none with 0), the recommended one also at
    its learning rate times each of ``learning_rate_factors``; every strategy tried first at the
    base rate times each of ``warm_start_lr_factors``; ``sweep_seed`` seeds the sampler (which
    trials, in which order); the classical reference beside them unless ``with_reference`` is
    off."""
    base = task.base.model_dump(mode="json", exclude={"data"})
    confirmation = {
        "finalists": 2,
        "folds": 3,
        "seeds": seeds,
        "learning_rate_factors": list(learning_rate_factors),
    }
    return SweepSpec.model_validate(
        {
            "name": f"{task.name}-{sampler}-{sweep_seed}",
            "data": task.target.model_dump(mode="json"),
            "trial": base,
            "spaces": ["freeze_strategy", "probe_head", "optimizer"],
            "sampler": {"name": sampler, "seed": sweep_seed},
            # a probe's first epochs say little: 3 before the first cut (of 15 or 20)
            "scheduler": {"kind": "asha", "grace_period": 3, "reduction_factor": 3},
            "num_samples": trials,
            "warm_start_lr_factors": list(warm_start_lr_factors),
            "confirmation": confirmation,
            "reference": (task.reference or {}) if with_reference else None,
            "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}"},
            "storage_path": str(folder / "sweeps"),
        }
    )


def epochs_trained(spec: SweepSpec) -> int:
    return sum(len(r.history) for r in Ledger(spec.sweep_dir().ledger).trials.values())


def best_test_mean(summary: dict) -> float:
    """The ground truth's best on a task: the highest mean test score of any strategy."""
    return max(s["test_mean"] for s in summary["strategies"].values())


def regret(summary: dict, strategy: str | None) -> float:
    """Best mean test score minus the chosen strategy's (the whole best score when nothing was
    recommended: a user would have nothing)."""
    chosen = summary["strategies"][strategy]["test_mean"] if strategy else 0.0
    return best_test_mean(summary) - chosen


def delivered(outcome: SweepOutcome) -> TrialConfig | None:
    """The config a sweep hands its user (``best_config.yaml``), if it recommended one."""
    path = outcome.directory.best_config
    return TrialConfig.load(path) if path.exists() else None


def scored(
    spec: SweepSpec,
    outcome: SweepOutcome,
    task: SelectionTask,
    truth: dict,
    yardstick: Yardstick,
    dataset: EEGDataset,
) -> dict:
    """A sweep of ``task`` against the ground truth: the strategy it recommended, the
    strategy-level and config-level regrets, and its epochs as a share of the grid's."""
    summary = truth["summary"][task.name]
    best = best_test_mean(summary)
    chosen = outcome.recommendation.strategy if outcome.recommendation else None
    return {
        "strategy": chosen,
        "regret": regret(summary, chosen),
        **yardstick.judge(best, delivered(outcome), dataset),
        "compute": epochs_trained(spec) / grid_epochs(truth, task.name),
    }


def fixed_config_regret(truth: dict, task: SelectionTask, best: float) -> dict[str, float]:
    """Config-level regret of the choices that need no sweep, read from the ground truth's own
    runs (the same yardstick: those configs trained with each seed and tested): every strategy
    at its defaults and the base learning rate (``always <kind>``), and the preset with the
    best mean validation score (neuralbench's pick)."""
    runs = [r for r in truth["runs"] if r["task"] == task.name]
    lr = task.base.optimizer.lr
    regrets = {}
    for kind in task.strategies:
        tests = [r["test"] for r in runs if r["arm"] == kind and r["lr"] == lr]
        regrets[f"always {kind}"] = best - statistics.mean(tests)
    presets = truth["summary"][task.name]["presets"]
    picked = max(presets, key=lambda name: presets[name]["val_mean"])
    regrets["neuralbench presets"] = best - presets[picked]["test_mean"]
    return regrets


def grid_epochs(truth: dict, task: str) -> int:
    """Epochs of the ground truth's strategy grid (the presets and any seeds added at the tuned
    learning rates left out)."""
    return sum(
        r["epochs"]
        for r in truth["runs"]
        if r["task"] == task
        and not r["arm"].startswith("preset:")
        and r["seed"] < truth["grid"]["seeds"]
    )


def fixed_baselines(summary: dict) -> dict[str, float]:
    """Regret of the choices that need no sweep."""
    presets = summary["presets"]
    picked = max(presets, key=lambda name: presets[name]["val_mean"])
    best = best_test_mean(summary)
    return {
        "always full fine-tune": regret(summary, "full_finetune"),
        "always linear probe": regret(summary, "linear_probe"),
        "neuralbench presets": best - presets[picked]["test_mean"],
        "neuralbench pick": picked,
    }


RESULTS = Path(__file__).parent / "results.json"
DELIVERED = Path(__file__).parent / "delivered.json"
REDUCED = ("few_shot", "ssvep_few_shot")
"""``--reduced``: one simulated task and one on real recordings (left out where they are absent)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--tasks", nargs="*", help="task names (default: all in the table)")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--sweep-seeds", type=int, default=3, help="sweeps per task")
    parser.add_argument(
        "--reduced", action="store_true", help=f"{' and '.join(REDUCED)}, 10 trials, 1 sweep"
    )
    _factors_option(
        parser,
        "--learning-rate-factors",
        LEARNING_RATE_FACTORS,
        "the recommended finalist's other learning rates, as factors of its own",
        "; none: the search's learning rate only, as results_without_learning_rate_step.json "
        "was made",
    )
    _factors_option(
        parser,
        "--warm-start-lr-factors",
        WARM_START_LR_FACTORS,
        "probe-sweep's warm start: every strategy at the base learning rate times each",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help=f"every row, written after each and resumed from (default: {RESULTS.name}; "
        "a temporary file with --reduced)",
    )
    parser.add_argument(
        "--delivered",
        type=Path,
        help=f"the delivered configs' test scores, kept across runs (default: {DELIVERED.name}; "
        "a temporary file with --reduced)",
    )
    args = parser.parse_args()
    truth = json.loads(args.truth.read_text())
    names = args.tasks or list(truth["summary"])
    trials, seeds = args.trials, 2
    folder = Path(tempfile.mkdtemp(prefix="bench_selection_"))
    out, delivered_scores = args.out or RESULTS, args.delivered or DELIVERED
    if args.reduced:  # the published files stay as they are
        names, trials, seeds, args.sweep_seeds = list(REDUCED), 10, 1, 1
        out = args.out or folder / "results.json"
        delivered_scores = args.delivered or folder / "delivered.json"
    yardstick = Yardstick(delivered_scores)
    rows = json.loads(out.read_text()) if out.exists() else []
    factors, warm_factors = args.learning_rate_factors, args.warm_start_lr_factors
    wanted = made_with(
        {
            "learning_rate_factors": factors,
            "learning_rates_of": RATES_OF,
            "warm_start_lr_factors": warm_factors,
        }
    )
    made = {made_with(row) for row in rows}
    if made - {wanted}:
        sys.exit(
            f"{out}: its rows were made with {' or '.join(sorted(made))}, not {wanted}: pass "
            "those to resume it, or --out for a new file"
        )
    done = {(row["task"], row["sweep_seed"]) for row in rows}
    chosen = [t for t in TASKS if t.name in names]
    for task in [t for t in chosen if not t.available]:
        print(f"{task.name} left out: the real recordings are not at {REALDATA}")
    datasets: dict[str, EEGDataset] = {}  # for the yardstick, built once per task
    # every task once, then every task again: a run cut short still covers every task
    for sweep_seed in range(args.sweep_seeds):
        for task in (t for t in chosen if t.available and (t.name, sweep_seed) not in done):
            if not task.source.output.exists():
                pretrain(task.source)
            if task.name not in datasets:
                datasets[task.name] = task.target.build()
            row = compare_task(
                task,
                datasets[task.name],
                truth,
                yardstick,
                folder,
                trials,
                seeds,
                sweep_seed,
                factors,
                warm_factors,
            )
            rows.append(row)
            out.write_text(json.dumps(rows, indent=1))
            print(json.dumps(row), flush=True)
    print(report(rows))


def _factors_option(
    parser: argparse.ArgumentParser,
    flag: str,
    default: Sequence[float],
    what: str,
    if_none: str = "",
) -> None:
    """A list of learning-rate factors, the product's by default (none allowed if ``if_none``
    says what that means)."""
    parser.add_argument(
        flag,
        nargs="*" if if_none else "+",
        type=float,
        default=list(default),
        metavar="FACTOR",
        help=f"{what} (default: {' '.join(map(str, default))}, the product's{if_none})",
    )


def made_with(row: dict) -> str:
    """The options a row's sweep ran with, as a refusal to mix rows says them: the learning
    rates it evaluated beyond the search's (the pilot's rows, made before ``learning_rates_of``
    was stored, evaluated the leading finalist's, later ones the recommended finalist's) and the
    warm start's (rows made before it was stored: the base rate only)."""
    factors = row.get("learning_rate_factors", [])
    of = row.get("learning_rates_of", "leading finalist")
    step = f"{' '.join(map(str, factors))} (the {of}'s)" if factors else "(none)"
    warm = " ".join(map(str, row.get("warm_start_lr_factors", [1.0])))
    return f"--learning-rate-factors {step} --warm-start-lr-factors {warm}"


def compare_task(
    task: SelectionTask,
    dataset: EEGDataset,
    truth: dict,
    yardstick: Yardstick,
    folder: Path,
    trials: int,
    seeds: int,
    sweep_seed: int,
    learning_rate_factors: list[float],
    warm_start_lr_factors: list[float],
) -> dict:
    """One sweep of ``task`` and random search with as many trials, each with ``sweep_seed``,
    and the fixed baselines: their picks, regrets and compute."""
    summary = truth["summary"][task.name]
    best_score = best_test_mean(summary)
    row = {
        "task": task.name,
        "sweep_seed": sweep_seed,
        "grid_epochs": grid_epochs(truth, task.name),
        "learning_rate_factors": learning_rate_factors,
        "learning_rates_of": RATES_OF,
        "warm_start_lr_factors": warm_start_lr_factors,
    }
    ours = sweep_spec(
        task,
        folder,
        "tpe",
        trials,
        seeds,
        sweep_seed,
        learning_rate_factors=learning_rate_factors,
        warm_start_lr_factors=warm_start_lr_factors,
    )
    outcome = run_sweep(ours)
    row["probe-sweep"] = {
        **scored(ours, outcome, task, truth, yardstick, dataset),
        "verdict": outcome.recommendation and outcome.recommendation.verdict,
    }
    evaluation_trials = ours.confirmation.trials
    # random search as every published row made it: each strategy first at the base rate only
    random = sweep_spec(
        task,
        folder,
        "random",
        trials + evaluation_trials,
        0,
        sweep_seed,
        with_reference=False,
        warm_start_lr_factors=(1.0,),
    )
    row["random search"] = scored(random, run_sweep(random), task, truth, yardstick, dataset)
    recommendation = outcome.recommendation
    reference = recommendation and recommendation.reference
    if recommendation and reference and reference.test_metrics:  # on the same test split
        row["classical reference"] = {
            "kind": reference.kind,
            "recommended": recommendation.answered_by_reference,
            "regret": best_score - reference.test_metrics[METRIC],
        }
    row["fixed"] = fixed_baselines(summary)
    row["fixed_config_regret"] = fixed_config_regret(truth, task, best_score)
    row["best"] = max(summary["strategies"], key=lambda s: summary["strategies"][s]["test_mean"])
    return row


def family_agreement(rows: list[dict], method: str) -> dict[str, str]:
    """Per task, how many of its sweeps picked the family picked most often (``2 of 3``);
    nothing picked counts as its own answer."""
    picks: dict[str, list[str]] = {}
    for row in rows:
        strategy = row[method]["strategy"]
        picks.setdefault(row["task"], []).append(family(strategy) if strategy else "nothing")
    return {
        task: f"{Counter(found).most_common(1)[0][1]} of {len(found)}"
        for task, found in picks.items()
    }


def report(rows: list[dict]) -> str:
    """The published table and figures, from the rows alone (a test can recompute them from
    the stored results)."""
    lines: list[str] = []
    lines.append(
        "| task | best (grid) | probe-sweep: choice (verdict), regret strategy / config, compute "
        "| random search: the same | always FT | always LP | neuralbench presets |"
    )
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        ours, random, fixed = row["probe-sweep"], row["random search"], row["fixed"]
        presets = fixed["neuralbench presets"]
        lines.append(
            f"| {row['task']} | {row['best']} | {ours['strategy']} ({ours['verdict']}), "
            f"{100 * ours['regret']:.1f} / {100 * ours['config_regret']:.1f}, "
            f"{100 * ours['compute']:.0f} % | {random['strategy']}, "
            f"{100 * random['regret']:.1f} / {100 * random['config_regret']:.1f}, "
            f"{100 * random['compute']:.0f} % | {100 * fixed['always full fine-tune']:.1f} | "
            f"{100 * fixed['always linear probe']:.1f} | "
            f"{fixed['neuralbench pick']}, {100 * presets:.1f} |"
        )
    means = {
        "probe-sweep": statistics.mean(r["probe-sweep"]["regret"] for r in rows),
        "random search": statistics.mean(r["random search"]["regret"] for r in rows),
        "always full fine-tune": statistics.mean(r["fixed"]["always full fine-tune"] for r in rows),
        "always linear probe": statistics.mean(r["fixed"]["always linear probe"] for r in rows),
        "neuralbench presets": statistics.mean(r["fixed"]["neuralbench presets"] for r in rows),
    }
    lines.append(
        "strategy-level mean regret (points of balanced accuracy): "
        + ", ".join(f"{k} {100 * v:.1f}" for k, v in means.items())
    )
    configs = {
        "probe-sweep": [r["probe-sweep"]["config_regret"] for r in rows],
        "random search": [r["random search"]["config_regret"] for r in rows],
    }
    shared = set.intersection(*(set(r["fixed_config_regret"]) for r in rows))
    fixed = {name: [r["fixed_config_regret"][name] for r in rows] for name in sorted(shared)}
    strategies = [name for name in fixed if name.startswith("always ")]
    hindsight = min(strategies, key=lambda name: statistics.mean(fixed[name]))
    configs["best fixed strategy in hindsight: " + hindsight] = fixed[hindsight]
    for name in ("always full_finetune", "always linear_probe", "neuralbench presets"):
        configs[name] = fixed[name]
    lines.append(
        "config-level regret (what each delivers, 5 seeds on the test split), mean / worst: "
        + ", ".join(
            f"{k} {100 * statistics.mean(v):.1f} / {100 * max(v):.1f}" for k, v in configs.items()
        )
    )
    for method in ("probe-sweep", "random search"):
        near = sum(regret <= REGRET_TARGET for regret in configs[method])
        lines.append(
            f"{method}: config-level regret ≤ {100 * REGRET_TARGET:.0f} point in {near} of "
            f"{len(rows)} (task, sweep seed) runs; the family it picks most often, per task: "
            + ", ".join(f"{task} {share}" for task, share in family_agreement(rows, method).items())
        )
    classical: dict[str, list[dict]] = {}
    for row in rows:
        if "classical reference" in row:
            classical.setdefault(row["task"], []).append(row["classical reference"])
    if classical:
        lines.append(
            "classical reference, regret on the test split (sweeps that recommended it): "
            + ", ".join(
                f"{task} {found[0]['kind']} {100 * found[0]['regret']:.1f} "
                f"({sum(f['recommended'] for f in found)} of {len(found)})"
                for task, found in classical.items()
            )
        )
    within = sum(r["probe-sweep"]["regret"] <= REGRET_TARGET for r in rows)
    compute = max(r["probe-sweep"]["compute"] for r in rows)
    lines.append(
        f"probe-sweep: strategy-level regret ≤ {100 * REGRET_TARGET:.0f} point in {within} of "
        f"{len(rows)} runs; at most {100 * compute:.0f} % of the grid's epochs "
        f"(target ≤ {100 * COMPUTE_TARGET:.0f} %)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
