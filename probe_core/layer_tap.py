"""Probe an intermediate layer: capture one submodule's output during the backbone's forward."""

import contextlib
from typing import Any

import torch
from torch import nn

from probe_core.errors import ConfigError


class _LayerReached(Exception):
    """Raised by the hook to stop the forward pass once the probed layer has run."""


class LayerTap:
    """A forward hook on ``model.<layer_name>`` that captures its output and stops the forward.

    Stopping right after the probed layer skips the layers above it, which cannot influence the
    probe anyway. The first call of the layer within a forward pass is the one captured.

    The captured tensor is returned batch-first: ``batch_dim`` names the batch axis explicitly;
    without it, a sequence-first output ``(T, B, D)`` (``nn.MultiheadAttention``-style layers) is
    detected from the batch size and moved.
    """

    def __init__(self, model: nn.Module, layer_name: str, batch_dim: int | None = None) -> None:
        try:
            module = model.get_submodule(layer_name)
        except AttributeError:
            raise ConfigError(
                f"probe_layer={layer_name!r} is not a submodule of {type(model).__name__}"
            ) from None
        self.layer_name = layer_name
        self.batch_dim = batch_dim
        self._captured: object = None
        self._active = False
        module.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, inputs: object, output: object) -> None:
        if self._active:  # calls of the backbone outside the tap run normally
            self._captured = output
            raise _LayerReached

    def __call__(
        self, model: nn.Module, batch_size: int, *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        self._captured = None
        self._active = True
        try:
            with contextlib.suppress(_LayerReached):
                model(*args, **kwargs)
        finally:
            self._active = False
        output, self._captured = self._captured, None
        if output is None:
            raise RuntimeError(f"probe_layer={self.layer_name!r} did not run in the forward pass")
        if not isinstance(output, torch.Tensor):
            raise ConfigError(
                f"probe_layer={self.layer_name!r} returns {type(output).__name__}, not a tensor; "
                "probe a submodule that returns one"
            )
        return self._batch_first(output, batch_size)

    def _batch_first(self, output: torch.Tensor, batch_size: int) -> torch.Tensor:
        if self.batch_dim is not None:
            output = output.movedim(self.batch_dim, 0)
        elif output.ndim >= 2 and output.shape[0] != batch_size and output.shape[1] == batch_size:
            output = output.movedim(1, 0)
        if output.shape[0] != batch_size:
            raise ConfigError(
                f"probe_layer={self.layer_name!r} returns shape {tuple(output.shape)} with no "
                f"batch axis of size {batch_size} (it may merge the batch with another axis); "
                "probe another layer or set probe_batch_dim"
            )
        return output
