"""Model-agnostic facts about a backbone: its repeated blocks, attention layers, token output
and parameter counts.

Freeze strategies ("unfreeze the last k blocks") and search spaces are written once against
these, instead of once per model family.
"""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

import torch
from torch import nn

HEAD_NAMES = ("final_layer",)
"""Top-level names of classification heads (braindecode's convention); never counted as blocks."""


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _is_head(name: str) -> bool:
    return name.split(".")[0] in HEAD_NAMES


def _counts(name: str, used: Collection[str] | None) -> bool:
    return not _is_head(name) and (used is None or name in used)


def discover_blocks(model: nn.Module, used: Collection[str] | None = None) -> list[str]:
    """Ordered names of the backbone's repeated blocks (transformer layers, conv stages).

    The blocks are the largest (by parameters) group of two or more submodules of one class (or
    the single layer of a one-layer stack), themselves made of submodules, that are siblings in a
    ``ModuleList`` or ``Sequential``: ``blocks.0 … blocks.11`` for Labram, ``encoder.layers.*``
    for CBraMod. A model without such repetition (EEGNet, ShallowFBCSPNet, Deep4Net) falls back
    to its top-level stages that hold weight matrices or kernels (norm layers have only 1-D
    parameters and belong to the stage before them). The head is excluded, and so are modules
    outside ``used`` (the names that run in a forward pass, see ``inspect_backbone``): SignalJEPA
    carries a decoder its classifier never calls.

    "The last k blocks" then means every parameter registered from ``blocks[-k]`` onwards.
    """
    best: list[str] = []
    best_size = 0
    for parent_name, parent in model.named_modules():
        if _is_head(parent_name) or not isinstance(parent, nn.ModuleList | nn.Sequential):
            continue
        children = list(parent.named_children())
        siblings: dict[type, list[str]] = defaultdict(list)
        for child_name, child in children:
            name = f"{parent_name}.{child_name}".lstrip(".")
            if _counts(name, used) and any(True for _ in child.children()) and _n_params(child):
                siblings[type(child)].append(name)
        for names in siblings.values():
            # a stack of one layer still counts when it is all the container holds
            if len(names) < 2 and len(names) != len(children):
                continue
            size = sum(_n_params(model.get_submodule(name)) for name in names)
            if size > best_size:  # ties: the outer container, met first, wins
                best, best_size = names, size
    if best:
        return best
    return [
        name
        for name, child in model.named_children()
        if _counts(name, used) and any(p.ndim >= 2 for p in child.parameters())
    ]


def attention_projections(model: nn.Module, used: Collection[str] | None = None) -> list[str]:
    """Names of the query/key/value/output projections of a model's attention layers.

    An attention layer is a ``nn.MultiheadAttention`` (its fused ``in_proj`` and ``out_proj``
    count as one projection module) or a module whose class name contains "attention" and that
    owns linear layers directly (``qkv``/``proj`` in Labram, ``to_q``… in BIOT, ``keys``… in
    EEGConformer). Blocks that merely contain attention layers are not attention layers.
    """
    names: list[str] = []
    for name, module in model.named_modules():
        if not _counts(name, used):
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


def token_layer(model: nn.Module, blocks: list[str]) -> str | None:
    """The module whose output is the backbone's last token sequence: its last block, or the
    nearest enclosing module that is called (a ``ModuleList`` is a container, never called)."""
    if not blocks:
        return None
    name = blocks[-1]
    while isinstance(model.get_submodule(name), nn.ModuleList | nn.ModuleDict):
        name = name.rpartition(".")[0]
    return name


@torch.no_grad()
def _dry_run(model: nn.Module, *args: object, **kwargs: object) -> tuple[set[str], object]:
    """The output of ``model(*args, **kwargs)`` in eval mode, and the names of the submodules
    that ran (with their containers: a ``ModuleList`` is never called itself)."""
    ran: set[str] = set()
    handles = [
        module.register_forward_hook(lambda *_, name=name: ran.add(name))
        for name, module in model.named_modules()
    ]
    was_training = model.training
    try:
        model.eval()
        output = model(*args, **kwargs)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    for name in list(ran):
        parts = name.split(".")
        ran.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return ran, output


@dataclass(frozen=True)
class BackboneFacts:
    """What strategies and search spaces need to know about a backbone, from one dry run."""

    blocks: list[str]
    attention: list[str]
    token_layer: str | None
    output_shape: tuple[int, ...]  # of the backbone's own output, without the batch axis
    temporal_kernel: int | None = None
    """The samples the first convolution the input meets spans (its longest kernel axis: a
    first convolution runs along time), None without one."""

    @property
    def has_attention(self) -> bool:
        return bool(self.attention)

    @property
    def has_tokens(self) -> bool:
        """Whether the output is a transformer's token embeddings, (tokens, features) or
        (channels, patches, features): a convolutional network's feature maps are not, and
        pooling them as tokens would read their last axis (often of size 1) as the features."""
        return self.has_attention and len(self.output_shape) >= 2


def inspect_backbone(model: nn.Module, *args: object, **kwargs: object) -> BackboneFacts:
    """Facts about ``model`` from a dry run on an example input (as the model is called)."""
    used, output = _dry_run(model, *args, **kwargs)
    blocks = discover_blocks(model, used)
    shape = tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else ()
    return BackboneFacts(
        blocks=blocks,
        attention=attention_projections(model, used),
        token_layer=token_layer(model, blocks),
        output_shape=shape,
        temporal_kernel=first_kernel(model, used),
    )


def first_kernel(model: nn.Module, used: set[str]) -> int | None:
    """The longest kernel axis of the first convolution that runs (``inspect_backbone``), else
    of the first one declared: ShallowFBCSPNet merges its temporal and spatial convolutions'
    weights and convolves with them, never calling either module."""
    convolutions = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d)
    ]
    ran = [module for name, module in convolutions if name in used]
    candidates = ran or [module for _, module in convolutions]
    return max(candidates[0].kernel_size) if candidates else None


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
