"""Small modules that reduce a backbone's output to one feature vector per example."""

import torch
from torch import nn


class IndexSelect(nn.Module):
    """Select indices along a dimension, squeezing that dimension when only one is selected."""

    def __init__(self, dim: int, index: torch.Tensor) -> None:
        super().__init__()
        self.dim = dim
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.index_select(x, dim=self.dim, index=self.index.to(x.device))
        return out.squeeze(self.dim) if len(self.index) == 1 else out


class Mean(nn.Module):
    """Average over one or more dimensions."""

    def __init__(self, dim: int | tuple[int, ...]) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=self.dim)


class ConcatGroupedMean(nn.Module):
    """Split ``dim`` into ``n_splits`` contiguous groups, average each, concatenate the means.

    A middle ground between ``mean`` (loses all temporal order) and ``flatten`` (keeps every
    token, so the probe grows with the sequence length).
    """

    def __init__(self, dim: int, n_splits: int) -> None:
        super().__init__()
        self.dim = dim
        self.n_splits = n_splits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        groups = torch.tensor_split(x, self.n_splits, dim=self.dim)
        return torch.cat([group.mean(dim=self.dim) for group in groups], dim=self.dim)
