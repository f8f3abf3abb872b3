import math

import pytest
import torch

from probe_core import ChannelMerger
from probe_core.channel_merger import INVALID_POS_VALUE, FourierEmb


def test_fourier_embedding_values_and_sizes() -> None:
    config = FourierEmb(n_freqs=2, n_dims=2, margin=0.0)
    assert config.output_size == 8
    emb = config.build()(torch.tensor([[0.25, 0.5]]))
    # frequency pairs (0,0), (0,1), (1,0), (1,1) -> phases 0, pi, pi/2, 3pi/2
    phases = torch.tensor([0.0, math.pi, math.pi / 2, 3 * math.pi / 2])
    assert torch.allclose(emb[0], torch.cat([phases.cos(), phases.sin()]), atol=1e-6)
    assert FourierEmb(total_dim=288).resolved_n_freqs == 12
    assert FourierEmb(n_freqs=3, n_dims=3).output_size == 54
    assert ChannelMerger().fourier_emb_config.output_size == 288


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_freqs": 12, "total_dim": 288}, "exactly one of n_freqs and total_dim"),
        ({"n_freqs": None}, "exactly one of n_freqs and total_dim"),
        ({"total_dim": 100}, "total_dim=100 is not 2 \\* n_freqs \\*\\* 2"),
    ],
)
def test_fourier_config_errors(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        FourierEmb(**kwargs)


def _merger(**kwargs) -> torch.nn.Module:
    config = ChannelMerger(n_virtual_channels=5, fourier_emb_config=FourierEmb(n_freqs=4), **kwargs)
    return config.build()


def test_output_is_a_softmax_mix_of_input_channels() -> None:
    merger = _merger()
    x, positions = torch.randn(2, 6, 11), torch.rand(2, 6, 2)
    out = merger(x, torch.zeros(2, dtype=torch.long), positions)
    assert out.shape == (2, 5, 11)
    constant = torch.ones(2, 6, 11)  # weights sum to one over channels
    assert torch.allclose(merger(constant, torch.zeros(2), positions), torch.ones(2, 5, 11))


def test_invalid_channels_are_masked_out() -> None:
    merger = _merger()
    x, positions = torch.randn(3, 6, 11), torch.rand(3, 6, 2)
    positions[:, 2] = INVALID_POS_VALUE
    subjects = torch.zeros(3, dtype=torch.long)
    reference = merger(x, subjects, positions)
    x_changed = x.clone()
    x_changed[:, 2] = 1e6
    assert torch.allclose(merger(x_changed, subjects, positions), reference)
    partly_invalid = positions.clone()
    partly_invalid[:, 2, 0] = 0.5  # only one coordinate invalid: the channel counts again
    assert not torch.allclose(merger(x_changed, subjects, partly_invalid), reference)


def test_spatial_dropout_removes_a_neighbourhood_only_in_training() -> None:
    merger = _merger(dropout=0.3, dropout_around_channel=True)
    positions = torch.tensor([[[0.1, 0.1], [0.15, 0.1], [0.9, 0.9]]]).repeat(64, 1, 1)
    x = torch.zeros(64, 3, 4)
    x[:, 2] = 1.0  # output = attention weight on the far channel
    merger.train()
    far_weight = merger(x, torch.zeros(64), positions)[:, 0, 0]
    # dropping around channel 0 or 1 removes both near channels -> all weight on channel 2;
    # dropping around channel 2 removes it -> zero. Never NaN (an example keeps a channel).
    assert torch.isfinite(far_weight).all()
    assert set(far_weight.round(decimals=4).unique().tolist()) <= {0.0, 1.0}
    assert {0.0, 1.0} <= set(far_weight.round(decimals=4).unique().tolist())
    merger.eval()
    eval_weight = merger(x, torch.zeros(64), positions)[:, 0, 0]
    assert ((eval_weight > 0) & (eval_weight < 1)).all()


def test_per_subject_heads_and_usage_penalty() -> None:
    merger = _merger(per_subject=True, n_subjects=3, usage_penalty=2.0)
    assert merger.heads.shape == (3, 5, 32)
    x, positions = torch.randn(1, 6, 7), torch.rand(1, 6, 2)
    out_a = merger(x, torch.tensor([0]), positions)
    out_b = merger(x, torch.tensor([2]), positions)
    assert not torch.allclose(out_a, out_b)
    with torch.no_grad():
        merger.heads.zero_()  # uniform attention: usage 1/6 per channel
    merger(x, torch.tensor([0]), positions)
    assert torch.isclose(merger.penalty, torch.tensor(2.0 * 6 * (1 / 6) ** 2))


def test_embed_ref_and_unmerge() -> None:
    merger = _merger(embed_ref=True, unmerge=True)
    assert merger.heads.shape == (5, 64)
    x = torch.randn(2, 6, 7)
    electrode = torch.rand(2, 6, 2)
    ref_a = torch.cat([electrode, torch.zeros(2, 6, 2)], dim=-1)
    # a reference shared by all channels shifts every score equally: only differing ones matter
    ref_b = torch.cat([electrode, torch.rand(2, 6, 2)], dim=-1)
    assert not torch.allclose(merger(x, torch.zeros(2), ref_a), merger(x, torch.zeros(2), ref_b))
    y = torch.ones(2, 5, 3)
    back = merger.unmerge(y)
    assert back.shape == (2, 6, 3)
    assert torch.allclose(back.sum(dim=1), torch.full((2, 3), 5.0))  # each head's mass is 1
    with pytest.raises(ValueError, match="channel_positions"):
        merger(x, torch.zeros(2), None)
