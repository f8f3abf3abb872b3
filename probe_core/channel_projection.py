"""Pointwise (1×1 conv) channel adapter: a learned mixing matrix from the data's channels to the
channels a pretrained model expects. Unlike ``ChannelMerger`` it ignores positions."""

import logging
from typing import Literal

import pydantic
import torch
from torch import nn

LOGGER = logging.getLogger(__name__)


class ChannelProjection(pydantic.BaseModel):
    """Configuration of a ``Conv1d(kernel_size=1)`` from ``n_in`` to ``n_target_channels``.

    - ``max_norm``: max-norm constraint on each output row (braindecode's
      ``Conv1dWithConstraint``); ``None`` disables it.
    - ``init="random"``: PyTorch's Kaiming-uniform default.
    - ``init="identity"``: each target row is one-hot on the input channel of the same name
      (case-insensitive, after ``rename_mapping``), rows of missing targets are zero, bias zero: at
      step 0 the adapter passes matching channels through and zero-pads the rest, like the
      zero-fill channel remapping it replaces.
    - ``init="bipolar"``: targets are ``"A-B"`` derivations (or unipolar ``"A"``); +1/-1 is ADDED
      on top of the Kaiming init, bias zero. Additive, not overwriting: rows whose pair is
      (partly) missing keep the small random baseline. For models whose first op is ``|STFT|``
      (BIOT) an all-zero row gives a zero output whose gradient through ``abs`` is zero, so the
      row could never learn.

    ``identity`` and ``bipolar`` need ``target_channel_names`` (in the model's order) here, and
    the input channel names at build time.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    n_target_channels: pydantic.PositiveInt
    max_norm: pydantic.PositiveFloat | None = 1.0
    init: Literal["random", "identity", "bipolar"] = "random"
    target_channel_names: list[str] | None = None
    rename_mapping: dict[str, str] | None = None

    @pydantic.model_validator(mode="after")
    def _names_for_named_inits(self) -> "ChannelProjection":
        if self.init in ("identity", "bipolar"):
            if self.target_channel_names is None:
                raise ValueError(f"init={self.init!r} requires target_channel_names to be set.")
            if len(self.target_channel_names) != self.n_target_channels:
                raise ValueError(
                    f"target_channel_names has length {len(self.target_channel_names)} "
                    f"but n_target_channels is {self.n_target_channels}."
                )
        return self

    def build(self, n_in_channels: int, input_channel_names: list[str] | None = None) -> nn.Conv1d:
        if self.max_norm is not None:
            from braindecode.modules import Conv1dWithConstraint

            conv: nn.Conv1d = Conv1dWithConstraint(
                n_in_channels, self.n_target_channels, kernel_size=1, max_norm=self.max_norm
            )
        else:
            conv = nn.Conv1d(n_in_channels, self.n_target_channels, kernel_size=1)
        if self.init == "random":
            return conv
        canonical = self._canonical_inputs(conv, input_channel_names)
        with torch.no_grad():
            weight = raw_conv_weight(conv)
            if self.init == "identity":
                weight.copy_(self._identity_pattern(canonical, input_channel_names).unsqueeze(-1))
            else:  # additive on the Kaiming-uniform init nn.Conv1d already applied
                weight.add_(self._bipolar_pattern(canonical).unsqueeze(-1))
            if conv.bias is not None:
                conv.bias.zero_()
        return conv

    def _canonical_inputs(
        self, conv: nn.Conv1d, input_channel_names: list[str] | None
    ) -> list[str]:
        if input_channel_names is None:
            raise ValueError(
                f"init={self.init!r} requires input_channel_names at build time; "
                "the calling DownstreamWrapper must forward them."
            )
        n_in = conv.weight.shape[1]
        if len(input_channel_names) != n_in:
            raise ValueError(
                f"input_channel_names has length {len(input_channel_names)} "
                f"but conv expects {n_in} input channels."
            )
        rename = self.rename_mapping or {}
        return [rename.get(name, name).upper() for name in input_channel_names]

    def _identity_pattern(
        self, canonical: list[str], input_names: list[str] | None
    ) -> torch.Tensor:
        """``(n_target, n_in)`` one-hot rows; an input matching an already covered target adds."""
        assert self.target_channel_names is not None and input_names is not None
        target_index: dict[str, int] = {}
        for position, name in enumerate(self.target_channel_names):
            target_index.setdefault(name.upper(), position)
        pattern = torch.zeros(self.n_target_channels, len(canonical))
        covered: set[int] = set()
        for j, name in enumerate(canonical):
            i = target_index.get(name)
            if i is None:
                continue
            if i in covered:
                LOGGER.warning(
                    "ChannelProjection identity init: target channel %r is already covered by "
                    "another input; input %r (%r) contributes additively.",
                    self.target_channel_names[i],
                    input_names[j],
                    name,
                )
            pattern[i, j] = 1.0
            covered.add(i)
        missing = [n for i, n in enumerate(self.target_channel_names) if i not in covered]
        LOGGER.info(
            "ChannelProjection identity init: %d/%d target channels covered (missing: %s); "
            "%d/%d input channels contribute.",
            len(covered),
            self.n_target_channels,
            missing or "none",
            sum(name in target_index for name in canonical),
            len(canonical),
        )
        return pattern

    def _bipolar_pattern(self, canonical: list[str]) -> torch.Tensor:
        """``(n_target, n_in)`` +1/-1 rows for fully covered derivations, zero elsewhere."""
        assert self.target_channel_names is not None
        input_index: dict[str, int] = {}
        for j, name in enumerate(canonical):
            input_index.setdefault(name, j)
        pattern = torch.zeros(self.n_target_channels, len(canonical))
        covered: list[str] = []
        partial: list[str] = []
        missing: list[str] = []
        for i, target in enumerate(self.target_channel_names):
            positive, _, negative = target.partition("-")
            pos = input_index.get(positive.upper())
            neg = input_index.get(negative.upper()) if negative else None
            if pos is not None and (neg is not None or not negative):
                pattern[i, pos] = 1.0
                if neg is not None:
                    pattern[i, neg] = -1.0
                covered.append(target)
            elif pos is not None or neg is not None:
                partial.append(target)
            else:
                missing.append(target)
        LOGGER.info(
            "ChannelProjection bipolar init: %d/%d fully covered (+1/-1 added over Kaiming "
            "baseline), %d partial and %d missing (kept at the Kaiming baseline so they can still "
            "learn). Covered: %s. Partial: %s. Missing: %s.",
            len(covered),
            self.n_target_channels,
            len(partial),
            len(missing),
            covered or "none",
            partial or "none",
            missing or "none",
        )
        return pattern


def raw_conv_weight(conv: nn.Conv1d) -> torch.Tensor:
    """The trainable tensor behind ``conv.weight``.

    Under a ``torch.nn.utils.parametrize`` parametrization (``Conv1dWithConstraint``'s max-norm),
    ``conv.weight`` is a computed view that rejects writes; initialisation must write the raw
    ``original`` tensor instead.
    """
    parametrizations = getattr(conv, "parametrizations", None)
    if parametrizations is not None and "weight" in parametrizations:
        original: torch.Tensor = parametrizations["weight"].original
        return original
    return conv.weight
