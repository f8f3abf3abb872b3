"""On-the-fly preprocessing applied inside the wrapper, before the channel adapter and backbone.

Foundation models were pretrained on signals scaled a particular way (BIOT on the 95th percentile
of |x|, others on z-scores); doing it on the fly keeps the dataset shared and untouched across
trials that use different backbones.
"""

from typing import Literal

import pydantic
import torch
from torch import nn

from probe_core.channel_merger import INVALID_POS_VALUE

ScalerName = Literal["RobustScaler", "StandardScaler", "QuantileAbsScaler", "MinMaxScaler"]

_EPS = 1e-8


class OnTheFlyPreprocessor(pydantic.BaseModel):
    """Artefact-channel rejection, scaling and clamping of a batch ``(B, C, T)``.

    - ``ptp_threshold``: a channel whose peak-to-peak amplitude within an example exceeds it is
      zeroed in that example; with ``update_ch_pos`` its position is also set to
      ``INVALID_POS_VALUE`` so that a ``ChannelMerger`` ignores it.
    - ``scaler``: a constant factor, or a scaler named after its scikit-learn counterpart whose
      statistics are computed over ``scale_dim`` (default: per example and channel, over time).
      ``QuantileAbsScaler`` divides by the ``scaler_quantile`` quantile of ``|x|``.
    - ``clamp``: clip the scaled signal to ``[-clamp, clamp]``.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    ptp_threshold: pydantic.PositiveFloat | None = None
    scaler: float | ScalerName | None = None
    scale_dim: int | tuple[int, ...] = -1
    scaler_quantile: float = pydantic.Field(0.95, ge=0.0, le=1.0)
    clamp: pydantic.PositiveFloat | None = None
    update_ch_pos: bool = False

    def build(self) -> "OnTheFlyPreprocessorModule":
        return OnTheFlyPreprocessorModule(self)


def _safe(denominator: torch.Tensor) -> torch.Tensor:
    """Replace (near-)zero denominators by 1, so flat channels stay flat instead of exploding."""
    return torch.where(denominator.abs() > _EPS, denominator, torch.ones_like(denominator))


def _quantile(x: torch.Tensor, q: float, dim: int | tuple[int, ...]) -> torch.Tensor:
    dims = (dim,) if isinstance(dim, int) else dim
    dims = tuple(d % x.ndim for d in dims)
    kept = [d for d in range(x.ndim) if d not in dims]
    flat = x.permute(*kept, *dims).reshape(*[x.shape[d] for d in kept], -1)
    out = torch.quantile(flat, q, dim=-1)
    for d in sorted(dims):
        out = out.unsqueeze(d)
    return out


class OnTheFlyPreprocessorModule(nn.Module):
    """``(x, channel_positions=None) -> (x, positions)``; never modifies its inputs in place."""

    def __init__(self, config: OnTheFlyPreprocessor) -> None:
        super().__init__()
        self.config = config

    def forward(
        self, x: torch.Tensor, channel_positions: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        cfg = self.config
        positions = channel_positions
        if cfg.ptp_threshold is not None:
            ptp = x.amax(dim=-1) - x.amin(dim=-1)  # (B, C)
            bad = ptp > cfg.ptp_threshold
            x = x.masked_fill(bad.unsqueeze(-1), 0.0)
            if cfg.update_ch_pos and positions is not None:
                positions = positions.masked_fill(bad.unsqueeze(-1), INVALID_POS_VALUE)
        x = self._scale(x)
        if cfg.clamp is not None:
            x = x.clamp(-cfg.clamp, cfg.clamp)
        return x, positions

    def _scale(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        dim = cfg.scale_dim
        if cfg.scaler is None:
            return x
        if isinstance(cfg.scaler, float):
            return x * cfg.scaler
        if cfg.scaler == "StandardScaler":
            mean = x.mean(dim=dim, keepdim=True)
            std = x.std(dim=dim, keepdim=True, correction=0)
            return (x - mean) / _safe(std)
        if cfg.scaler == "RobustScaler":
            median = _quantile(x, 0.5, dim)
            iqr = _quantile(x, 0.75, dim) - _quantile(x, 0.25, dim)
            return (x - median) / _safe(iqr)
        if cfg.scaler == "QuantileAbsScaler":
            return x / _safe(_quantile(x.abs(), cfg.scaler_quantile, dim))
        low = x.amin(dim=dim, keepdim=True)
        high = x.amax(dim=dim, keepdim=True)
        return (x - low) / _safe(high - low)
