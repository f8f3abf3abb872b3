"""Position-based channel adapter: any montage in, a fixed number of virtual channels out.

Each virtual channel is a softmax-weighted mix of the input channels, scored from a Fourier
embedding of the electrode positions, so one adapter serves recordings with different channel
sets (the "spatial attention" of Défossez et al., 2023).
"""

import itertools
import math
from typing import Any

import pydantic
import torch
from torch import nn

INVALID_POS_VALUE = -0.1
"""Coordinate value marking a channel without a usable position (the merger ignores it)."""


class FourierEmb(pydantic.BaseModel):
    """Fourier features of positions in ``[0, 1]^n_dims``: ``2 * n_freqs ** n_dims`` values.

    Give exactly one of ``n_freqs`` and ``total_dim`` (then ``total_dim = 2 * n_freqs ** n_dims``).
    ``margin`` widens the period so that positions at 0 and 1 do not alias.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    n_freqs: pydantic.PositiveInt | None = 12
    total_dim: pydantic.PositiveInt | None = None
    n_dims: pydantic.PositiveInt = 2
    margin: pydantic.NonNegativeFloat = 0.2

    @pydantic.model_validator(mode="before")
    @classmethod
    def _total_dim_replaces_default_n_freqs(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("total_dim") is not None and "n_freqs" not in data:
            data = {**data, "n_freqs": None}
        return data

    @pydantic.model_validator(mode="after")
    def _exactly_one_size(self) -> "FourierEmb":
        if (self.n_freqs is None) == (self.total_dim is None):
            raise ValueError("FourierEmb: give exactly one of n_freqs and total_dim")
        if self.total_dim is not None:
            n_freqs = round((self.total_dim / 2) ** (1 / self.n_dims))
            if 2 * n_freqs**self.n_dims != self.total_dim:
                raise ValueError(
                    f"FourierEmb: total_dim={self.total_dim} is not 2 * n_freqs ** {self.n_dims}"
                    " for any integer n_freqs"
                )
        return self

    @property
    def resolved_n_freqs(self) -> int:
        if self.n_freqs is not None:
            return self.n_freqs
        assert self.total_dim is not None
        n_freqs: float = (self.total_dim / 2) ** (1 / self.n_dims)
        return round(n_freqs)

    @property
    def output_size(self) -> int:
        size: int = 2 * self.resolved_n_freqs**self.n_dims
        return size

    def build(self) -> "FourierEmbedding":
        return FourierEmbedding(self.resolved_n_freqs, self.n_dims, self.margin)


class FourierEmbedding(nn.Module):
    """``(..., n_dims) -> (..., 2 * n_freqs ** n_dims)``: cos, sin of all frequency combinations."""

    frequencies: torch.Tensor  # a buffer, registered in __init__

    def __init__(self, n_freqs: int, n_dims: int, margin: float) -> None:
        super().__init__()
        self.n_dims = n_dims
        self.margin = margin
        grid = torch.tensor(list(itertools.product(range(n_freqs), repeat=n_dims)))
        self.register_buffer(
            "frequencies", grid.float(), persistent=False
        )  # (n_freqs ** n_dims, n_dims)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        if positions.shape[-1] != self.n_dims:
            raise ValueError(
                f"FourierEmb expects positions with {self.n_dims} coordinates, "
                f"got {positions.shape[-1]}"
            )
        width = 1 + 2 * self.margin
        phase = (positions + self.margin) @ self.frequencies.T * (2 * math.pi / width)
        return torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)


class ChannelMerger(pydantic.BaseModel):
    """Configuration of the position-based channel merger.

    Positions are expected normalised to ``[0, 1]`` per coordinate, shape ``(B, C, n_dims)``, or
    ``(B, C, 2 * n_dims)`` with ``embed_ref`` (electrode then reference position; both embeddings
    are concatenated so re-referenced montages are told apart). A channel whose coordinates all
    equal ``invalid_value`` is masked out.

    - ``dropout``: during training, channels within this radius of a random point (of a random
      valid channel with ``dropout_around_channel``) are removed, so the model learns not to rely
      on any one region; an example never loses all its channels.
    - ``usage_penalty``: after each forward, ``module.penalty`` holds this factor times the
      concentration of attention over input channels (sum of squared mean usage; lowest when the
      heads spread evenly), for the training loss to discourage a few channels hogging all heads.
    - ``per_subject``: one set of attention heads per subject id (``n_subjects`` of them).
    - ``unmerge``: keep the last attention weights so ``module.unmerge(y)`` maps a virtual-channel
      signal back onto the input channels.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    n_virtual_channels: pydantic.PositiveInt = 270
    fourier_emb_config: FourierEmb = FourierEmb(n_freqs=None, total_dim=288, n_dims=2)
    dropout: pydantic.NonNegativeFloat = 0.0
    dropout_around_channel: bool = False
    usage_penalty: pydantic.NonNegativeFloat = 0.0
    n_subjects: pydantic.PositiveInt = 200
    per_subject: bool = False
    embed_ref: bool = False
    unmerge: bool = False
    invalid_value: float = INVALID_POS_VALUE

    def build(self) -> "ChannelMergerModule":
        return ChannelMergerModule(self)


class ChannelMergerModule(nn.Module):
    """``(x (B, C, T), subject_ids (B,), positions (B, C, D)) -> (B, n_virtual_channels, T)``."""

    def __init__(self, config: ChannelMerger) -> None:
        super().__init__()
        self.config = config
        self.embedding = config.fourier_emb_config.build()
        emb_dim = config.fourier_emb_config.output_size * (2 if config.embed_ref else 1)
        n_heads = (config.n_subjects,) if config.per_subject else ()
        heads = torch.randn(*n_heads, config.n_virtual_channels, emb_dim) / math.sqrt(emb_dim)
        self.heads = nn.Parameter(heads)
        self.penalty = torch.zeros(())
        self.last_weights: torch.Tensor | None = None

    def _embed(self, positions: torch.Tensor) -> torch.Tensor:
        if not self.config.embed_ref:
            embedded: torch.Tensor = self.embedding(positions)
            return embedded
        n_dims = self.config.fourier_emb_config.n_dims
        electrode, reference = positions[..., :n_dims], positions[..., n_dims:]
        return torch.cat([self.embedding(electrode), self.embedding(reference)], dim=-1)

    def _dropout_mask(self, positions: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Channels to drop for this training step, ``(B, C)``; never all of an example's."""
        electrode = positions[..., : self.config.fourier_emb_config.n_dims]
        batch = positions.shape[0]
        if self.config.dropout_around_channel:
            pick = torch.multinomial(valid.float() + 1e-12, 1).squeeze(1)
            centre = electrode[torch.arange(batch, device=positions.device), pick]
        else:
            centre = torch.rand(batch, electrode.shape[-1], device=positions.device)
        banned = (electrode - centre[:, None]).norm(dim=-1) <= self.config.dropout
        keeps_some = (valid & ~banned).any(dim=1, keepdim=True)
        dropped: torch.Tensor = banned & keeps_some
        return dropped

    def forward(
        self, x: torch.Tensor, subject_ids: torch.Tensor, positions: torch.Tensor | None
    ) -> torch.Tensor:
        if positions is None:
            raise ValueError("ChannelMerger needs 'channel_positions' in the batch")
        positions = positions.to(x.dtype)
        valid = ~(positions == self.config.invalid_value).all(dim=-1)  # (B, C)
        blocked = ~valid
        if self.training and self.config.dropout > 0:
            blocked = blocked | self._dropout_mask(positions, valid)
        if self.config.per_subject:
            heads = self.heads[subject_ids.long()]  # (B, O, E)
        else:
            heads = self.heads.expand(x.shape[0], -1, -1)
        scores = torch.einsum("bce,boe->boc", self._embed(positions), heads)
        scores = scores.masked_fill(blocked[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if self.config.usage_penalty > 0:
            usage = weights.mean(dim=(0, 1))  # (C,), sums to 1
            self.penalty = self.config.usage_penalty * usage.square().sum()
        if self.config.unmerge:
            self.last_weights = weights
        return torch.einsum("bct,boc->bot", x, weights)

    def unmerge(self, y: torch.Tensor) -> torch.Tensor:
        """Map ``(B, n_virtual_channels, T')`` back to the input channels of the last forward."""
        if self.last_weights is None:
            raise RuntimeError("unmerge needs ChannelMerger(unmerge=True) and a forward pass first")
        return torch.einsum("bot,boc->bct", y, self.last_weights)
