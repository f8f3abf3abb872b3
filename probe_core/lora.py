"""Low-rank adaptation (LoRA) of any weight of any module, as a PyTorch parametrization.

We do not use ``peft``: it needs ``transformers`` (seconds more import per trial process) and
adapts ``nn.MultiheadAttention`` only experimentally, while braindecode models use fused MHA
(CBraMod, SignalJEPA, ATCNet) next to custom attention modules (Labram, BIOT, EEGConformer). A
parametrization replaces the weight itself by ``W + (alpha / rank) · B A``, so it works whether
the module calls its own forward or reads ``.weight`` directly (as MHA does with ``out_proj``),
and the frozen base weight stays untouched in ``parametrizations.<name>.original``.
"""

import math

import torch
from torch import nn
from torch.nn.utils import parametrize

from probe_core.errors import StrategyError


class LowRankDelta(nn.Module):
    """``W -> W + scaling · B A``, ``B`` zero-initialised so training starts from ``W``.

    ``dropout`` drops entries of ``A`` during training (DropConnect on the adapter): a
    parametrization sees the weight, not the layer's input, so input dropout is not available.
    """

    def __init__(self, shape: torch.Size, rank: int, alpha: float, dropout: float) -> None:
        super().__init__()
        out_features, in_features = shape[0], math.prod(shape[1:])
        self.lora_A = nn.Parameter(torch.empty(rank, in_features))
        self.lora_B = nn.Parameter(torch.zeros(out_features, rank))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scaling = alpha / rank
        self.dropout = nn.Dropout(dropout)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        delta: torch.Tensor = self.lora_B @ self.dropout(self.lora_A)
        return weight + self.scaling * delta.view_as(weight)


def _weight_names(module: nn.Module) -> list[tuple[nn.Module, str]]:
    """The (owner, parameter name) pairs LoRA adapts in a target module."""
    if isinstance(module, nn.MultiheadAttention):
        names = (
            ["in_proj_weight"]
            if module.in_proj_weight is not None
            else ["q_proj_weight", "k_proj_weight", "v_proj_weight"]
        )
        return [(module, name) for name in names] + [(module.out_proj, "weight")]
    weight = getattr(module, "weight", None)
    if isinstance(weight, nn.Parameter) and weight.ndim >= 2:
        return [(module, "weight")]
    return []


def inject_lora(
    model: nn.Module, targets: list[str], rank: int, alpha: float, dropout: float = 0.0
) -> list[str]:
    """Freeze ``model`` and add trainable low-rank updates to the modules named by ``targets``
    (exact names, or name suffixes such as ``"qkv"``). Returns the adapted module names."""
    for param in model.parameters():
        param.requires_grad = False
    adapted = []
    for name, module in list(model.named_modules()):
        if not any(name == t or name.endswith(f".{t}") for t in targets):
            continue
        weights = _weight_names(module)
        for owner, weight_name in weights:
            shape = getattr(owner, weight_name).shape
            parametrize.register_parametrization(
                owner, weight_name, LowRankDelta(shape, rank, alpha, dropout)
            )
        if weights:
            adapted.append(name)
    if not adapted:
        raise StrategyError(
            f"strategy.targets: no module of {type(model).__name__} matches {targets}"
        )
    return adapted
