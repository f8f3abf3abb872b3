import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from probe_core.metrics import chance_level, classification_metrics
from probe_core.training import TrialDiverged, run_trial
from probe_core.trial_config import TrialConfig


def _config(**overrides) -> TrialConfig:
    base = {
        "backbone": {"name": "EEGNet"},
        "strategy": {"kind": "full_finetune"},
        "training": {"max_epochs": 4, "batch_size": 16},
        "split": {"test_fraction": 0.25},
    }
    for key, value in overrides.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return TrialConfig.model_validate(base)


def test_yaml_round_trip_keeps_every_field() -> None:
    config = _config(
        data={"kind": "synthetic", "subjects": [3, 4]},
        strategy={"kind": "lora", "rank": 4, "targets": ["qkv"]},
        wrapper={"probe_config": {"hidden_sizes": [8]}, "aggregation": 3},
    )
    text = config.to_yaml()
    assert "kind: lora" in text and "subjects:" in text
    assert TrialConfig.from_yaml(text) == config
    with pytest.raises(ValueError, match="layers_to_freeze/layers_to_unfreeze: set freezing"):
        _config(wrapper={"layers_to_freeze": ["conv_temporal"]})


def test_same_config_gives_identical_results(small_data) -> None:
    first = run_trial(_config(), small_data, evaluate_test=True)
    second = run_trial(_config(), small_data, evaluate_test=True)
    assert [h["train_loss"] for h in first.history] == [h["train_loss"] for h in second.history]
    assert first.test_metrics == second.test_metrics
    other_seed = run_trial(_config(seed=1), small_data)
    assert other_seed.history[0]["train_loss"] != first.history[0]["train_loss"]


def test_result_reports_best_epoch_sizes_and_times(small_data) -> None:
    result = run_trial(_config(strategy={"kind": "linear_probe"}), small_data, evaluate_test=True)
    values = [h["val_balanced_accuracy"] for h in result.history]
    assert result.best_epoch == int(np.argmax(values)) + 1
    assert result.val_metrics["balanced_accuracy"] == max(values)
    assert result.trainable_params == 16 * 8 * 2 + 2 < result.total_params
    assert len(result.epoch_times) == 4 and all(t > 0 for t in result.epoch_times)
    assert set(result.test_metrics) == {
        "loss",
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
        "cohen_kappa",
        "auroc",
    }
    summary = result.summary()
    assert (
        summary["val_balanced_accuracy"] == max(values)
        and summary["best_epoch"] == result.best_epoch
    )


def test_callback_request_stops_the_trial(small_data) -> None:
    seen = []
    result = run_trial(
        _config(), small_data, on_epoch=lambda r: seen.append(r.epoch) or r.epoch == 2
    )
    assert seen == [1, 2] and len(result.history) == 2 and result.stopped_by == "callback"


def test_patience_stops_after_epochs_without_improvement(small_data) -> None:
    result = run_trial(_config(training={"max_epochs": 30, "patience": 2}), small_data)
    assert result.stopped_by == "patience"
    assert len(result.history) == result.best_epoch + 2 < 30


def test_resume_from_a_mid_training_checkpoint_matches_an_uninterrupted_run(
    small_data, tmp_path
) -> None:
    config = _config(wrapper={"probe_config": {"hidden_sizes": [8], "dropout": 0.5}})
    uninterrupted = run_trial(config, small_data, evaluate_test=True)
    checkpoint = tmp_path / "trial.pt"
    partial = run_trial(
        config, small_data, on_epoch=lambda r: r.epoch == 2, checkpoint_path=checkpoint
    )
    assert len(partial.history) == 2
    resumed = run_trial(config, small_data, evaluate_test=True, checkpoint_path=checkpoint)

    def without_times(history: list[dict]) -> list[dict]:
        return [{k: v for k, v in h.items() if not k.endswith("time")} for h in history]

    assert len(resumed.history) == 4
    assert without_times(resumed.history) == without_times(uninterrupted.history)
    assert resumed.test_metrics == uninterrupted.test_metrics


def test_warmup_then_cosine_schedule(small_data) -> None:
    config = _config(schedule={"kind": "cosine", "warmup_epochs": 1}, optimizer={"lr": 0.01})
    result = run_trial(config, small_data)
    steps = len(small_data.y) * 0.55 // 16  # training epochs fit this many full batches
    total, warmup = 4 * steps, steps
    expected = [
        0.01 * 0.5 * (1 + math.cos(math.pi * (e * steps - warmup) / (total - warmup)))
        for e in range(1, 5)
    ]
    assert [h["lr"] for h in result.history] == pytest.approx(expected)


def test_diverging_loss_fails_the_trial(small_data) -> None:
    config = _config(wrapper={"on_the_fly_preprocessor": {"scaler": 1e38}})
    with pytest.raises(TrialDiverged, match="training loss is nan at epoch 1"):
        run_trial(config, small_data)


def test_test_split_must_exist_when_asked(small_data) -> None:
    with pytest.raises(ValueError, match="no test split"):
        run_trial(_config(split={"test_fraction": 0.0}), small_data, evaluate_test=True)


def test_metrics_against_hand_computation() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0], [0.5, 0.0]])
    labels = torch.tensor([0, 1, 1, 1, 0])
    m = classification_metrics(logits, labels, 2)
    assert m["accuracy"] == pytest.approx(4 / 5)
    assert m["balanced_accuracy"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["f1_macro"] == pytest.approx((0.8 + 0.8) / 2)
    assert m["cohen_kappa"] == pytest.approx((0.8 - 0.48) / (1 - 0.48))
    probs = torch.softmax(logits, 1)[:, 1]
    pairs = [(probs[i] > probs[j]).float() for i in (1, 2, 3) for j in (0, 4)]
    assert m["auroc"] == pytest.approx(float(sum(pairs) / 6))
    assert m["loss"] == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item())


def test_a_part_without_a_class_keeps_its_auroc_and_its_own_chance_level() -> None:
    """A fold that lacks one of three classes: its AUROC is the mean one-vs-rest AUROC of the
    two classes present (it was NaN, which dropped the finalist), the same as scikit-learn's
    when every class is present; its balanced accuracy averages two recalls, so a classifier
    that always says one present class scores 1/2 there, and that is its chance level."""
    from sklearn.metrics import roc_auc_score

    logits = torch.tensor([[2.0, 0.0, 0.1], [0.0, 1.0, 0.3], [1.0, 0.0, 0.0], [0.2, 3.0, 0.0]])
    missing_class = classification_metrics(logits, torch.tensor([0, 1, 0, 1]), 3)
    probs = torch.softmax(logits, 1).numpy()
    expected = roc_auc_score([1, 0, 1, 0], probs[:, 0]) + roc_auc_score([0, 1, 0, 1], probs[:, 1])
    assert missing_class["auroc"] == pytest.approx(expected / 2)
    every_class = torch.tensor([0, 1, 2, 1])
    assert classification_metrics(logits, every_class, 3)["auroc"] == pytest.approx(
        roc_auc_score(every_class.numpy(), probs, multi_class="ovr")
    )
    constant = classification_metrics(
        torch.tensor([[1.0, 0.0, 0.0]] * 4), torch.tensor([0, 1, 0, 1]), 3
    )
    assert constant["balanced_accuracy"] == 0.5 == chance_level("balanced_accuracy", [2, 2, 0])
    assert chance_level("balanced_accuracy", [2, 2, 2]) == pytest.approx(1 / 3)
    assert math.isnan(classification_metrics(logits, torch.tensor([1, 1, 1, 1]), 3)["auroc"])


def test_a_trial_process_loads_no_tracking_or_plotting() -> None:
    """What a sweep's trial process imports up to its first epoch: MLflow and matplotlib are the
    driver's, and importing them would delay every trial process's start (0.2 s for matplotlib
    on 2 CPUs)."""
    code = (
        "import sys\n"
        "from sweeps.trainable import ProbeTrainable\n"
        "from sweeps.process import configure_process\n"
        "from probe_core import SyntheticData, TrialConfig\n"
        "from probe_core.training import TrialRunner\n"
        "configure_process()\n"
        "config = TrialConfig.model_validate({'backbone': {'name': 'EEGNet'}})\n"
        "TrialRunner(config, SyntheticData(subjects=[0], trials_per_class=4).build()).step()\n"
        "print(sorted(m for m in ('mlflow', 'matplotlib', 'sweeps.plots') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
