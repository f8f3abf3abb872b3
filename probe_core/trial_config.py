"""TrialConfig: one complete, validated, serialisable description of a trial.

A trial is reproducible from its TrialConfig alone (``probe-sweep train trial.yaml``).
"""

from pathlib import Path
from typing import Literal

import pydantic
import yaml

from probe_core.backbones import BackboneConfig
from probe_core.data_sources import DataConfig
from probe_core.metrics import MetricName
from probe_core.splits import SplitConfig
from probe_core.strategies import FreezeStrategy, LinearProbe
from probe_core.wrapper import DownstreamWrapper


class _Config(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class OptimizerConfig(_Config):
    """AdamW. Weight decay applies to weight matrices and kernels, not to biases and norms."""

    lr: pydantic.PositiveFloat = 1e-3
    weight_decay: pydantic.NonNegativeFloat = 0.01
    betas: tuple[float, float] = (0.9, 0.999)


class ScheduleConfig(_Config):
    """Per-step learning-rate schedule: linear warm-up over ``warmup_epochs``, then constant or
    cosine decay to zero; ``onecycle`` is PyTorch's OneCycleLR (its warm-up is
    ``warmup_epochs / max_epochs`` of the run, 0.3 when unset)."""

    kind: Literal["constant", "cosine", "onecycle"] = "cosine"
    warmup_epochs: pydantic.NonNegativeFloat = 0.0


class TrainingConfig(_Config):
    batch_size: pydantic.PositiveInt = 64
    eval_batch_size: pydantic.PositiveInt = 512
    max_epochs: pydantic.PositiveInt = 20
    patience: pydantic.PositiveInt | None = None
    """Stop after this many epochs without improvement of the validation metric."""
    grad_clip: pydantic.PositiveFloat | None = 1.0
    class_weights: bool = False
    """Weight the loss by inverse class frequency in the training split."""
    metric: MetricName = "balanced_accuracy"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """``auto``: bf16 autocast on CUDA, fp32 on CPU."""


class TrialConfig(_Config):
    backbone: BackboneConfig
    data: DataConfig | None = None
    split: SplitConfig = SplitConfig()
    wrapper: DownstreamWrapper = DownstreamWrapper()
    strategy: FreezeStrategy = LinearProbe()
    optimizer: OptimizerConfig = OptimizerConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    training: TrainingConfig = TrainingConfig()
    seed: int = 0

    @pydantic.model_validator(mode="after")
    def _freezing_belongs_to_the_strategy(self) -> "TrialConfig":
        if self.wrapper.layers_to_freeze is not None or self.wrapper.layers_to_unfreeze is not None:
            raise ValueError(
                "wrapper.layers_to_freeze/layers_to_unfreeze: set freezing through the strategy "
                "(kind: layers) so that it is searched and logged as one"
            )
        return self

    def to_yaml(self) -> str:
        text: str = yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
        return text

    @classmethod
    def from_yaml(cls, text: str) -> "TrialConfig":
        return cls.model_validate(yaml.safe_load(text))

    @classmethod
    def load(cls, path: Path) -> "TrialConfig":
        return cls.from_yaml(Path(path).read_text())
