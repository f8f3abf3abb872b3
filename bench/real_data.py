"""The sweep on real recordings (../shared/realdata), beside the classical reference and a plain
hand-written braindecode loop on the same split (issue 21); writes docs/REAL_DATA.md.

Cases (each: pretrain ShallowFBCSPNet on some recordings, then a sweep of ``--samples`` trials
with the default spaces on others):

- ``ssvep_few_shot``: SSVEP, pretrain on subjects 1-6, adapt to 7-12 with 8 labelled trials
  per class and subject (within subject);
- ``ssvep_held_out``: SSVEP, pretrain on subjects 1-6, adapt to 7-12 with whole subjects held
  out (cross subject);
- ``mi_hands_feet`` / ``mi_four``: motor imagery S001, pretrain on sessions 1-2, adapt to
  session 3, hands against feet / all four classes; on five splits of session 3.

The classical reference is offered the pretraining recordings too (``reference.transfer``), as
the backbone was pretrained on them.

Each case's data options (the same for pretraining and adaptation) are in ``CASES``; the data
option ablation runs the plain loop on the SSVEP few-shot split with each of them.

    python bench/real_data.py [--realdata ../shared/realdata] [--cases ssvep_few_shot,...]
        [--samples 16] [--out docs/REAL_DATA.md]    # about 10 minutes a case on 2 CPUs
"""

import argparse
import copy
import statistics
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from braindecode.models import ShallowFBCSPNet
from common import machine
from sklearn.metrics import balanced_accuracy_score

from probe_core.data_sources import EpochsData
from probe_core.dataset import EEGDataset
from probe_core.splits import SplitConfig
from sweeps.output import Verbosity, show
from sweeps.spec import SweepSpec
from sweeps.sweep import run_sweep

warnings.filterwarnings("ignore")
DEFAULT_REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
SSVEP_OPTIONS = {"resample": 64.0, "align": True, "standardise": True}
"""ShallowFBCSPNet's 25-sample filters span 0.39 s at 64 Hz: enough to tell 13 from 17 Hz;
Euclidean alignment makes the pretraining subjects' signals comparable to the new ones'."""
SSVEP_REFERENCE = {"kind": "canonical_correlation", "frequencies": [13.0, 17.0, 21.0]}
"""SSVEP's own classical pipeline: the stimulus frequencies are known."""
MI_OPTIONS: dict[str, Any] = {}
"""As recorded (in µV): motor imagery is told apart by band power, which standardising each
channel of each epoch takes away (the reference trained on sessions 1-2 drops from 0.93 to 0.72
on session 3 with it, 0.79 with alignment alone)."""
SPLIT_SEEDS = (0, 1, 2, 3, 4)
"""Session 3's 4 test trials score in steps of 0.25: its cases are run on five splits."""


@dataclass
class Case:
    pretrain: list[str]
    adapt: list[str]
    split: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)  # options of both data configs
    reference: dict[str, Any] = field(default_factory=dict)  # the sweep's classical reference
    split_seeds: tuple[int, ...] = (0,)  # one sweep each


def _ssvep(realdata: Path, subjects: range) -> list[str]:
    return [str(realdata / "ssvep_exo" / f"sub-{s:02d}-epo.fif") for s in subjects]


def _sessions(realdata: Path, sessions: tuple[int, ...]) -> list[str]:
    return [str(realdata / "eegmmidb_s001" / f"sub-01_ses-0{s}-epo.fif") for s in sessions]


def cases(realdata: Path) -> dict[str, Case]:
    few_shot = {"val_fraction": 0.25, "test_fraction": 0.25, "train_per_class": 8}

    def session_three(data: dict[str, Any]) -> Case:
        """Motor imagery: pretrained on sessions 1-2, adapted to session 3 (five splits)."""
        return Case(
            _sessions(realdata, (1, 2)),
            _sessions(realdata, (3,)),
            {"val_fraction": 0.25, "test_fraction": 0.25},
            data,
            split_seeds=SPLIT_SEEDS,
        )

    return {
        "ssvep_few_shot": Case(
            _ssvep(realdata, range(1, 7)),
            _ssvep(realdata, range(7, 13)),
            few_shot,
            SSVEP_OPTIONS,
            SSVEP_REFERENCE,
        ),
        "ssvep_held_out": Case(
            _ssvep(realdata, range(1, 7)),
            _ssvep(realdata, range(7, 13)),
            {"kind": "cross_subject", "test_subjects": [11, 12], "val_subjects": [10]},
            SSVEP_OPTIONS,
            SSVEP_REFERENCE,
        ),
        "mi_hands_feet": session_three({"classes": ["hands", "feet"], **MI_OPTIONS}),
        "mi_four": session_three(MI_OPTIONS),
    }


def sweep_spec(
    name: str, case: Case, folder: Path, backbones: Path, samples: int, seed: int = 0
) -> SweepSpec:
    """``backbones``: where the pretrained backbone is kept (one pretraining for each case)."""
    backbone = {"name": "ShallowFBCSPNet"}
    return SweepSpec.model_validate(
        {
            "name": name,
            "pretrain": {
                "backbone": backbone,
                "data": {"kind": "epochs", "paths": case.pretrain, **case.data},
                "output": str(backbones / f"{name}_backbone.safetensors"),
                "training": {"max_epochs": 30, "batch_size": 32},
                "optimizer": {"lr": 0.001},
            },
            "data": {"kind": "epochs", "paths": case.adapt, **case.data},
            "trial": {
                "backbone": backbone,
                "split": case.split,
                "training": {"max_epochs": 40, "batch_size": 16},
            },
            "reference": case.reference,
            "num_samples": samples,
            "sampler": {"name": "tpe", "seed": seed},
            "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}"},
            "storage_path": str(folder / "sweeps"),
        }
    )


def plain_loop(data: EEGDataset, split: dict[str, Any], seed: int = 0) -> float:
    """ShallowFBCSPNet from scratch in a plain torch loop (Adam 1e-3, 40 epochs, batch 16), the
    epoch its validation split picks, scored once on the test split."""
    parts = SplitConfig.model_validate(split).split(data)
    assert parts.test is not None
    torch.manual_seed(seed)
    shuffle = np.random.default_rng(seed)  # the batches' order: the same whatever ran before
    model = ShallowFBCSPNet(
        n_chans=data.X.shape[1], n_outputs=data.n_classes, n_times=data.n_times, sfreq=data.sfreq
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    X, y = torch.from_numpy(data.X).float(), torch.from_numpy(data.y).long()

    def predict(index: np.ndarray) -> np.ndarray:
        model.eval()
        with torch.no_grad():
            return model(X[index]).argmax(dim=1).numpy()

    best, best_state = -1.0, None
    for _ in range(40):
        model.train()
        for batch in np.array_split(shuffle.permutation(parts.train), len(parts.train) // 16 + 1):
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(model(X[batch]), y[batch]).backward()
            optimiser.step()
        score = balanced_accuracy_score(data.y[parts.val], predict(parts.val))
        if score > best:
            best, best_state = score, copy.deepcopy(model.state_dict())
    assert best_state is not None
    model.load_state_dict(best_state)
    return float(balanced_accuracy_score(data.y[parts.test], predict(parts.test)))


def _score(interval: dict[str, Any] | None) -> str:
    if not interval:
        return "–"
    return f"{interval['mean']:.3f} ({interval['low']:.2f} to {interval['high']:.2f})"


def run_case(name: str, case: Case, backbones: Path, samples: int, seed: int = 0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        spec = sweep_spec(name, case, Path(tmp), backbones, samples, seed)
        start = time.perf_counter()
        outcome = run_sweep(spec)
        seconds = time.perf_counter() - start
        recommendation = outcome.recommendation
        print(recommendation.text() if recommendation else "nothing reported", flush=True)
        data = spec.data.build()
        plain = [plain_loop(data, case.split, model_seed) for model_seed in (0, 1, 2)]
    report = recommendation.as_dict() if recommendation else {}
    reference = report.get("reference") or {}
    chosen = next(
        (f for f in report.get("finalists", []) if f["strategy"] == report["strategy"]), None
    )
    best_deep = chosen or (report.get("finalists") or [None])[0]
    by_reference = recommendation is not None and recommendation.answered_by_reference
    deep_test = (report.get("test_metrics") or {}).get("balanced_accuracy")
    reference_test = (reference.get("test_metrics") or {}).get("balanced_accuracy")
    split_seed = case.split.get("seed", 0)
    return {
        "case": name if len(case.split_seeds) == 1 else f"{name}, split {split_seed}",
        "answer": (
            f"classical ({reference.get('kind')})"
            if by_reference
            else (report.get("strategy") or f"none ({report.get('verdict')})")
        ),
        "answer_test": reference_test if by_reference else deep_test,
        "deep": f"{best_deep['strategy']} {_score(best_deep['score'])}" if best_deep else "–",
        "deep_test": deep_test,
        "reference": _score(reference.get("score")),
        "reference_verdict": reference.get("verdict", "–"),
        "reference_test": reference_test,
        "plain": statistics.fmean(plain),
        "plain_all": plain,
        "minutes": seconds / 60,
        "reference_share": reference.get("seconds", 0.0) / seconds,
    }


def mean_row(name: str, found: list[dict[str, Any]]) -> dict[str, Any]:
    """A case's runs over its split seeds in one row: the answers counted, the test scores
    averaged over the runs that have one (how many, when not all)."""

    def mean(key: str) -> float | None:
        values = [r[key] for r in found if r[key] is not None]
        return statistics.fmean(values) if values else None

    def counted(key: str) -> str:
        have = sum(r[key] is not None for r in found)
        return "" if have == len(found) else f" ({have} of {len(found)})"

    answers = Counter(r["answer"] for r in found)
    return {
        "case": f"**{name}, mean of {len(found)} splits**",
        "answer": ", ".join(f"{answer} ×{n}" for answer, n in answers.most_common()),
        "answer_test": mean("answer_test"),
        "answer_test_note": counted("answer_test"),
        "deep": "–",
        "deep_test": mean("deep_test"),
        "deep_test_note": counted("deep_test"),
        "reference": "–",
        "reference_verdict": ", ".join(
            f"{verdict} ×{n}"
            for verdict, n in Counter(r["reference_verdict"] for r in found).items()
        ),
        "reference_test": mean("reference_test"),
        "plain": statistics.fmean(r["plain"] for r in found),
        "minutes": statistics.fmean(r["minutes"] for r in found),
        "reference_share": max(r["reference_share"] for r in found),
    }


def ablation(realdata: Path) -> list[tuple[str, float]]:
    """The plain loop on the SSVEP few-shot split with each data option (3 seeds)."""
    few_shot = cases(realdata)["ssvep_few_shot"]
    options = {
        "as recorded (256 Hz, µV)": {},
        "standardised": {"standardise": True},
        "128 Hz, standardised": {"resample": 128.0, "standardise": True},
        "64 Hz, standardised": {"resample": 64.0, "standardise": True},
        "64 Hz, aligned, standardised": {"resample": 64.0, "align": True, "standardise": True},
    }
    rows = []
    for label, chosen in options.items():
        data = EpochsData(paths=few_shot.adapt, **chosen).build()
        rows.append(
            (label, statistics.fmean(plain_loop(data, few_shot.split, s) for s in (0, 1, 2)))
        )
        print(f"ablation {label}: {rows[-1][1]:.3f}", flush=True)
    return rows


FINDINGS = "<!-- below: what the figures show, written by hand; kept when the bench runs -->"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def write(
    out: Path, results: list[dict[str, Any]], rows: list[tuple[str, float]], samples: int, seed: int
) -> None:
    lines = [
        "# Real recordings: the sweep, the classical reference and a plain loop",
        "",
        f"Written by `bench/real_data.py` (`--samples {samples} --seed {seed}`) on {machine()}, "
        f"{time.strftime('%Y-%m-%d')}. Balanced accuracy; fold scores are means with 95 % "
        "intervals over the finalists' folds × repetitions; test is the held-out test split, "
        "scored once. The plain loop is ShallowFBCSPNet from scratch in a hand-written torch "
        "loop on the same split and data options (mean of 3 seeds). The motor-imagery cases "
        f"run on {len(SPLIT_SEEDS)} splits of session 3 (split seeds "
        f"{SPLIT_SEEDS[0]}-{SPLIT_SEEDS[-1]}): its 4 test trials score in steps of 0.25; their "
        "last row averages the runs.",
        "",
        "| case | the sweep's answer | its test | best deep finalist (folds) | deep test "
        "| classical reference (folds) | reference vs deep | reference test | plain loop test "
        "| sweep minutes | reference share of the time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['case']} | {r['answer']} | {_number(r['answer_test'])}"
            f"{r.get('answer_test_note', '')} | {r['deep']} "
            f"| {_number(r['deep_test'])}{r.get('deep_test_note', '')} | {r['reference']} "
            f"| {r['reference_verdict']} "
            f"| {_number(r['reference_test'])} | {r['plain']:.3f} | {r['minutes']:.1f} "
            f"| {100 * r['reference_share']:.1f} % |"
        )
    if rows:
        lines += [
            "",
            "## Data options (SSVEP few-shot split, plain loop, mean of 3 seeds, test)",
            "",
            "| data options | test balanced accuracy |",
            "| --- | --- |",
            *[f"| {label} | {value:.3f} |" for label, value in rows],
        ]
    kept = (out.read_text().partition(FINDINGS)[2] if out.exists() else "") or "\n"
    out.write_text("\n".join(lines) + "\n\n" + FINDINGS + kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", type=Path, default=DEFAULT_REALDATA)
    parser.add_argument("--cases", default="ssvep_few_shot,ssvep_held_out,mi_hands_feet,mi_four")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0, help="the sweep's sampler seed")
    parser.add_argument("--no-ablation", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("docs/REAL_DATA.md"))
    args = parser.parse_args()
    if not args.realdata.is_dir():
        raise SystemExit(f"no real recordings at {args.realdata}: nothing to run")
    print(f"machine: {machine()}", flush=True)
    show(Verbosity.NORMAL)  # the pretraining's validation score, the warnings, the progress
    known = cases(args.realdata)
    results = []
    with tempfile.TemporaryDirectory() as backbones:
        for name in args.cases.split(","):
            case, found = known[name], []
            for split_seed in case.split_seeds:
                split = {**case.split, "seed": split_seed}
                found.append(
                    run_case(
                        name, replace(case, split=split), Path(backbones), args.samples, args.seed
                    )
                )
                print(found[-1], flush=True)
                # what is done so far, in case of a stop
                write(args.out, [*results, *found], [], args.samples, args.seed)
            results += found if len(found) == 1 else [*found, mean_row(name, found)]
    rows = [] if args.no_ablation else ablation(args.realdata)
    write(args.out, results, rows, args.samples, args.seed)


if __name__ == "__main__":
    main()
