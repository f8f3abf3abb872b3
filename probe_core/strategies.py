"""Freeze strategies: how much of a pretrained backbone adapts to the downstream task.

Each strategy is a config with a ``kind``, and everything about it is in its class: whether it
applies to a backbone (``applies_to``, the same rule its ``StrategyError`` enforces), whether it
is a probe of a frozen backbone (``is_probe``), and, applied to a built
``DownstreamWrapperModel``, which parameters train (``prepare``), their learning-rate scales
(``lr_scale``) and, for phased strategies, what changes at the start of an epoch
(``on_epoch_start``). All of them work on any braindecode backbone through the
``BackboneFacts`` of one dry run (its blocks, attention projections and token output).
The probe, attentive pooling and channel adapter always train.

A strategy is one subclass of ``Strategy`` that declares its ``kind``: defining it registers it
(``STRATEGIES``), and the trial config's union, the search spaces' choices and every list of
kinds follow (docs/ARCHITECTURE.md, "Adding a strategy").
"""

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union

import pydantic
from torch import nn

from probe_core.errors import StrategyError
from probe_core.freezing import apply_freeze
from probe_core.introspection import BackboneFacts
from probe_core.lora import inject_lora
from probe_core.mlp import ActivationName, Mlp, NormName
from probe_core.registry import Registry
from probe_core.wrapper import DownstreamWrapper, DownstreamWrapperModel

STRATEGIES: Registry[type["Strategy"]] = Registry("strategy")
"""Every strategy class by its ``kind``, in the order they were defined (the order spaces offer
them)."""


class Family(StrEnum):
    """The four kinds of answer a selection is between: a choice within a family matters less
    than the family (the selection benchmark asks a sweep to get the family right)."""

    PROBE = "probe"  # a head on a frozen backbone
    PARAMETER_EFFICIENT = "parameter-efficient"  # some of the backbone: LoRA, attention, blocks
    FULL = "full adaptation"  # the whole pretrained backbone: LP-FT, full fine-tune
    FROM_SCRATCH = "from scratch"  # the same network, its checkpoint unused


def _set_backbone_trainable(model: DownstreamWrapperModel, trainable: bool) -> None:
    for param in model.wrapped_model.parameters():
        param.requires_grad = trainable


def _backbone_name(model: DownstreamWrapperModel) -> str:
    return type(model.wrapped_model).__name__


class Strategy(pydantic.BaseModel):
    """The base of every freeze strategy: a subclass that declares ``kind: Literal["name"]``
    is registered under that name when it is defined. Its methods default to training
    everything at the base learning rate."""

    model_config = pydantic.ConfigDict(extra="forbid")

    if TYPE_CHECKING:  # for the type checker only: not a field of the base class
        kind: str  # each subclass declares it as Literal["name"]

    uses_pretrained: ClassVar[bool] = True
    """False for the from-scratch baseline: the checkpoint is not loaded."""
    is_probe: ClassVar[bool] = False
    """True for a frozen backbone read by a trained head: the head is what the strategy is."""
    searched: ClassVar[bool] = True
    """Whether the search spaces offer it (not a strategy that needs input only a user has)."""
    family: ClassVar[Family | None] = Family.FULL
    """Its family; None where its settings decide (the seed's layer rules)."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "kind" in cls.__dict__.get("__annotations__", {}):
            STRATEGIES.register(cls.model_fields["kind"].default, cls)

    @classmethod
    def applies_to(cls, facts: BackboneFacts) -> bool:
        """Whether the strategy, at its default settings, can adapt a backbone with ``facts``."""
        return True

    def configure_wrapper(
        self, wrapper: DownstreamWrapper, facts: BackboneFacts
    ) -> DownstreamWrapper:
        """The wrapper settings this strategy implies for ``backbone`` (probe, aggregation)."""
        return wrapper

    def prepare(self, model: DownstreamWrapperModel, facts: BackboneFacts) -> None:
        """Set which backbone parameters train; the default trains them all."""
        _set_backbone_trainable(model, True)

    def optimised_parameters(self, model: DownstreamWrapperModel) -> list[tuple[str, nn.Parameter]]:
        """Every parameter the optimiser holds, including ones that train only in a later phase."""
        return [(n, p) for n, p in model.named_parameters() if p.requires_grad]

    def lr_scale(self, model: DownstreamWrapperModel, name: str, facts: BackboneFacts) -> float:
        """Learning-rate factor of the parameter called ``name`` in ``model``."""
        return 1.0

    def on_epoch_start(self, model: DownstreamWrapperModel, epoch: int) -> None:
        """Change what trains at ``epoch`` (0-based); a function of the epoch alone, so that a
        resumed trial lands in the same phase."""


class _FrozenBackbone(Strategy):
    is_probe: ClassVar[bool] = True
    family: ClassVar[Family | None] = Family.PROBE

    def prepare(self, model: DownstreamWrapperModel, facts: BackboneFacts) -> None:
        _set_backbone_trainable(model, False)


class LinearProbe(_FrozenBackbone):
    """Frozen backbone, one linear layer; optionally a norm on the features first."""

    kind: Literal["linear_probe"] = "linear_probe"
    feature_norm: Literal["batch", "layer"] | None = None

    def configure_wrapper(
        self, wrapper: DownstreamWrapper, facts: BackboneFacts
    ) -> DownstreamWrapper:
        probe = Mlp(input_norm=self.feature_norm) if self.feature_norm else "linear"
        return wrapper.model_copy(update={"probe_config": probe})


class MlpProbe(_FrozenBackbone):
    """Frozen backbone, an MLP head."""

    kind: Literal["mlp_probe"] = "mlp_probe"
    hidden_sizes: list[pydantic.PositiveInt] = [128]
    dropout: float = pydantic.Field(0.1, ge=0.0, lt=1.0)
    activation: ActivationName = "gelu"
    feature_norm: NormName | None = "layer"

    def configure_wrapper(
        self, wrapper: DownstreamWrapper, facts: BackboneFacts
    ) -> DownstreamWrapper:
        probe = Mlp(
            input_norm=self.feature_norm,
            hidden_sizes=self.hidden_sizes,
            activation_layer=self.activation,
            dropout=self.dropout,
        )
        return wrapper.model_copy(update={"probe_config": probe})


class AttentiveProbe(_FrozenBackbone):
    """Frozen backbone; a learned query attends over its tokens, then a linear layer.

    The tokens are the backbone's output when it has a token axis (CBraMod, EEGPT, SignalJEPA);
    when the backbone pools them away before its head (Labram, BIOT), the output of its last
    block (``token_layer``). A ``probe_layer`` or ``model_output_key`` in the wrapper wins.
    """

    kind: Literal["attentive_probe"] = "attentive_probe"

    @classmethod
    def applies_to(cls, facts: BackboneFacts) -> bool:
        return facts.has_tokens or (facts.has_attention and facts.token_layer is not None)

    def configure_wrapper(
        self, wrapper: DownstreamWrapper, facts: BackboneFacts
    ) -> DownstreamWrapper:
        update: dict[str, Any] = {"aggregation": "attentive", "probe_config": "linear"}
        chosen = wrapper.probe_layer is not None or wrapper.model_output_key is not None
        if not facts.has_tokens and not chosen:
            if not self.applies_to(facts):
                raise StrategyError("strategy attentive_probe: the backbone has no token output")
            update["probe_layer"] = facts.token_layer
        return wrapper.model_copy(update=update)


class LastKBlocks(Strategy):
    """Train the last ``k`` blocks (and everything registered after them); freeze the rest."""

    kind: Literal["last_k_blocks"] = "last_k_blocks"
    family: ClassVar[Family | None] = Family.PARAMETER_EFFICIENT
    k: pydantic.PositiveInt = 1

    @classmethod
    def applies_to(cls, facts: BackboneFacts) -> bool:
        """With one block, its last k blocks are the whole network: a full fine-tune."""
        return len(facts.blocks) >= 2

    def prepare(self, model: DownstreamWrapperModel, facts: BackboneFacts) -> None:
        blocks = facts.blocks
        if not self.applies_to(facts):
            raise StrategyError(
                f"strategy last_k_blocks: {_backbone_name(model)} has {len(blocks)} "
                f"block{'s' * (len(blocks) != 1)}; its last blocks are the whole network: use "
                "full_finetune"
            )
        if self.k > len(blocks):
            raise StrategyError(
                f"strategy.k={self.k} exceeds the {len(blocks)} blocks of {_backbone_name(model)}"
            )
        first_trained = f"{blocks[-self.k]}."
        reached = False
        for name, param in model.wrapped_model.named_parameters():
            reached = reached or name.startswith(first_trained)
            param.requires_grad = reached


class AttentionOnly(Strategy):
    """Train only the attention projections (query, key, value, output)."""

    kind: Literal["attention_only"] = "attention_only"
    family: ClassVar[Family | None] = Family.PARAMETER_EFFICIENT

    @classmethod
    def applies_to(cls, facts: BackboneFacts) -> bool:
        return facts.has_attention

    def prepare(self, model: DownstreamWrapperModel, facts: BackboneFacts) -> None:
        if not self.applies_to(facts):
            raise StrategyError(
                f"strategy attention_only: {_backbone_name(model)} has no attention layers"
            )
        for name, param in model.wrapped_model.named_parameters():
            param.requires_grad = any(name.startswith(f"{p}.") for p in facts.attention)


class Lora(Strategy):
    """Frozen backbone plus trainable low-rank updates of the ``targets`` (default: the attention
    projections)."""

    kind: Literal["lora"] = "lora"
    family: ClassVar[Family | None] = Family.PARAMETER_EFFICIENT
    rank: pydantic.PositiveInt = 8
    alpha: pydantic.PositiveFloat = 16.0
    dropout: float = pydantic.Field(0.0, ge=0.0, lt=1.0)
    targets: list[str] | None = None

    @classmethod
    def applies_to(cls, facts: BackboneFacts) -> bool:
        """By default LoRA adapts the attention projections; ``targets`` name other layers."""
        return facts.has_attention

    def prepare(self, model: DownstreamWrapperModel, facts: BackboneFacts) -> None:
        targets = self.targets or facts.attention
        if not targets:
            raise StrategyError(
                f"strategy lora: {_backbone_name(model)} has no attention layers; "
                "name the layers to adapt in strategy.targets"
            )
        inject_lora(model.wrapped_model, targets, self.rank, self.alpha, self.dropout)


class LinearProbeThenFinetune(Strategy):
    """LP-FT (Kumar et al., 2022): train the probe on a frozen backbone for ``lp_epochs``, then
    everything, the backbone at ``ft_lr_scale`` times the learning rate. Starting the fine-tune
    from a trained probe keeps early gradients from distorting the pretrained features."""

    kind: Literal["lp_ft"] = "lp_ft"
    lp_epochs: pydantic.PositiveInt = 5
    ft_lr_scale: float = pydantic.Field(0.1, gt=0.0, le=1.0)

    def prepare(self, model: DownstreamWrapperModel, facts: BackboneFacts) -> None:
        _set_backbone_trainable(model, False)

    def optimised_parameters(self, model: DownstreamWrapperModel) -> list[tuple[str, nn.Parameter]]:
        return list(model.named_parameters())

    def lr_scale(self, model: DownstreamWrapperModel, name: str, facts: BackboneFacts) -> float:
        return self.ft_lr_scale if name.startswith("wrapped_model.") else 1.0

    def on_epoch_start(self, model: DownstreamWrapperModel, epoch: int) -> None:
        _set_backbone_trainable(model, epoch >= self.lp_epochs)


class FullFinetune(Strategy):
    """Train everything; with ``layer_decay`` d < 1, block i of L trains at d^(L - i) times the
    learning rate and the stem before the first block at d^(L + 1) (layer-wise decay)."""

    kind: Literal["full_finetune"] = "full_finetune"
    layer_decay: float | None = pydantic.Field(None, gt=0.0, le=1.0)

    def lr_scale(self, model: DownstreamWrapperModel, name: str, facts: BackboneFacts) -> float:
        if self.layer_decay is None or not name.startswith("wrapped_model."):
            return 1.0
        blocks = facts.blocks
        inner = name.removeprefix("wrapped_model.")
        depth = _depth(inner, blocks, [n for n, _ in model.wrapped_model.named_parameters()])
        return self.layer_decay ** (len(blocks) + 1 - depth)


def _depth(name: str, blocks: list[str], order: list[str]) -> int:
    """0 before the first block, i + 1 inside block i, len(blocks) + 1 after the last block."""
    for i, block in enumerate(blocks):
        if name.startswith(f"{block}."):
            return i + 1
    position = order.index(name)
    first_block = next((order.index(n) for n in order if n.startswith(f"{blocks[0]}.")), 0)
    return 0 if position < first_block else len(blocks) + 1


class FromScratch(Strategy):
    """Random initialisation, full training: the baseline that shows whether pretraining helps."""

    kind: Literal["from_scratch"] = "from_scratch"
    uses_pretrained: ClassVar[bool] = False
    family: ClassVar[Family | None] = Family.FROM_SCRATCH


class LayerPatterns(Strategy):
    """The seed's layer-name rules (``layers_to_freeze`` / ``layers_to_unfreeze`` / ``"last"``),
    for reproducing neuralbench's named presets."""

    kind: Literal["layers"] = "layers"
    family: ClassVar[Family | None] = None  # freezing all, the last layer or nothing
    searched: ClassVar[bool] = False  # layer names come from a user (see the ``preset`` space)
    layers_to_freeze: list[str] | None = None
    layers_to_unfreeze: list[str] | Literal["last"] | None = None
    strict_matching: bool = True

    @pydantic.model_validator(mode="after")
    def _one_list(self) -> "LayerPatterns":
        if (self.layers_to_freeze is None) == (self.layers_to_unfreeze is None):
            raise ValueError(
                "strategy layers: give exactly one of layers_to_freeze and layers_to_unfreeze"
            )
        return self

    def prepare(self, model: DownstreamWrapperModel, facts: BackboneFacts) -> None:
        apply_freeze(
            model.wrapped_model,
            self.layers_to_freeze,
            self.layers_to_unfreeze,
            self.strict_matching,
        )


if TYPE_CHECKING:
    FreezeStrategy = Strategy
else:  # the discriminated union of every registered strategy, for the trial config's field
    FreezeStrategy = Annotated[
        Union[tuple(STRATEGIES.values())],  # noqa: UP007 (a union built at run time)
        pydantic.Field(discriminator="kind"),
    ]

STRATEGIES.close(
    "the trial config's union of strategies is made when probe_core is imported; define "
    "strategies in probe_core/strategies.py"
)
