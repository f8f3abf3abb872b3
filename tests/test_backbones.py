import json

import numpy as np
import pytest
import torch

from probe_core.assembly import build_model
from probe_core.backbones import BackboneConfig, CheckpointError, save_state_dict
from probe_core.dataset import EEGDataset
from probe_core.montage import montage_positions
from probe_core.trial_config import TrialConfig


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(
        ValueError, match="unknown braindecode model 'eegnet4'; did you mean EEGNet"
    ):
        BackboneConfig(name="eegnet4")


def _embedding(model: torch.nn.Module, data: EEGDataset) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(data.X[:4]))


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_state_dict_round_trip_gives_identical_outputs(small_data, tmp_path, suffix) -> None:
    original = BackboneConfig(name="ShallowFBCSPNet", keep_head=True).build(small_data, 2)
    path = tmp_path / f"shallow{suffix}"
    save_state_dict(original, path)
    loaded = BackboneConfig(name="ShallowFBCSPNet", keep_head=True, checkpoint=str(path)).build(
        small_data, 2
    )
    assert torch.equal(_embedding(original, small_data), _embedding(loaded, small_data))
    # without its head the loaded backbone gives the embedding the head was fed
    headless = BackboneConfig(name="ShallowFBCSPNet", checkpoint=str(path)).build(small_data, 5)
    expected = original.final_layer[0].weight.shape[1]  # the head's input features
    assert _embedding(headless, small_data).shape[1] == expected


def test_mismatched_checkpoint_lists_keys_unless_partial_load_is_allowed(
    small_data, tmp_path, caplog
) -> None:
    other = BackboneConfig(name="EEGNet").build(small_data.subset(np.arange(8), "x"), 2, n_chans=8)
    path = tmp_path / "eight_channels.safetensors"
    save_state_dict(other, path)
    config = BackboneConfig(name="EEGNet", checkpoint=str(path))
    with pytest.raises(CheckpointError, match=r"shape mismatches \['conv_spatial.parametrizations"):
        config.build(small_data, 2)
    partial = config.model_copy(update={"allow_partial_load": True}).build(small_data, 2)
    assert torch.equal(partial.conv_temporal.weight, other.conv_temporal.weight)
    assert "partial load" in caplog.text
    labram_keys = tmp_path / "other_arch.pt"
    torch.save({"blocks.0.weight": torch.zeros(2)}, labram_keys)
    with pytest.raises(
        CheckpointError,
        match=r"missing keys \['bnorm_1.bias'.*unexpected keys "
        r"\['blocks.0.weight'\]",
    ):
        BackboneConfig(name="EEGNet", checkpoint=str(labram_keys)).build(small_data, 2)


def test_checkpoint_file_errors(small_data, tmp_path) -> None:
    with pytest.raises(CheckpointError, match="missing.pt: file not found"):
        BackboneConfig(name="EEGNet", checkpoint=str(tmp_path / "missing.pt")).build(small_data, 2)
    pickled = tmp_path / "code.pt"
    torch.save({"weights": object()}, pickled)  # not loadable with weights_only
    with pytest.raises(CheckpointError, match="code.pt: unreadable"):
        BackboneConfig(name="EEGNet", checkpoint=str(pickled)).build(small_data, 2)


def test_from_pretrained_directory_round_trip(patch_data, tmp_path) -> None:
    biot = BackboneConfig(name="BIOT", keep_head=True, kwargs={"num_layers": 1}).build(
        patch_data, 2
    )
    biot.save_pretrained(tmp_path / "biot")
    assert json.loads((tmp_path / "biot" / "config.json").read_text())["num_layers"] == 1
    loaded = BackboneConfig(name="BIOT", keep_head=True, checkpoint=str(tmp_path / "biot"))
    assert torch.equal(
        _embedding(biot, patch_data), _embedding(loaded.build(patch_data, 2), patch_data)
    )
    fewer = patch_data.subset(np.arange(4), "x")
    fewer = EEGDataset(
        X=fewer.X[:, :10].copy(),
        y=fewer.y,
        subjects=fewer.subjects,
        ch_names=fewer.ch_names[:10],
        sfreq=fewer.sfreq,
        positions=fewer.positions[:10],
        class_names=fewer.class_names,
    )
    with pytest.raises(
        CheckpointError, match="expects 19 channels, the data has 10; add a channel"
    ):
        loaded.build(fewer, 2)


BENDR_CHANNELS = [
    "FP1",
    "FP2",
    "F7",
    "F3",
    "FZ",
    "F4",
    "F8",
    "T7",
    "C3",
    "CZ",
    "C4",
    "T8",
    "T5",
    "P3",
    "PZ",
    "P4",
    "T6",
    "O1",
    "O2",
    "SCALE",
]


@pytest.fixture(scope="module")
def bendr_data(patch_data) -> EEGDataset:
    rng = np.random.default_rng(0)
    n = len(patch_data.y)
    return EEGDataset(
        X=rng.standard_normal((n, 20, 400)).astype(np.float32),
        y=patch_data.y,
        subjects=patch_data.subjects,
        ch_names=BENDR_CHANNELS,
        sfreq=200.0,
        positions=montage_positions(BENDR_CHANNELS),
        class_names=patch_data.class_names,
    )


@pytest.fixture
def reve_positions(tmp_path, monkeypatch) -> None:
    """REVE maps channel names through a position bank it downloads; write one locally."""
    import mne

    positions = mne.channels.make_standard_montage("colin27_1005").get_positions()["ch_pos"]
    bank = {name: [float(v) for v in pos] for name, pos in positions.items()}
    (tmp_path / "reve_positions.json").write_text(json.dumps(bank))
    monkeypatch.setenv("REVE_POSITIONS_PATH", str(tmp_path))


FAMILIES = [
    ("EEGNet", {}, None),
    ("ShallowFBCSPNet", {}, None),
    ("Deep4Net", {"pool_time_length": 2, "pool_time_stride": 2}, None),
    ("EEGConformer", {"num_layers": 1}, None),
    ("ATCNet", {"n_windows": 2}, None),
    ("BIOT", {"num_layers": 1}, None),
    ("Labram", {"num_layers": 1}, None),
    ("CBraMod", {"n_layer": 1}, None),
    ("EEGPT", {"depth": 1, "embed_dim": 64, "num_heads": 2}, None),
    ("SignalJEPA", {"transformer__num_encoder_layers": 1}, None),
    ("BENDR", {"transformer_layers": 1, "encoder_h": 64, "contextualizer_hidden": 128}, "bendr"),
    ("REVE", {"depth": 1, "embed_dim": 64, "heads": 2, "head_dim": 16}, "reve"),
]


@pytest.mark.parametrize(("name", "kwargs", "special"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_every_family_exposes_an_embedding_for_the_probe(
    name, kwargs, special, patch_data, request
) -> None:
    data = patch_data
    if special == "bendr":
        data = request.getfixturevalue("bendr_data")
    elif special == "reve":
        request.getfixturevalue("reve_positions")
    strategies = ["linear_probe"]
    backbone = BackboneConfig(name=name, kwargs=kwargs).build(data, 2)
    from probe_core.introspection import attention_projections

    if attention_projections(backbone):
        strategies.append("attentive_probe")
    for strategy in strategies:
        config = TrialConfig.model_validate(
            {"backbone": {"name": name, "kwargs": kwargs}, "strategy": {"kind": strategy}}
        )
        model, _ = build_model(config, data)
        model.eval()
        x = torch.from_numpy(data.X[:3])
        embedding = model(x, return_embedding=True, ch_names=data.ch_names)
        assert embedding.ndim == 2 and embedding.shape[0] == 3 and embedding.shape[1] > 1
        assert model.probe(embedding).shape == (3, 2)
        assert embedding.std(dim=0).max() > 0  # depends on the input
