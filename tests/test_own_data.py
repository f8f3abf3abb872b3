"""The README's "Your own data" walk-through, run as a user runs it: MNE epochs files in volts,
pretraining on some subjects, a sweep on the others, a recommendation above chance."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "own_data"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_own_data_walkthrough(ray_cluster, tmp_path) -> None:
    for name in ("make_files.py", "pretrain.yaml", "sweep.yaml"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    made = _run(sys.executable, "make_files.py", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert len(list((tmp_path / "files").glob("sub-*-epo.fif"))) == 8
    cli = [sys.executable, "-m", "sweeps.cli"]
    pretrained = _run(*cli, "pretrain", "pretrain.yaml", cwd=tmp_path)
    assert pretrained.returncode == 0, pretrained.stderr
    assert (tmp_path / "checkpoints" / "shallow.safetensors").is_file()
    # the README runs it on a local Ray; the tests share one cluster
    swept = _run(
        *cli, "run", "sweep.yaml", "--quiet", "--address", ray_cluster.address, cwd=tmp_path
    )
    assert swept.returncode == 0, swept.stderr
    assert swept.stdout.startswith("Recommended freeze strategy: ")
    assert "balanced_accuracy on 3 folds × 1 repetition, chance 0.333" in swept.stdout
    sweep_dir = tmp_path / "sweeps" / "own-data"
    recommendation = json.loads((sweep_dir / "report.json").read_text())["recommendation"]
    chosen = next(
        f for f in recommendation["finalists"] if f["strategy"] == recommendation["strategy"]
    )
    assert chosen["score"]["low"] > 1 / 3  # learnt: the volts were read as microvolts
    assert (sweep_dir / "best_config.yaml").is_file()
