"""Data fitted to what a published backbone was made for: foundation models that failed with a
shape error on 128 Hz data build, run and learn after it; a model that still cannot read the
data is refused in one line, not a traceback."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from sweep_helpers import said

from probe_core import ConfigError, SyntheticData, TrialConfig
from probe_core.assembly import build_model
from probe_core.backbone_fitting import fit_to_backbone
from probe_core.backbone_profiles import PROFILES, missing_files_hint
from probe_core.backbones import BackboneConfig, model_names
from probe_core.dataset import EEGDataset
from probe_core.errors import CheckpointError
from probe_core.training import run_trial


def fit(data: EEGDataset, name: str, **backbone: object) -> EEGDataset:
    return fit_to_backbone(data, BackboneConfig(name=name, **backbone))


@pytest.fixture(scope="module")
def lab_data():
    """19 channels at 128 Hz, 2 s windows: a common lab montage and rate."""
    return SyntheticData(subjects=[0, 1], trials_per_class=6, sfreq=128.0).build()


def test_the_rate_and_the_patches_follow_the_profile_said_in_one_line(lab_data) -> None:
    with said("probe_core.backbone_fitting") as lines:
        labram = fit(lab_data, "Labram")
        luna = fit(lab_data, "LUNA")
        short = fit(lab_data.subset(np.arange(4), "four"), "EEGPT")
    assert (labram.sfreq, labram.n_times) == (200.0, 400)  # 2 patches of 200
    assert (luna.sfreq, luna.n_times) == (128.0, 240)  # 6 patches of 40; no rate to follow
    np.testing.assert_array_equal(luna.X, lab_data.X[..., :240])
    assert short.sfreq == 256.0 and short.n_times == 512
    assert lines == [
        "the data fitted to Labram: resampled 128 → 200 Hz; scaled to units of 100 µV",
        "the data fitted to LUNA: cut from 256 to 240 samples (6 patches of 40)",
        "the data fitted to EEGPT: resampled 128 → 256 Hz",
    ]
    assert fit(lab_data, "EEGNet") is lab_data  # no profile: as it is
    assert fit(labram, "Labram") is labram  # fitted already


def test_resampling_keeps_the_rhythm_and_a_short_window_is_padded_with_zeros(lab_data) -> None:
    t = np.arange(lab_data.n_times) / lab_data.sfreq
    sine = replace(lab_data.subset(np.arange(2), "sine"), unit_uv=100.0)  # CBraMod's unit
    sine.X[:] = np.sin(2 * np.pi * 10.0 * t).astype(np.float32)
    fitted = fit(sine, "CBraMod")
    spectrum = np.abs(np.fft.rfft(fitted.X[0, 0]))
    assert np.fft.rfftfreq(fitted.n_times, 1 / fitted.sfreq)[spectrum.argmax()] == 10.0
    cut = replace(sine, X=np.ascontiguousarray(sine.X[..., :64]))  # 0.5 s: 100 at 200 Hz
    padded = fit(cut, "CBraMod")
    assert padded.n_times == 200 and not padded.X[..., 100:].any()
    assert np.abs(padded.X[..., :100]).max() > 0.5


def test_the_signal_is_scaled_to_the_unit_the_model_was_pretrained_in(lab_data) -> None:
    """LaBraM read 100 µV as 1: microvolts are divided by 100, millivolts multiplied by 10;
    a standardised signal has no unit left and a model without a stated unit gets it as is."""
    microvolts = fit(lab_data, "Labram")
    millivolts = fit(replace(lab_data, X=lab_data.X / 1000, unit_uv=1000.0), "Labram")
    standardised = fit(lab_data.standardised(), "Labram")
    assert microvolts.unit_uv == millivolts.unit_uv == 100.0
    spread = lab_data.filtered(None, None, 200.0).X.std()
    assert microvolts.X.std() == pytest.approx(spread / 100, rel=1e-4)
    assert millivolts.X.std() == pytest.approx(spread / 100, rel=1e-4)
    assert standardised.unit_uv is None and standardised.X.std() == pytest.approx(1.0, rel=1e-3)
    assert fit(lab_data, "EEGPT").X.std() == pytest.approx(lab_data.X.std(), rel=0.05)


def test_a_checkpoint_in_the_hubs_layout_is_read_as_published(lab_data, tmp_path) -> None:
    """A LaBraM saved as the hub holds it (``save_pretrained``: weights and config.json), on
    the 128 channels of its vocabulary and 8 s windows: the lab's 19 channels are read by
    name among them, the 2 s windows padded to its 8 s (its positional embedding has one
    entry per patch), and its weights are the ones loaded."""
    import mne
    from braindecode.models import Labram
    from braindecode.models.labram import LABRAM_CHANNEL_ORDER

    vocabulary = mne.create_info(list(LABRAM_CHANNEL_ORDER), 200.0, "eeg")["chs"]
    published = Labram(
        n_chans=128, n_times=1600, sfreq=200.0, n_outputs=4, chs_info=vocabulary, num_layers=1
    )
    published.save_pretrained(tmp_path / "labram")
    backbone = {"name": "Labram", "checkpoint": str(tmp_path / "labram")}
    with said("probe_core.backbone_fitting") as lines:
        fitted = fit(lab_data, **backbone)
    assert lines == [
        "the data fitted to Labram: resampled 128 → 200 Hz; zero-padded from 400 to 1600 "
        "samples (the checkpoint's window); scaled to units of 100 µV"
    ]
    config = TrialConfig.model_validate(
        {"backbone": backbone, "strategy": {"kind": "linear_probe"}}
    )
    model, _ = build_model(config, fitted)
    first = "blocks.0.attn.qkv.weight"
    assert torch.equal(model.wrapped_model.state_dict()[first], published.state_dict()[first])
    output = model(torch.from_numpy(fitted.X[:4]), ch_names=fitted.ch_names)
    loss = torch.nn.functional.cross_entropy(output, torch.from_numpy(fitted.y[:4]).long())
    loss.backward()
    assert torch.isfinite(loss)
    foreign = replace(fitted, ch_names=[f"E{i}" for i in range(19)])
    with pytest.raises(CheckpointError, match=r"128 channels \(E0, E1, E2… not among them\), the"):
        build_model(config, foreign)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("Labram", {"num_layers": 1}),
        ("CBraMod", {"n_layer": 1}),
        ("LUNA", {}),
        ("EEGDINO", {"n_layer": 1}),
        ("EEGPT", {"depth": 1, "embed_dim": 64, "num_heads": 2}),
    ],
)
def test_foundation_models_that_failed_on_lab_data_build_and_run_after_fitting(
    name, kwargs, lab_data
) -> None:
    """Each ended in a shape error or a traceback on 128 Hz, 256-sample data (issue 24)."""
    assert name in PROFILES
    fitted = fit(lab_data, name)
    config = TrialConfig.model_validate(
        {"backbone": {"name": name, "kwargs": kwargs}, "strategy": {"kind": "linear_probe"}}
    )
    model, _ = build_model(config, fitted)
    model.eval()
    embedding = model(
        torch.from_numpy(fitted.X[:3]), return_embedding=True, ch_names=fitted.ch_names
    )
    assert embedding.shape[0] == 3 and embedding.std(dim=0).max() > 0


def test_a_backbone_that_cannot_read_the_data_is_one_line(lab_data) -> None:
    config = TrialConfig.model_validate({"backbone": {"name": "NeuroPose"}})
    with pytest.raises(ConfigError) as error:
        build_model(config, lab_data)
    assert str(error.value).startswith(
        "backbone NeuroPose: cannot read 19 channels × 256 samples at 128 Hz ("
    )
    assert str(error.value).endswith("; it was made for surface EMG at 2000 Hz, not EEG")
    assert "\n" not in str(error.value)


def test_a_foundation_model_learns_from_data_fitted_to_it() -> None:
    """CBraMod (one layer) fine-tuned on 128 Hz data it reads at 200 Hz: well above chance."""
    config = TrialConfig.model_validate(
        {
            "backbone": {"name": "CBraMod", "kwargs": {"n_layer": 1}},
            "data": {"kind": "synthetic", "subjects": [0, 1], "trials_per_class": 30, "sfreq": 128},
            "strategy": {"kind": "full_finetune"},
            "split": {"test_fraction": 0.25},
            "training": {"max_epochs": 8, "batch_size": 16},
            "optimizer": {"lr": 0.001},
        }
    )
    result = run_trial(config, evaluate_test=True)
    assert result.test_metrics["balanced_accuracy"] >= 0.75  # 0.906 on this machine


SMALLER = {  # the registry's largest models, shrunk so that the whole registry takes seconds
    "ZUNA": {"dim": 64, "n_layers": 1, "n_heads": 2, "head_dim": 32},
    "EEGPT": {"depth": 1, "embed_dim": 64, "num_heads": 2},
    "STEEGFormer": {"depth": 1, "embed_dim": 64, "num_heads": 2},
    "DANCE": {"perceiver_depth": 1, "conv_depth": 2, "fourier_emb_dim": 32, "num_latents": 16},
}
MUST_RUN = {
    "Labram",
    "InterpolatedLaBraM",
    "CBraMod",
    "LUNA",
    "BENDR",
    "EEGPT",
    "BIOT",
    "SignalJEPA",
    "EEGDINO",
    "SleepStagerBlanco2020",
}


SSVEP_SHAPE = {"sfreq": 256.0, "duration": 3.0, "channels": ["Oz", "O1", "O2", "PO3", "POz"]}


@pytest.fixture(scope="module")
def ssvep_data():
    """Occipital channels at 256 Hz, 3 s windows: the SSVEP set's shape (5 of its 8 channels:
    a count no model was built for either)."""
    return SyntheticData(subjects=[0], trials_per_class=2, **SSVEP_SHAPE).build()


@pytest.mark.parametrize("shape", ["lab_data", "ssvep_data"])
@pytest.mark.parametrize("name", model_names())
def test_every_model_of_the_registry_trains_a_step_or_is_refused_in_one_line(
    name, shape, request
) -> None:
    """After fitting: a forward and backward pass with a finite loss, or a ``ConfigError`` of
    one line that names the model. Never a traceback. (``bench/registry.py``: at published
    sizes, with a reload.)"""
    fitted = fit(request.getfixturevalue(shape), name)
    kwargs = SMALLER.get(name, {})
    if name == "STEEGFormer":  # its channel slots given: else it asks the hub for its
        kwargs = {**kwargs, "chan_pos_idx": list(range(fitted.n_chans))}  # vocabulary (23 s)
    config = TrialConfig.model_validate(
        {
            "backbone": {"name": name, "kwargs": kwargs},
            "strategy": {"kind": "full_finetune"},
        }
    )
    try:
        model, _ = build_model(config, fitted)
    except ConfigError as error:
        assert name not in MUST_RUN, str(error)
        assert str(error).startswith(f"backbone {name}: ") and "\n" not in str(error)
        return
    output = model(torch.from_numpy(fitted.X[:4]), ch_names=fitted.ch_names)
    loss = torch.nn.functional.cross_entropy(output, torch.from_numpy(fitted.y[:4]).long())
    loss.backward()
    assert output.shape == (4, fitted.n_classes) and torch.isfinite(loss)


def test_a_file_the_model_downloads_is_taken_from_a_local_copy(tmp_path, monkeypatch, lab_data):
    """REVE downloads its bank of channel positions when it is built; offline it is given as
    a file (here one written from MNE's montage, under the name the hub gives it)."""
    import json

    import mne

    positions = mne.channels.make_standard_montage("colin27_1005").get_positions()["ch_pos"]
    bank = tmp_path / "positions.json"
    bank.write_text(json.dumps({name: [float(v) for v in p] for name, p in positions.items()}))
    monkeypatch.setenv("REVE_POSITIONS_PATH", str(tmp_path / "nowhere"))  # restored after
    kwargs = {"depth": 1, "embed_dim": 64, "heads": 2, "head_dim": 16}
    config = TrialConfig.model_validate(
        {"backbone": {"name": "REVE", "kwargs": kwargs, "files": {"positions": str(bank)}}}
    )
    fitted = fit(lab_data, "REVE")
    model, _ = build_model(config, fitted)
    assert model(torch.from_numpy(fitted.X[:2]), ch_names=fitted.ch_names).shape == (2, 2)
    with pytest.raises(ValueError, match=r"backbone.files.bank: REVE takes positions \["):
        TrialConfig.model_validate({"backbone": {"name": "REVE", "files": {"bank": str(bank)}}})
    with pytest.raises(ValueError, match=r"backbone.files.positions: EEGNet downloads nothing"):
        TrialConfig.model_validate({"backbone": {"name": "EEGNet", "files": {"positions": "x"}}})
    with pytest.raises(ValueError, match=r"backbone.files.positions: .*missing.json is not a"):
        TrialConfig.model_validate(
            {"backbone": {"name": "REVE", "files": {"positions": str(tmp_path / "missing.json")}}}
        )
    assert missing_files_hint("REVE", {}) == (
        "; offline, give backbone.files.positions: a local copy of "
        "https://huggingface.co/brain-bzh/reve-positions/resolve/main/positions.json"
    )


def test_a_model_that_refuses_the_montage_gets_it_mapped_onto_its_channels(lab_data, tmp_path):
    """BENDR reads its 20 channels in its own order; on 19 channels of 10-20 data its
    ``Interpolated`` twin maps them, and BENDR's own weights load into it."""
    from braindecode.models import BENDR

    from probe_core.backbones import save_state_dict

    kwargs = {"transformer_layers": 1, "encoder_h": 64, "contextualizer_hidden": 128}
    fitted = fit(lab_data, "BENDR")
    published = BENDR(n_chans=20, n_outputs=2, n_times=fitted.n_times, sfreq=256.0, **kwargs)
    save_state_dict(published, tmp_path / "bendr.safetensors")
    config = BackboneConfig(
        name="BENDR", kwargs=kwargs, checkpoint=str(tmp_path / "bendr.safetensors")
    )
    with said("probe_core.backbones") as lines:
        backbone = config.build(fitted, 2)
    assert type(backbone).__name__ == "InterpolatedBENDR"
    assert lines == [
        "BENDR refuses the data's 19 channels (BENDR requires chs_info to match "
        "BENDR_CHANNEL_ORDER exactly (20 channels, specific order; last is 'SCALE')); "
        "InterpolatedBENDR maps them onto its own"
    ]
    first = "encoder.encoder.Encoder_0.0.weight"
    assert torch.equal(backbone.state_dict()[first], published.state_dict()[first])
    assert backbone(torch.from_numpy(fitted.X[:2])).shape[0] == 2


def test_a_sweep_fits_its_data_once_and_says_so(tmp_path) -> None:
    from sweep_helpers import small_spec

    from sweeps.sweep import dry_run

    spec = small_spec(
        tmp_path, "fitted", trial={"backbone": {"name": "CBraMod", "kwargs": {"n_layer": 1}}}
    )
    with said("sweeps.sweep") as lines:
        dry_run(spec, n=1)
    assert "the data fitted to CBraMod: resampled 128 → 200 Hz; scaled to units of 100 µV" in lines
