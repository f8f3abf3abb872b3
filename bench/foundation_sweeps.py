"""One short sweep per foundation model on the real SSVEP set after fitting (issue 24): the
model as backbone, the data fitted to it (the log line is reported), the default spaces, then
the recommendation beside the classical reference. Published weights cannot be downloaded
here: the backbones start from random weights, so the figures show that each model's path
runs end to end on real data, and what it costs; not what its pretraining is worth.

SSVEP subjects ``--subjects`` (default 7-9), 8 labelled trials per class and subject,
aligned and standardised (as ``bench/real_data.py``'s few-shot case); ``--samples`` trials of
``--epochs`` epochs, two finalists on 3 folds × 1 repetition. Writes a Markdown table with
``--out`` (``--append``: after the runs it holds).

    python bench/foundation_sweeps.py [--models CBraMod,Labram] [--out docs/FOUNDATION_SWEEPS.md]
"""

import argparse
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from common import machine
from foundation_models import MODELS, reve_bank
from real_data import DEFAULT_REALDATA, SSVEP_REFERENCE, _score

from probe_core.backbone_fitting import fitting
from sweeps.output import Verbosity, show
from sweeps.spec import SweepSpec
from sweeps.sweep import run_sweep

warnings.filterwarnings("ignore")


def spec(name: str, args: argparse.Namespace, folder: Path) -> SweepSpec:
    files = {"positions": str(reve_bank(folder))} if name == "REVE" else {}
    paths = [str(args.realdata / "ssvep_exo" / f"sub-{s:02d}-epo.fif") for s in args.subjects]
    return SweepSpec.model_validate(
        {
            "name": f"ssvep_{name.lower()}",
            "data": {"kind": "epochs", "paths": paths, "align": True, "standardise": True},
            "trial": {
                "backbone": {"name": name, "files": files},
                "split": {"val_fraction": 0.25, "test_fraction": 0.25, "train_per_class": 8},
                "training": {"max_epochs": args.epochs, "batch_size": 16},
            },
            "reference": SSVEP_REFERENCE,
            "num_samples": args.samples,
            "sampler": {"name": "tpe", "seed": 0},
            "confirmation": {"seeds": 1, "folds": 3, "finalists": 2},
            "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}"},
            "storage_path": str(folder / "sweeps"),
        }
    )


def run(name: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        sweep = spec(name, args, Path(tmp))
        _, said = fitting(sweep.data.build(), sweep.trial.backbone)
        start = time.perf_counter()
        outcome = run_sweep(sweep)
        minutes = (time.perf_counter() - start) / 60
    found = outcome.recommendation
    report = found.as_dict() if found else {}
    reference = report.get("reference") or {}
    best = (report.get("finalists") or [None])[0]
    return {
        "model": name,
        "fitted": (said or "as it is").removeprefix(f"the data fitted to {name}: "),
        "answer": (
            f"classical ({reference.get('kind')})"
            if found is not None and found.answered_by_reference
            else report.get("strategy") or f"none ({report.get('verdict')})"
        ),
        "deep": f"{best['strategy']} {_score(best['score'])}" if best else "–",
        "deep_test": (report.get("test_metrics") or {}).get("balanced_accuracy"),
        "reference": f"{_score(reference.get('score'))}, {reference.get('verdict', '–')}",
        "minutes": minutes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", type=Path, default=DEFAULT_REALDATA)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--subjects", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--append", action="store_true", help="keep --out's runs, add these")
    args = parser.parse_args()
    if not args.realdata.is_dir():
        raise SystemExit(f"no real recordings at {args.realdata}: nothing to run")
    show(Verbosity.QUIET)
    kept = args.out.read_text() + "\n\n" if args.append and args.out and args.out.exists() else ""
    lines = [
        f"Written by `bench/foundation_sweeps.py` (subjects {args.subjects}, `--samples "
        f"{args.samples} --epochs {args.epochs}`) on {machine()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')} UTC, CPU. Random weights (published ones cannot be "
        "downloaded here); balanced accuracy, chance 0.25; folds: the best finalist's mean "
        "and 95 % interval; test: the recommended config on the held-out test split.",
        "",
        "| model | data fitted | the sweep's answer | best deep finalist (folds) | its test "
        "| classical reference (folds), against the deep | sweep minutes |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in args.models.split(","):
        row = run(name, args)
        print(row, flush=True)
        test = "–" if row["deep_test"] is None else f"{row['deep_test']:.3f}"
        lines.append(
            f"| {name} | {row['fitted']} | {row['answer']} | {row['deep']} | {test} "
            f"| {row['reference']} | {row['minutes']:.1f} |"
        )
        if args.out:  # what is done so far, in case of a stop
            title = "" if kept else "# Foundation models on the SSVEP set\n\n"
            args.out.write_text(title + kept + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
