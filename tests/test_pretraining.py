from probe_core.pretraining import PretrainConfig, pretrain
from probe_core.synthetic import SyntheticData
from probe_core.training import run_trial
from probe_core.trial_config import TrialConfig


def _target_trial(strategy: str, checkpoint) -> TrialConfig:
    return TrialConfig.model_validate(
        {
            "backbone": {"name": "ShallowFBCSPNet", "checkpoint": str(checkpoint)},
            "strategy": {"kind": strategy},
            "split": {"train_per_class": 4, "test_fraction": 0.4},
            "training": {"max_epochs": 10, "batch_size": 16},
            "optimizer": {"lr": 3e-3},
        }
    )


def test_pretrained_then_probed_beats_training_from_scratch_on_few_target_trials(
    pretrained_shallow,
):
    """The effect that makes sweeps over freeze strategies worth running: new subjects, 4
    training trials per class and subject."""
    target = SyntheticData(subjects=[20, 21], trials_per_class=30).build()
    probed = run_trial(
        _target_trial("linear_probe", pretrained_shallow), target, evaluate_test=True
    )
    scratch = run_trial(
        _target_trial("from_scratch", pretrained_shallow), target, evaluate_test=True
    )
    assert probed.test_metrics["balanced_accuracy"] >= 0.85
    assert (
        probed.test_metrics["balanced_accuracy"] > scratch.test_metrics["balanced_accuracy"] + 0.1
    )
    assert probed.trainable_params < scratch.trainable_params / 10


def test_pretraining_into_a_from_pretrained_directory(tmp_path):
    config = PretrainConfig(
        backbone={"name": "EEGNet"},
        data=SyntheticData(subjects=[0], trials_per_class=10),
        output=tmp_path / "eegnet",
        training={"max_epochs": 1},
    )
    pretrain(config)
    assert (tmp_path / "eegnet" / "config.json").is_file()
    trial = TrialConfig.model_validate(
        {
            "backbone": {"name": "EEGNet", "checkpoint": str(tmp_path / "eegnet")},
            "training": {"max_epochs": 1},
        }
    )
    result = run_trial(trial, SyntheticData(subjects=[5], trials_per_class=10).build())
    assert result.trainable_params == 16 * 8 * 2 + 2


def test_pretraining_scales_the_signal_as_a_trial_does():
    """The data's unit and the wrapper's preprocessor reach the pretraining trial, so the
    backbone is pretrained on the signal its trials will give it."""
    config = PretrainConfig.model_validate(
        {
            "backbone": {"name": "EEGNet"},
            "data": {"kind": "npz", "path": "source.npz", "unit": "mV"},
            "output": "out.safetensors",
            "on_the_fly_preprocessor": {"scaler": "StandardScaler", "scale_dim": -1},
        }
    )
    trial = config.trial_config()
    assert trial.data.unit == "mV"
    assert trial.wrapper.on_the_fly_preprocessor.scaler == "StandardScaler"
    assert trial.wrapper.probe_config is None and trial.strategy.kind == "from_scratch"
