"""Model assembly: a trial's backbone, inspected on the data, wrapped and prepared by its
strategy; and the extra inputs (channel positions, names, subjects) the model is called with.

Shared by the training loop and by search spaces, which inspect the backbone once per sweep.
"""

import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from probe_core.backbone_profiles import made_for
from probe_core.channel_merger import ChannelMerger
from probe_core.dataset import EEGDataset
from probe_core.errors import ConfigError
from probe_core.introspection import BackboneFacts, inspect_backbone
from probe_core.trial_config import TrialConfig
from probe_core.wrapper import DownstreamWrapperModel, accepted_keywords


def model_inputs(config: TrialConfig, data: EEGDataset, device: torch.device) -> dict[str, Any]:
    """Keyword inputs besides the signal: what the adapter or the backbone may need."""
    extras: dict[str, Any] = {}
    if isinstance(config.wrapper.channel_adapter_config, ChannelMerger):
        positions = torch.from_numpy(data.normalised_positions()).to(device)
        extras["channel_positions"] = positions
    elif config.wrapper.channel_adapter_config is None:
        extras["ch_names"] = data.ch_names  # Labram-style models map channels by name
    return extras


def batch_extras(
    extras: dict[str, Any], subjects: torch.Tensor, index: torch.Tensor | slice
) -> dict[str, Any]:
    """The extra inputs for the examples at ``index``: subject ids are gathered only for the
    channel merger (on a GPU each gather is a kernel)."""
    if "channel_positions" not in extras:
        return extras
    batch_subjects = subjects[index]
    positions = extras["channel_positions"].expand(len(batch_subjects), -1, -1)
    return {"channel_positions": positions, "subject_ids": batch_subjects}


def example_batch(config: TrialConfig, data: EEGDataset, n: int = 8) -> dict[str, Any]:
    """A few examples as the wrapper is called: the signal ``x`` and the extra inputs."""
    n = min(len(data.y), n)
    extras = model_inputs(config, data, torch.device("cpu"))
    x = shared_tensor(data.X[:n])
    return {"x": x, **batch_extras(extras, torch.from_numpy(data.subjects), slice(0, n))}


def backbone_with_facts(
    config: TrialConfig, data: EEGDataset, pretrained: bool = True
) -> tuple[nn.Module, BackboneFacts]:
    """The backbone for ``data`` and its facts from a dry run (as the wrapper will call it)."""
    n_chans = config.wrapper.n_adapter_target_channels
    backbone = config.backbone.build(
        data,
        n_outputs=data.n_classes,
        n_chans=n_chans,
        pretrained=pretrained and config.strategy.uses_pretrained,
    )
    batch = example_batch(config, data)
    x = batch["x"] if n_chans is None else torch.zeros(len(batch["x"]), n_chans, data.n_times)
    accepted = accepted_keywords(backbone)
    names = {k: v for k, v in batch.items() if k == "ch_names"}
    names = {k: v for k, v in names.items() if accepted is None or k in accepted}
    try:
        return backbone, inspect_backbone(backbone, x, **names)
    except (RuntimeError, ValueError, TypeError, IndexError) as error:  # einops' too
        shape = f"{x.shape[1]} channels × {x.shape[2]} samples at {data.sfreq:g} Hz"
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise ConfigError(
            f"backbone {config.backbone.name}: cannot read {shape} ({first_line})"
            + made_for(config.backbone.name)
        ) from None


def build_model(
    config: TrialConfig, data: EEGDataset
) -> tuple[DownstreamWrapperModel, BackboneFacts]:
    """The wrapped, strategy-prepared model for ``data`` (on the CPU), and its backbone's facts."""
    backbone, facts = backbone_with_facts(config, data)
    wrapper = config.strategy.configure_wrapper(config.wrapper, facts)
    model = wrapper.build(backbone, example_batch(config, data), data.n_classes, data.ch_names)
    config.strategy.prepare(model, facts)
    return model, facts


def shared_tensor(array: np.ndarray) -> torch.Tensor:
    """A tensor over ``array`` without a copy, also when it is read-only (Ray's object store
    hands out read-only arrays; training only reads them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(np.ascontiguousarray(array))
