import pytest
import torch

from probe_core import OnTheFlyPreprocessor
from probe_core.channel_merger import INVALID_POS_VALUE


def _run(x: torch.Tensor, **kwargs) -> torch.Tensor:
    return OnTheFlyPreprocessor(**kwargs).build()(x)[0]


@pytest.fixture
def signal() -> torch.Tensor:
    return torch.randn(4, 3, 200) * 7 + 2


def test_standard_scaler_divides_by_the_unbiased_std_per_channel(signal) -> None:
    out = _run(signal, scaler="StandardScaler", scale_dim=-1)
    assert torch.allclose(out.mean(-1), torch.zeros(4, 3), atol=1e-5)
    assert torch.allclose(out.std(-1), torch.ones(4, 3), atol=1e-5)  # correction=1, as torch
    assert not torch.allclose(out.std(-1, correction=0), torch.ones(4, 3), atol=1e-4)


def test_scale_dim_defaults_to_every_axis_and_takes_a_list(signal) -> None:
    """The seed's default: one statistic over the whole batch."""
    whole = _run(signal, scaler="StandardScaler")
    assert whole.mean().item() == pytest.approx(0.0, abs=1e-5)
    assert whole.std().item() == pytest.approx(1.0, abs=1e-5)
    assert not torch.allclose(whole.std(-1), torch.ones(4, 3), atol=1e-2)
    per_example = _run(signal, scaler="StandardScaler", scale_dim=[1, 2])
    assert torch.allclose(per_example.flatten(1).std(1), torch.ones(4), atol=1e-5)


def test_robust_scaler_gives_zero_median_unit_iqr(signal) -> None:
    out = _run(signal, scaler="RobustScaler", scale_dim=-1)
    assert torch.allclose(out.quantile(0.5, dim=-1), torch.zeros(4, 3), atol=1e-5)
    iqr = out.quantile(0.75, dim=-1) - out.quantile(0.25, dim=-1)
    assert torch.allclose(iqr, torch.ones(4, 3), atol=1e-5)


def test_quantile_abs_scaler_and_its_dims(signal) -> None:
    out = _run(signal, scaler="QuantileAbsScaler", scaler_quantile=0.9, scale_dim=-1)
    assert torch.allclose(out.abs().quantile(0.9, dim=-1), torch.ones(4, 3), atol=1e-5)
    whole = _run(signal, scaler="QuantileAbsScaler", scale_dim=[1, 2])
    per_example = whole.abs().flatten(1).quantile(0.95, dim=1)
    assert torch.allclose(per_example, torch.ones(4), atol=1e-5)
    assert not torch.allclose(whole.abs().quantile(0.95, dim=-1), torch.ones(4, 3), atol=1e-3)


def test_min_max_maps_each_channel_to_minus_one_one_over_time_factor_and_clamp(signal) -> None:
    for scale_dim in (None, [1, 2]):  # over time whatever scale_dim says (BENDR)
        out = _run(signal, scaler="MinMaxScaler", scale_dim=scale_dim)
        assert torch.allclose(out.amin(-1), -torch.ones(4, 3))
        assert torch.allclose(out.amax(-1), torch.ones(4, 3))
    flat = _run(torch.full((1, 2, 10), 3.0), scaler="MinMaxScaler")
    assert torch.equal(flat, -torch.ones(1, 2, 10))
    assert torch.allclose(_run(signal, scaler=1e-3), signal * 1e-3)
    clamped = _run(signal, scaler="StandardScaler", clamp=1.5)
    assert clamped.abs().max() == pytest.approx(1.5)


@pytest.mark.parametrize(
    "scaler", ["StandardScaler", "RobustScaler", "QuantileAbsScaler", "MinMaxScaler"]
)
def test_flat_channels_do_not_divide_by_zero(scaler) -> None:
    x = torch.zeros(2, 3, 50)
    x[:, 1] = 4.0
    out = _run(x, scaler=scaler)
    assert torch.isfinite(out).all()


def test_ptp_rejection_invalidates_positions_by_default_without_mutation() -> None:
    x = torch.randn(2, 3, 100)
    x[1, 2, 10] = 500.0
    positions = torch.rand(2, 3, 3)
    x_before, pos_before = x.clone(), positions.clone()
    out, new_positions = OnTheFlyPreprocessor(ptp_threshold=100.0).build()(x, positions)
    assert torch.equal(out, x)  # the signal is left to the channel merger, which ignores it
    assert torch.all(new_positions[1, 2] == INVALID_POS_VALUE)
    assert torch.equal(new_positions[0], positions[0])
    assert torch.equal(x, x_before) and torch.equal(positions, pos_before)
    with pytest.raises(ValueError, match="update_ch_pos: channel positions are needed"):
        OnTheFlyPreprocessor(ptp_threshold=100.0).build()(x)


def test_ptp_rejection_without_positions_zeroes_the_channel() -> None:
    x = torch.randn(2, 3, 100)
    x[1, 2, 10] = 500.0
    positions = torch.rand(2, 3, 3)
    module = OnTheFlyPreprocessor(ptp_threshold=100.0, update_ch_pos=False).build()
    out, unchanged = module(x, positions)
    assert torch.equal(out[1, 2], torch.zeros(100)) and torch.equal(out[0], x[0])
    assert unchanged is positions


def test_quantile_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="scaler_quantile"):
        OnTheFlyPreprocessor(scaler_quantile=1.5)
