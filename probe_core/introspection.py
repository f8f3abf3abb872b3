"""Model-agnostic facts about a backbone: its repeated blocks and its parameter counts.

Freeze strategies ("unfreeze the last k blocks") are written once against these, instead of
once per model family.
"""

from collections import defaultdict
from dataclasses import dataclass

from torch import nn

HEAD_NAMES = ("final_layer",)
"""Top-level names of classification heads (braindecode's convention); never counted as blocks."""


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _is_head(name: str) -> bool:
    return name.split(".")[0] in HEAD_NAMES


def discover_blocks(model: nn.Module) -> list[str]:
    """Ordered names of the backbone's repeated blocks (transformer layers, conv stages).

    The blocks are the largest (by parameters) group of two or more submodules of one class,
    themselves made of submodules, that are siblings in a ``ModuleList`` or ``Sequential``:
    ``blocks.0 … blocks.11`` for Labram, ``encoder.layers.*`` for CBraMod. A model without such
    repetition (EEGNet, ShallowFBCSPNet, Deep4Net) falls back to its top-level stages that hold
    weight matrices or kernels (norm layers have only 1-D parameters and belong to the stage
    before them). The head is excluded.

    "The last k blocks" then means every parameter registered from ``blocks[-k]`` onwards.
    """
    best: list[str] = []
    best_size = 0
    for parent_name, parent in model.named_modules():
        if _is_head(parent_name) or not isinstance(parent, nn.ModuleList | nn.Sequential):
            continue
        siblings: dict[type, list[tuple[str, nn.Module]]] = defaultdict(list)
        for child_name, child in parent.named_children():
            full_name = f"{parent_name}.{child_name}" if parent_name else child_name
            if _is_head(full_name) or not any(True for _ in child.children()):
                continue
            if _n_params(child):
                siblings[type(child)].append((full_name, child))
        for group in siblings.values():
            size = sum(_n_params(child) for _, child in group)
            if len(group) >= 2 and size > best_size:
                best, best_size = [name for name, _ in group], size
    if best:
        return best
    return [
        name
        for name, child in model.named_children()
        if not _is_head(name) and any(p.ndim >= 2 for p in child.parameters())
    ]


def token_layer(model: nn.Module) -> str:
    """The module whose output is the backbone's last token sequence: its last block, or the
    nearest enclosing module that is called (a ``ModuleList`` is a container, never called)."""
    blocks = discover_blocks(model)
    if not blocks:
        raise ValueError(f"{type(model).__name__} has no blocks to take tokens from")
    name = blocks[-1]
    while isinstance(model.get_submodule(name), nn.ModuleList | nn.ModuleDict):
        name = name.rpartition(".")[0]
    return name


@dataclass(frozen=True)
class ParameterSummary:
    total: int
    trainable: int

    @property
    def trainable_fraction(self) -> float:
        return self.trainable / self.total if self.total else 0.0


def parameter_summary(model: nn.Module) -> ParameterSummary:
    """Total and trainable (``requires_grad``) parameter counts."""
    params = list(model.parameters())
    return ParameterSummary(
        total=sum(p.numel() for p in params),
        trainable=sum(p.numel() for p in params if p.requires_grad),
    )


def attention_projections(model: nn.Module) -> list[str]:
    """Names of the query/key/value/output projections of a model's attention layers.

    An attention layer is a ``nn.MultiheadAttention`` (its fused ``in_proj`` and ``out_proj``
    count as one projection module) or a module whose class name contains "attention" and that
    owns linear layers directly (``qkv``/``proj`` in Labram, ``to_q``… in BIOT, ``keys``… in
    EEGConformer). Blocks that merely contain attention layers are not attention layers.
    """
    names: list[str] = []
    for name, module in model.named_modules():
        if _is_head(name):
            continue
        if isinstance(module, nn.MultiheadAttention):
            names.append(name)
        elif "attention" in type(module).__name__.lower() and not any(
            name.startswith(f"{seen}.") for seen in names
        ):
            names.extend(
                f"{name}.{child_name}"
                for child_name, child in module.named_children()
                if isinstance(child, nn.Linear)
            )
    return names
