"""Attentive pooling: a learned query attends over the backbone's tokens.

Recent foundation-model evaluations (V-JEPA, EEG benchmarks) probe frozen encoders this way
instead of mean or flatten pooling: the probe chooses which tokens matter.
"""

import torch
from torch import nn


def _n_heads(dim: int) -> int:
    return next(h for h in (8, 4, 2, 1) if dim % h == 0)


class AttentivePooling(nn.Module):
    """``(B, N, D)`` or ``(B, C, P, D)`` tokens -> ``(B, D)``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.query = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.query, std=0.02)
        self.attention = nn.MultiheadAttention(dim, _n_heads(dim), batch_first=True)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = self.norm(tokens.flatten(1, -2))
        query = self.query.expand(tokens.shape[0], -1, -1)
        pooled: torch.Tensor
        pooled, _ = self.attention(query, tokens, tokens, need_weights=False)
        return pooled[:, 0]
