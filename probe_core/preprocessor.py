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
from probe_core.errors import ConfigError

ScalerName = Literal["RobustScaler", "StandardScaler", "QuantileAbsScaler", "MinMaxScaler"]


class OnTheFlyPreprocessor(pydantic.BaseModel):
    """Artefact-channel rejection, scaling and clamping of a batch ``(B, C, T)``, with the
    semantics of neuraltrain's preprocessor of the same name (the seed's).

    - ``ptp_threshold``: a channel whose peak-to-peak amplitude within an example exceeds it is
      bad. With ``update_ch_pos`` (the default) its position becomes ``INVALID_POS_VALUE``, so
      that a ``ChannelMerger`` ignores it, and the positions must be given; without, the channel
      is zeroed in that example.
    - ``scaler``: a constant factor, or a scaler named after its scikit-learn counterpart whose
      statistics are computed over ``scale_dim`` (an axis, a list of axes, or ``None``: every
      axis, the batch's included). ``StandardScaler`` divides by the unbiased standard
      deviation; ``QuantileAbsScaler`` by the ``scaler_quantile`` quantile of ``|x|`` (BIOT);
      ``MinMaxScaler`` maps each channel of each example to [-1, 1] over time whatever
      ``scale_dim`` says (BENDR), a flat channel to -1. A zero spread divides by 1.
    - ``clamp``: clip the scaled signal to ``[-clamp, clamp]``.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    ptp_threshold: pydantic.PositiveFloat | None = None
    scaler: float | ScalerName | None = None
    scale_dim: int | list[int] | None = None
    scaler_quantile: float = pydantic.Field(0.95, ge=0.0, le=1.0)
    clamp: pydantic.PositiveFloat | None = None
    update_ch_pos: bool = True

    def build(self) -> "OnTheFlyPreprocessorModule":
        return OnTheFlyPreprocessorModule(self)


def _nonzero(spread: torch.Tensor) -> torch.Tensor:
    """A zero spread (a flat channel) replaced by 1, so that flat stays flat."""
    return torch.where(spread == 0, torch.ones_like(spread), spread)


def _dims(x: torch.Tensor, dim: int | list[int] | None) -> tuple[int, ...]:
    dims = range(x.ndim) if dim is None else [dim] if isinstance(dim, int) else dim
    return tuple(sorted({d % x.ndim for d in dims}))


def _quantile(x: torch.Tensor, q: float, dim: int | list[int] | None) -> torch.Tensor:
    """``torch.quantile`` over several axes at once, keeping them as size 1."""
    dims = _dims(x, dim)
    kept = [d for d in range(x.ndim) if d not in dims]
    flat = x.permute(*kept, *dims).reshape(*[x.shape[d] for d in kept], -1)
    out = torch.quantile(flat, q, dim=-1)
    for d in dims:
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
            bad = (x.amax(dim=-1) - x.amin(dim=-1)) > cfg.ptp_threshold  # (B, C)
            if cfg.update_ch_pos:
                if positions is None:
                    raise ConfigError(
                        "on_the_fly_preprocessor.update_ch_pos: channel positions are needed to "
                        "mark bad channels (a ChannelMerger adapter gives them); set "
                        "update_ch_pos: false to zero bad channels instead"
                    )
                positions = positions.masked_fill(bad.unsqueeze(-1), INVALID_POS_VALUE)
            else:
                x = x.masked_fill(bad.unsqueeze(-1), 0.0)
        x = self._scale(x)
        if cfg.clamp is not None:
            x = x.clamp(-cfg.clamp, cfg.clamp)
        return x, positions

    def _scale(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if cfg.scaler is None:
            return x
        if isinstance(cfg.scaler, float):
            return x * cfg.scaler
        dims = _dims(x, cfg.scale_dim)
        if cfg.scaler == "StandardScaler":
            centred = x - x.mean(dim=dims, keepdim=True)
            return centred / _nonzero(centred.std(dim=dims, keepdim=True))
        if cfg.scaler == "RobustScaler":
            median = _quantile(x, 0.5, cfg.scale_dim)
            iqr = _quantile(x, 0.75, cfg.scale_dim) - _quantile(x, 0.25, cfg.scale_dim)
            return (x - median) / _nonzero(iqr)
        if cfg.scaler == "QuantileAbsScaler":
            return x / _nonzero(_quantile(x.abs(), cfg.scaler_quantile, cfg.scale_dim))
        low, high = x.aminmax(dim=-1, keepdim=True)
        return 2.0 * (x - low) / _nonzero(high - low) - 1.0
