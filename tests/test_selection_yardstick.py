"""The selection benchmark's yardstick: a delivered config is trained with every model seed and
scored on the test split, once: the scores are kept by the config (whatever its own seed)."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.selection.yardstick import Yardstick  # noqa: E402  (not an installed package)
from probe_core import TrialConfig  # noqa: E402


def _config(lr: float, seed: int = 0) -> TrialConfig:
    return TrialConfig.model_validate(
        {
            "backbone": {"name": "EEGNet"},
            "strategy": {"kind": "full_finetune"},
            "training": {"max_epochs": 2, "batch_size": 8},
            "split": {"val_fraction": 0.25, "test_fraction": 0.25},
            "optimizer": {"lr": lr},
            "seed": seed,
        }
    )


def test_a_config_is_scored_once_per_seed_and_kept_whatever_its_own_seed(
    small_data, tmp_path
) -> None:
    stick = Yardstick(tmp_path / "delivered.json", seeds=2)
    scores = stick.test_scores(_config(1e-3, seed=7), small_data)
    assert len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores)
    again = Yardstick(tmp_path / "delivered.json", seeds=2)  # a rerun reads them back
    assert again.test_scores(_config(1e-3, seed=3), small_data) == scores
    assert len(json.loads((tmp_path / "delivered.json").read_text())) == 1
    again.test_scores(_config(1e-2), small_data)  # another config: trained and kept beside
    assert len(json.loads((tmp_path / "delivered.json").read_text())) == 2
    nothing = again.judge(0.9, None, small_data)
    assert nothing == {"config_regret": 0.9, "delivered": None}  # a user would have nothing
    judged = again.judge(0.9, _config(1e-3), small_data)
    assert abs(judged["config_regret"] - (0.9 - sum(scores) / 2)) < 1e-12
    assert judged["delivered"]["strategy"] == "full_finetune"
    assert judged["delivered"]["test_scores"] == [round(score, 4) for score in scores]
