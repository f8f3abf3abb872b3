"""Why the search's best SSVEP trials score far above the same strategies on the folds (issue
19, finding 6), measured on the real recordings in ../shared/realdata.

The case: ShallowFBCSPNet pretrained on SSVEP subjects 1-6, then a sweep of 16 trials with the
default spaces on subjects 7-12 with 8 labelled trials per class and subject. The sweep's own
report decomposes the gap (``sweeps/search_gap.py``). To check that the evaluation's training is
not the cause, each finalist's evaluation trials are run again without a patience (every epoch
up to ``max_epochs``, as the search's trials ran) and their fold scores set beside the sweep's.

    python bench/ssvep_gap.py [--realdata ../shared/realdata]   # about 10 minutes on 2 CPUs
"""

import argparse
import statistics
import tempfile
import warnings
from pathlib import Path

from common import machine

from probe_core import TrialConfig
from probe_core.training import TrialRunner
from sweeps import protocol
from sweeps.ledger import Ledger
from sweeps.protocol import Phase
from sweeps.spec import SweepSpec
from sweeps.sweep import run_sweep

warnings.filterwarnings("ignore")
DEFAULT_REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


def ssvep_files(realdata: Path, subjects: range) -> list[str]:
    return [str(realdata / "ssvep_exo" / f"sub-{s:02d}-epo.fif") for s in subjects]


def spec(realdata: Path, folder: Path) -> SweepSpec:
    backbone = {"name": "ShallowFBCSPNet"}
    return SweepSpec.model_validate(
        {
            "name": "ssvep_gap",
            "pretrain": {
                "backbone": backbone,
                "data": {"kind": "epochs", "paths": ssvep_files(realdata, range(1, 7))},
                "output": str(folder / "ssvep_backbone.safetensors"),
                "training": {"max_epochs": 20, "batch_size": 32},
                "optimizer": {"lr": 0.003},
            },
            "data": {"kind": "epochs", "paths": ssvep_files(realdata, range(7, 13))},
            "trial": {
                "backbone": backbone,
                "split": {"val_fraction": 0.25, "test_fraction": 0.25, "train_per_class": 8},
                "training": {"max_epochs": 20, "batch_size": 16},
            },
            "num_samples": 16,
            "sampler": {"name": "tpe", "seed": 0},
            "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}"},
            "storage_path": str(folder / "sweeps"),
        }
    )


def without_patience(record_config: dict, data) -> float:
    """An evaluation trial run again to ``max_epochs``, scored on its fold at its best epoch."""
    config = dict(record_config)
    config["training"] = {**config["training"], "patience": None}
    runner = TrialRunner(TrialConfig.model_validate(config), data)
    while not runner.done:
        runner.step()
    return runner.fold_score().metrics["balanced_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", type=Path, default=DEFAULT_REALDATA)
    args = parser.parse_args()
    if not (args.realdata / "ssvep_exo").is_dir():
        raise SystemExit(f"no SSVEP recordings at {args.realdata / 'ssvep_exo'}: nothing to run")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        sweep = spec(args.realdata, Path(tmp))
        outcome = run_sweep(sweep)
        print(outcome.recommendation.text())
        data = sweep.data.build()
        confirmed = Ledger(sweep.sweep_dir().ledger).of_phase(Phase.CONFIRMATION)
        print("\nthe evaluation trials again, without a patience (to max_epochs):")
        for strategy in dict.fromkeys(r.strategy for r in confirmed):
            records = [r for r in confirmed if r.strategy == strategy and r.history]
            kept = [r.history[-1].get(protocol.FOLD + "balanced_accuracy") for r in records]
            kept = [k for k in kept if k is not None]
            epochs = [len(r.history) for r in records]
            rerun = [without_patience(r.config, data) for r in records]
            print(
                f"  {strategy:<16} with patience {statistics.fmean(kept):.3f} "
                f"(epochs run {min(epochs)}-{max(epochs)}), without "
                f"{statistics.fmean(rerun):.3f} ({records[0].config['training']['max_epochs']} "
                "epochs)"
            )


if __name__ == "__main__":
    main()
