"""The downstream wrapper: any backbone becomes a classifier.

Pipeline: on-the-fly preprocessing → channel adapter → backbone → output selection (dict key,
tuple index or an intermediate layer) → aggregation → probe.
"""

import inspect
from collections.abc import Mapping
from typing import Literal, cast

import pydantic
import torch
from torch import nn

from probe_core.aggregation import ConcatGroupedMean, IndexSelect, Mean
from probe_core.attentive_pooling import AttentivePooling
from probe_core.channel_merger import ChannelMerger
from probe_core.channel_projection import ChannelProjection
from probe_core.errors import ConfigError
from probe_core.freezing import apply_freeze
from probe_core.layer_tap import LayerTap
from probe_core.mlp import Mlp
from probe_core.preprocessor import OnTheFlyPreprocessor

Aggregation = Literal["flatten", "mean", "first", "attentive"] | int | None
ProbeConfig = Mlp | Literal["linear"] | None


class DownstreamWrapper(pydantic.BaseModel):
    """How to adapt a (pretrained) backbone to a downstream task.

    - ``on_the_fly_preprocessor``: model-specific scaling applied inside the wrapper.
    - ``channel_adapter_config``: ``ChannelMerger`` (position-based attention) or
      ``ChannelProjection`` (1×1 conv) from the data's channels to the model's.
    - ``model_output_key``: dict key or tuple index of the backbone output to use; ``None`` when
      the backbone returns a tensor.
    - ``probe_layer``: dotted name of a submodule whose output is probed instead (exclusive with
      ``model_output_key``); ``probe_batch_dim`` names its batch axis when it is not first.
    - ``layers_to_freeze`` / ``layers_to_unfreeze`` (exclusive; or ``"last"``): layer-name
      patterns, matched on the first name component with ``strict_matching``, as substrings
      without. The adapter and probe always train.
    - ``aggregation``: ``"flatten"`` all but the batch axis; ``"mean"`` over tokens (and
      channels for a 4-D output); ``"first"`` token; an int n: means of n token groups,
      concatenated; ``"attentive"``: a learned query attends over the tokens (trainable, like
      the probe); ``None``: as is.
    - ``probe_config``: ``"linear"``, an ``Mlp``, or ``None`` (identity, when the backbone already
      ends in a layer of the right size).
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    on_the_fly_preprocessor: OnTheFlyPreprocessor | None = None
    channel_adapter_config: ChannelMerger | ChannelProjection | None = None
    model_output_key: str | int | None = None
    probe_layer: str | None = None
    probe_batch_dim: int | None = None
    layers_to_freeze: list[str] | None = None
    layers_to_unfreeze: list[str] | Literal["last"] | None = None
    strict_matching: bool = True
    aggregation: Aggregation = "flatten"
    probe_config: ProbeConfig = "linear"

    @pydantic.model_validator(mode="after")
    def _exclusive_fields(self) -> "DownstreamWrapper":
        if self.layers_to_freeze is not None and self.layers_to_unfreeze is not None:
            raise ValueError(
                "Only one of layers_to_freeze and layers_to_unfreeze can be specified at once."
            )
        if self.probe_layer is not None and self.model_output_key is not None:
            raise ValueError("Only one of probe_layer and model_output_key can be specified.")
        if self.probe_batch_dim is not None and self.probe_layer is None:
            raise ValueError("probe_batch_dim only applies together with probe_layer.")
        return self

    @property
    def n_adapter_target_channels(self) -> int | None:
        """Channel count the adapter produces, or ``None`` without an adapter."""
        adapter = self.channel_adapter_config
        if adapter is None:
            return None
        if isinstance(adapter, ChannelMerger):
            return adapter.n_virtual_channels
        return adapter.n_target_channels

    def build(
        self,
        model: nn.Module,
        dummy_batch: Mapping[str, torch.Tensor | None],
        n_outputs: int,
        input_channel_names: list[str] | None = None,
    ) -> "DownstreamWrapperModel":
        """Wrap ``model``; ``dummy_batch`` (keyword inputs, signal first) sizes the probe."""
        batch = {key: value for key, value in dummy_batch.items() if value is not None}
        x = next(iter(batch.values()))
        adapter: nn.Module | None = None
        if isinstance(self.channel_adapter_config, ChannelMerger):
            adapter = self.channel_adapter_config.build()
        elif self.channel_adapter_config is not None:
            adapter = self.channel_adapter_config.build(x.shape[1], input_channel_names)
        wrapper = DownstreamWrapperModel(
            model,
            model_output_key=self.model_output_key,
            preprocessor=(
                self.on_the_fly_preprocessor.build() if self.on_the_fly_preprocessor else None
            ),
            channel_adapter=adapter,
            adapter_needs_positions=isinstance(self.channel_adapter_config, ChannelMerger),
            probe_layer=self.probe_layer,
            probe_batch_dim=self.probe_batch_dim,
            layers_to_freeze=self.layers_to_freeze,
            layers_to_unfreeze=self.layers_to_unfreeze,
            strict_matching=self.strict_matching,
        )
        with _eval_mode(wrapper), torch.no_grad():
            features = wrapper.forward_features(**batch)
            wrapper.build_head(features.shape[1:], self.aggregation, self.probe_config, n_outputs)
            output = wrapper(**batch)
        if output.shape[-1] != n_outputs:
            raise ConfigError(
                f"wrapper output has {output.shape[-1]} features, expected n_outputs={n_outputs}; "
                "with probe_config=None the backbone itself must end in that size"
            )
        return wrapper


class _eval_mode:
    """Run a dry pass in eval mode (no dropout, no batch-norm statistic updates), then return the
    module to train mode, the state a freshly built model is trained from."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __enter__(self) -> None:
        self.module.eval()

    def __exit__(self, *exc: object) -> None:
        self.module.train()


class DownstreamWrapperModel(nn.Module):
    """Preprocessing → channel adapter → backbone → output selection → aggregation → probe.

    Built by ``DownstreamWrapper.build``, which sizes the aggregation and probe from a dry run.
    """

    def __init__(
        self,
        model: nn.Module,
        model_output_key: str | int | None = None,
        preprocessor: nn.Module | None = None,
        channel_adapter: nn.Module | None = None,
        adapter_needs_positions: bool = False,
        probe_layer: str | None = None,
        probe_batch_dim: int | None = None,
        layers_to_freeze: list[str] | None = None,
        layers_to_unfreeze: list[str] | Literal["last"] | None = None,
        strict_matching: bool = True,
    ) -> None:
        super().__init__()
        self.preprocessor = preprocessor
        self.channel_adapter = channel_adapter
        self.adapter_needs_positions = adapter_needs_positions
        self.wrapped_model = model
        self.model_output_key = model_output_key
        self.tap = (
            LayerTap(model, probe_layer, probe_batch_dim) if probe_layer is not None else None
        )
        self.aggregation: nn.Module = nn.Identity()
        self.probe: nn.Module = nn.Identity()
        self._inner_keywords = accepted_keywords(model)
        apply_freeze(model, layers_to_freeze, layers_to_unfreeze, strict_matching)

    def build_head(
        self,
        feature_shape: torch.Size,
        aggregation: Aggregation,
        probe_config: ProbeConfig,
        n_outputs: int,
    ) -> None:
        """Create the aggregation and probe for features of ``feature_shape`` (without batch)."""
        self.aggregation, n_features = make_aggregation(aggregation, feature_shape)
        if probe_config is None:
            self.probe = nn.Identity()
        elif probe_config == "linear":
            self.probe = nn.Linear(n_features, n_outputs)
        else:
            self.probe = probe_config.build(input_size=n_features, output_size=n_outputs)

    def forward_features(self, *args: torch.Tensor, **kwargs: torch.Tensor) -> torch.Tensor:
        """The selected backbone output, before aggregation.

        The signal is the first positional argument, or else the first keyword argument (under
        any name); it reaches the backbone positionally, as braindecode models name it
        differently (``input``, ``x``, ``X``). Other keywords reach it when its forward accepts
        them.
        """
        if args:
            x, rest = args[0], args[1:]
        else:
            signal_key = next(iter(kwargs))
            x, rest = kwargs[signal_key], ()
            kwargs = {k: v for k, v in kwargs.items() if k != signal_key}
        if self.preprocessor is not None:
            x, positions = self.preprocessor(x, kwargs.get("channel_positions"))
            if positions is not None and "channel_positions" in kwargs:
                kwargs = {**kwargs, "channel_positions": positions}
        if self.channel_adapter is not None:
            if self.adapter_needs_positions:
                subject_ids = kwargs.get("subject_ids")
                if subject_ids is None:
                    subject_ids = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
                x = self.channel_adapter(x, subject_ids, kwargs.get("channel_positions"))
            else:
                x = self.channel_adapter(x)
        if self._inner_keywords is not None:
            kwargs = {k: v for k, v in kwargs.items() if k in self._inner_keywords}
        if self.tap is not None:
            return self.tap(self.wrapped_model, x.shape[0], x, *rest, **kwargs)
        out = self.wrapped_model(x, *rest, **kwargs)
        if self.model_output_key is not None:
            out = out[self.model_output_key]
        return cast(torch.Tensor, out)

    def forward(
        self, *args: torch.Tensor, return_embedding: bool = False, **kwargs: torch.Tensor
    ) -> torch.Tensor:
        embedding: torch.Tensor = self.aggregation(self.forward_features(*args, **kwargs))
        return embedding if return_embedding else cast(torch.Tensor, self.probe(embedding))


def accepted_keywords(module: nn.Module) -> set[str] | None:
    """Names of the keyword arguments ``module.forward`` takes; ``None`` when it takes any.
    A model that maps any montage onto its own channels (braindecode's ``Interpolated*``) was
    given the data's channels when it was built, and takes none of the extra inputs: the
    data's channel names would not be its inputs' (LaBraM's 128 after the mapping)."""
    from braindecode.models.util import interpolated_models_dict

    if isinstance(module, tuple(interpolated_models_dict.values())):
        return set()
    parameters = inspect.signature(module.forward).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters}


def make_aggregation(aggregation: Aggregation, feature_shape: torch.Size) -> tuple[nn.Module, int]:
    """The aggregation module and the size of the feature vector it produces."""
    if aggregation is None:
        return nn.Identity(), feature_shape.numel()
    if aggregation == "flatten":
        return nn.Flatten(start_dim=1), feature_shape.numel()
    if aggregation == "mean":
        if len(feature_shape) not in (2, 3):
            raise ConfigError(
                "aggregation='mean' requires model output of 3D or 4D "
                f"(got brain_model_output_size={tuple(feature_shape)})"
            )
        dim = 1 if len(feature_shape) == 2 else (1, 2)
        return Mean(dim=dim), feature_shape[-1]
    if aggregation == "attentive":
        if len(feature_shape) not in (2, 3):
            raise ConfigError(
                "aggregation='attentive' requires tokens (batch, tokens, features) or "
                f"(batch, channels, patches, features), got {tuple(feature_shape)}"
            )
        return AttentivePooling(feature_shape[-1]), feature_shape[-1]
    if len(feature_shape) != 2:
        raise ConfigError(
            f"aggregation={aggregation!r} requires a 3D model output (batch, tokens, features), "
            f"got brain_model_output_size={tuple(feature_shape)}"
        )
    if aggregation == "first":
        return IndexSelect(dim=1, index=torch.LongTensor([0])), feature_shape[1]
    return ConcatGroupedMean(dim=1, n_splits=aggregation), aggregation * feature_shape[1]
