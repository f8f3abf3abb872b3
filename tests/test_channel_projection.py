import pytest
import torch
from torch import nn

from probe_core import ChannelProjection
from probe_core.channel_projection import raw_conv_weight

INPUTS = ["fp1", "T3", "C3", "Cz", "C4", "X1"]


def test_identity_init_is_name_matched_one_hot() -> None:
    config = ChannelProjection(
        n_target_channels=4,
        max_norm=None,
        init="identity",
        target_channel_names=["C4", "T7", "FP1", "Oz"],
        rename_mapping={"T3": "T7"},
    )
    conv = config.build(len(INPUTS), INPUTS)
    expected = torch.zeros(4, 6)
    expected[0, 4] = 1  # C4 <- C4
    expected[1, 1] = 1  # T7 <- T3 renamed
    expected[2, 0] = 1  # FP1 <- fp1, case-insensitive
    assert torch.equal(conv.weight[..., 0], expected)  # Oz missing: zero row
    assert torch.equal(conv.bias, torch.zeros(4))
    x = torch.randn(2, 6, 9)
    assert torch.equal(conv(x)[:, 0], x[:, 4]) and torch.equal(conv(x)[:, 3], torch.zeros(2, 9))


def test_bipolar_init_adds_pattern_on_kaiming_baseline() -> None:
    targets = ["C3-Cz", "Cz-C4", "C4-O2", "O1-O2", "X1"]
    config = ChannelProjection(
        n_target_channels=5, max_norm=None, init="bipolar", target_channel_names=targets
    )
    torch.manual_seed(3)
    baseline = nn.Conv1d(6, 5, kernel_size=1).weight.detach()[..., 0]
    torch.manual_seed(3)
    conv = config.build(len(INPUTS), INPUTS)
    pattern = torch.zeros(5, 6)
    pattern[0, 2], pattern[0, 3] = 1, -1
    pattern[1, 3], pattern[1, 4] = 1, -1
    pattern[4, 5] = 1  # unipolar
    assert torch.allclose(conv.weight[..., 0] - baseline, pattern)
    # partial (C4-O2) and missing (O1-O2) rows keep the non-zero Kaiming baseline
    assert torch.equal(conv.weight[2, :, 0], baseline[2]) and baseline[3].abs().sum() > 0
    assert torch.equal(conv.bias, torch.zeros(5))


def test_max_norm_constrains_every_output_row_even_after_init() -> None:
    config = ChannelProjection(
        n_target_channels=3, max_norm=0.5, init="identity", target_channel_names=["C3", "C4", "Cz"]
    )
    conv = config.build(len(INPUTS), INPUTS)
    assert hasattr(conv, "parametrizations")
    assert torch.equal(raw_conv_weight(conv)[0, 2, 0], torch.tensor(1.0))  # raw init written
    row_norms = conv.weight.flatten(1).norm(dim=1)
    assert torch.allclose(row_norms, torch.full((3,), 0.5), atol=1e-5)
    with torch.no_grad():
        raw_conv_weight(conv).mul_(10)
    assert (conv.weight.flatten(1).norm(dim=1) <= 0.5 + 1e-5).all()
    unconstrained = ChannelProjection(n_target_channels=3, max_norm=None).build(6)
    assert not hasattr(unconstrained, "parametrizations")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"init": "identity"}, "init='identity' requires target_channel_names"),
        ({"init": "bipolar", "target_channel_names": ["A"]}, "has length 1 but n_target"),
    ],
)
def test_config_errors(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        ChannelProjection(n_target_channels=2, **kwargs)


def test_build_errors_for_named_inits() -> None:
    config = ChannelProjection(
        n_target_channels=2, init="identity", target_channel_names=["A", "B"]
    )
    with pytest.raises(ValueError, match="requires input_channel_names at build time"):
        config.build(3)
    with pytest.raises(ValueError, match="input_channel_names has length 2 but conv expects 3"):
        config.build(3, ["A", "B"])
