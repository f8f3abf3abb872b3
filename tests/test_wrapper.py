import pytest
import torch
from braindecode.models import EEGNet
from torch import nn

from probe_core import (
    ChannelMerger,
    ChannelProjection,
    DownstreamWrapper,
    Mlp,
    OnTheFlyPreprocessor,
)
from probe_core.channel_merger import FourierEmb
from probe_core.introspection import parameter_summary


class DictBackbone(nn.Module):
    """Returns several outputs; ``tokens`` is (B, 5, 3), ``pooled`` is (B, 3)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(8, 3)
        self.head = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        tokens = self.encoder(x.reshape(x.shape[0], 5, 8))
        return {"tokens": tokens, "pooled": self.head(tokens.mean(1))}


class TupleBackbone(DictBackbone):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = super().forward(x)
        return out["pooled"], out["tokens"]


def batch(n: int = 4) -> dict[str, torch.Tensor]:
    return {"x": torch.randn(n, 5, 8)}


def test_output_key_routes_dict_key_and_tuple_index() -> None:
    inputs = batch()
    by_key = DownstreamWrapper(model_output_key="tokens", aggregation="mean").build(
        DictBackbone(), inputs, n_outputs=2
    )
    backbone = by_key.wrapped_model
    expected = backbone.encoder(inputs["x"].reshape(4, 5, 8)).mean(1)
    assert torch.allclose(by_key(**inputs, return_embedding=True), expected)
    assert torch.allclose(by_key(**inputs), by_key.probe(expected))

    by_index = DownstreamWrapper(model_output_key=1, aggregation="first").build(
        TupleBackbone(), inputs, n_outputs=2
    )
    tokens = by_index.wrapped_model.encoder(inputs["x"].reshape(4, 5, 8))
    assert torch.allclose(by_index(**inputs, return_embedding=True), tokens[:, 0])
    assert by_index.probe.in_features == 3


def test_probe_sized_from_flattened_output_and_checked() -> None:
    wrapper = DownstreamWrapper(model_output_key="tokens").build(DictBackbone(), batch(), 7)
    assert isinstance(wrapper.probe, nn.Linear)
    assert (wrapper.probe.in_features, wrapper.probe.out_features) == (15, 7)
    with pytest.raises(ValueError, match="expected n_outputs=7"):
        DownstreamWrapper(model_output_key="pooled", probe_config=None).build(
            DictBackbone(), batch(), 7
        )


def test_mlp_probe_and_identity_probe() -> None:
    mlp = DownstreamWrapper(
        model_output_key="pooled", probe_config=Mlp(hidden_sizes=[6], norm_layer="layer")
    ).build(DictBackbone(), batch(), 2)
    assert [type(m).__name__ for m in mlp.probe] == ["Linear", "LayerNorm", "ReLU", "Linear"]
    assert mlp.probe[0].in_features == 3 and mlp.probe[-1].out_features == 2
    same = DownstreamWrapper(model_output_key="pooled", probe_config=None).build(
        DictBackbone(), batch(), 3
    )
    inputs = batch()
    assert torch.equal(same(**inputs), same.wrapped_model(**inputs)["pooled"])


def test_both_freeze_lists_is_an_error() -> None:
    with pytest.raises(ValueError, match="Only one of layers_to_freeze and layers_to_unfreeze"):
        DownstreamWrapper(layers_to_freeze=["a"], layers_to_unfreeze=["b"])


def _trainable(wrapper) -> set[str]:
    return {n for n, p in wrapper.wrapped_model.named_parameters() if p.requires_grad}


def test_strict_matching_uses_first_name_component() -> None:
    wrapper = DownstreamWrapper(model_output_key="pooled", layers_to_freeze=["encoder"]).build(
        DictBackbone(), batch(), 2
    )
    assert _trainable(wrapper) == {"head.weight", "head.bias"}
    # "head.weight" contains "weight" but its first component is "head": strict keeps it.
    strict = DownstreamWrapper(model_output_key="pooled", layers_to_freeze=["weight"]).build(
        DictBackbone(), batch(), 2
    )
    assert len(_trainable(strict)) == 4
    loose = DownstreamWrapper(
        model_output_key="pooled", layers_to_freeze=["weight"], strict_matching=False
    ).build(DictBackbone(), batch(), 2)
    assert _trainable(loose) == {"encoder.bias", "head.bias"}


def test_unfreeze_list_and_last() -> None:
    unfrozen = DownstreamWrapper(model_output_key="pooled", layers_to_unfreeze=["head"]).build(
        DictBackbone(), batch(), 2
    )
    assert _trainable(unfrozen) == {"head.weight", "head.bias"}
    last = DownstreamWrapper(layers_to_unfreeze="last").build(
        EEGNet(4, 3, n_times=128), {"input": torch.randn(4, 4, 128)}, 2
    )
    assert _trainable(last) == {
        "final_layer.conv_classifier.weight",
        "final_layer.conv_classifier.bias",
    }


@pytest.mark.parametrize(
    "patterns",
    [
        {"layers_to_unfreeze": [""], "strict_matching": True},  # no first component is ""
        {"layers_to_freeze": [""], "strict_matching": False},  # "" is in every name
    ],
)
def test_empty_pattern_freezes_whole_backbone_probe_and_adapter_train(patterns: dict) -> None:
    inputs = {"input": torch.randn(8, 6, 128)}
    wrapper = DownstreamWrapper(
        **patterns, channel_adapter_config=ChannelProjection(n_target_channels=4)
    ).build(EEGNet(4, 3, n_times=128), inputs, n_outputs=2)
    assert _trainable(wrapper) == set()
    summary = parameter_summary(wrapper)
    adapter_and_probe = 6 * 4 + 4 + 3 * 2 + 2
    assert summary.trainable == adapter_and_probe
    before = {n: p.detach().clone() for n, p in wrapper.named_parameters()}
    loss = wrapper(**inputs).square().mean()
    loss.backward()
    for name, param in wrapper.named_parameters():
        gets_grad = param.grad is not None and bool(param.grad.abs().sum() > 0)
        assert gets_grad == name.startswith(("probe", "channel_adapter")), name
    torch.optim.SGD([p for p in wrapper.parameters() if p.requires_grad], lr=0.1).step()
    changed = {n for n, p in wrapper.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(n.startswith(("probe", "channel_adapter")) for n in changed)


@pytest.mark.parametrize(
    "patterns",
    [
        {"layers_to_freeze": [""], "strict_matching": True},
        {"layers_to_unfreeze": [""], "strict_matching": False},
    ],
)
def test_empty_pattern_the_other_way_round_trains_the_whole_backbone(patterns: dict) -> None:
    """The seed's rules: a neuralbench config is read as neuralbench reads it."""
    model = EEGNet(4, 3, n_times=128)
    wrapper = DownstreamWrapper(**patterns).build(model, {"input": torch.randn(8, 4, 128)}, 2)
    assert _trainable(wrapper) == {n for n, _ in model.named_parameters()}


def test_build_leaves_train_mode_and_batchnorm_statistics_untouched() -> None:
    model = EEGNet(4, 3, n_times=128)
    running = model.bnorm_temporal.running_mean.clone()
    wrapper = DownstreamWrapper().build(model, {"input": torch.randn(8, 4, 128) * 5 + 3}, 2)
    assert wrapper.training and model.training
    assert torch.equal(model.bnorm_temporal.running_mean, running)


class KwargsBackbone(nn.Module):
    def __init__(self, n_chans: int = 3) -> None:
        super().__init__()
        self.lin = nn.Linear(n_chans, 2)
        self.seen: dict = {}

    def forward(self, x, channel_positions=None, **kwargs):
        self.seen = {"channel_positions": channel_positions, **kwargs}
        return self.lin(x.mean(-1))


class StrictBackbone(KwargsBackbone):
    def forward(self, x, channel_positions=None):  # type: ignore[override]
        return super().forward(x, channel_positions)


def test_inner_model_gets_only_accepted_keywords_unless_it_takes_kwargs() -> None:
    inputs = {
        "x": torch.randn(2, 3, 10),
        "channel_positions": torch.rand(2, 3, 2),
        "subject_ids": torch.tensor([1, 2]),
    }
    strict = DownstreamWrapper().build(StrictBackbone(), inputs, 2)
    strict(**inputs)
    assert set(strict.wrapped_model.seen) == {"channel_positions"}
    loose = DownstreamWrapper().build(KwargsBackbone(), inputs, 2)
    loose(**inputs)
    assert set(loose.wrapped_model.seen) == {"channel_positions", "subject_ids"}


def test_preprocessor_positions_are_passed_on_to_the_model() -> None:
    x = torch.randn(2, 3, 10)
    x[0, 1] *= 1000  # an artefact channel in the first example
    positions = torch.rand(2, 3, 2)
    wrapper = DownstreamWrapper(
        on_the_fly_preprocessor=OnTheFlyPreprocessor(ptp_threshold=100.0, update_ch_pos=True)
    ).build(StrictBackbone(), {"x": x, "channel_positions": positions}, 2)
    wrapper(x, channel_positions=positions)
    seen = wrapper.wrapped_model.seen["channel_positions"]
    assert torch.all(seen[0, 1] == -0.1)
    assert torch.equal(seen[1], positions[1]) and torch.equal(seen[0, 0], positions[0, 0])
    assert positions[0, 1, 0] != -0.1  # the caller's tensor is untouched


def test_channel_merger_adapter_gets_positions_and_default_subjects() -> None:
    inputs = {"x": torch.randn(3, 7, 10), "channel_positions": torch.rand(3, 7, 2)}
    merger = ChannelMerger(
        n_virtual_channels=4, fourier_emb_config=FourierEmb(n_freqs=3), per_subject=True
    )
    wrapper = DownstreamWrapper(channel_adapter_config=merger).build(
        StrictBackbone(n_chans=4), inputs, 2
    )
    assert DownstreamWrapper(channel_adapter_config=merger).n_adapter_target_channels == 4
    assert DownstreamWrapper().n_adapter_target_channels is None
    adapted = wrapper.channel_adapter(
        inputs["x"], torch.zeros(3, dtype=torch.long), inputs["channel_positions"]
    )
    expected = wrapper.wrapped_model.lin(adapted.mean(-1))
    assert torch.allclose(wrapper(**inputs, return_embedding=True), expected.flatten(1))
    with pytest.raises(ValueError, match="channel_positions"):
        wrapper(inputs["x"])


class SeqFirstBackbone(nn.Module):
    """An nn.TransformerEncoder used sequence-first, then a head."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 8)
        self.encoder = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
        self.head = nn.Linear(8, 3)
        self.head_calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.encoder(self.proj(x.transpose(1, 2)).transpose(0, 1))  # (T, B, D)
        self.head_calls += 1
        return self.head(tokens.mean(0))


def test_probe_layer_moves_sequence_first_output_and_skips_later_layers() -> None:
    x = torch.randn(5, 4, 6)
    wrapper = DownstreamWrapper(probe_layer="encoder", aggregation="mean").build(
        SeqFirstBackbone(), {"x": x}, 2
    )
    wrapper.eval()
    backbone = wrapper.wrapped_model
    calls = backbone.head_calls
    expected = backbone.encoder(backbone.proj(x.transpose(1, 2)).transpose(0, 1)).transpose(0, 1)
    features = wrapper.forward_features(x)
    assert features.shape == (5, 6, 8)
    assert torch.allclose(features, expected, atol=1e-6)
    assert backbone.head_calls == calls  # stopped at the probed layer
    assert wrapper.probe.in_features == 8


def test_probe_batch_dim_override_and_errors() -> None:
    x = torch.randn(6, 4, 6)  # batch 6 == time 6: detection cannot tell, the override can
    wrapper = DownstreamWrapper(probe_layer="encoder", probe_batch_dim=1).build(
        SeqFirstBackbone(), {"x": x}, 2
    )
    assert wrapper.forward_features(x).shape == (6, 6, 8)
    with pytest.raises(ValueError, match="probe_layer='decoder' is not a submodule"):
        DownstreamWrapper(probe_layer="decoder").build(SeqFirstBackbone(), {"x": x}, 2)
    with pytest.raises(ValueError, match="returns dict, not a tensor"):
        DownstreamWrapper(probe_layer="").build(DictBackbone(), batch(), 2)
    with pytest.raises(ValueError, match="probe_layer and model_output_key"):
        DownstreamWrapper(probe_layer="encoder", model_output_key="x")
    with pytest.raises(ValueError, match="probe_batch_dim only applies"):
        DownstreamWrapper(probe_batch_dim=1)


def test_unknown_field_is_refused() -> None:
    with pytest.raises(ValueError, match="aggregaton"):
        DownstreamWrapper(aggregaton="mean")
