"""Make a backbone checkpoint by supervised pretraining on a source dataset.

The same training loop as a trial, with the backbone's own head and every weight trained; the
quickstart pretrains a small backbone on some synthetic subjects and probes it on others.
"""

from pathlib import Path
from typing import Any, cast

import pydantic

from probe_core.backbones import BackboneConfig, save_state_dict
from probe_core.data_sources import DataConfig
from probe_core.dataset import EEGDataset
from probe_core.preprocessor import OnTheFlyPreprocessor
from probe_core.splits import SplitConfig
from probe_core.strategies import FromScratch
from probe_core.training import TrialResult, train
from probe_core.trial_config import OptimizerConfig, ScheduleConfig, TrainingConfig, TrialConfig
from probe_core.wrapper import DownstreamWrapper


class PretrainConfig(pydantic.BaseModel):
    """``output``: a ``.safetensors`` or ``.pt`` state dict, or else a directory written with
    braindecode's ``save_pretrained`` (loadable with ``from_pretrained``).

    The signal is scaled as in a trial: ``data.unit`` / ``data.scaling``, then the
    ``on_the_fly_preprocessor`` (give the trials the same one, so that the backbone sees the
    signal it was pretrained on)."""

    model_config = pydantic.ConfigDict(extra="forbid")

    backbone: BackboneConfig
    data: DataConfig
    output: Path
    on_the_fly_preprocessor: OnTheFlyPreprocessor | None = None
    split: SplitConfig = SplitConfig(test_fraction=0.0)
    optimizer: OptimizerConfig = OptimizerConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    training: TrainingConfig = TrainingConfig()
    seed: int = 0

    def trial_config(self) -> TrialConfig:
        return TrialConfig(
            backbone=self.backbone.model_copy(update={"keep_head": True, "checkpoint": None}),
            data=self.data,
            split=self.split,
            wrapper=DownstreamWrapper(
                on_the_fly_preprocessor=self.on_the_fly_preprocessor,
                aggregation=None,
                probe_config=None,
            ),
            strategy=FromScratch(),
            optimizer=self.optimizer,
            schedule=self.schedule,
            training=self.training,
            seed=self.seed,
        )


def pretrain(config: PretrainConfig, dataset: EEGDataset | None = None) -> TrialResult:
    """Train the backbone on the source data and write its best-epoch weights to ``output``."""
    model, result = train(config.trial_config(), dataset)
    backbone = model.wrapped_model.cpu()
    if config.output.suffix in (".safetensors", ".pt"):
        save_state_dict(backbone, config.output)
    else:
        config.output.mkdir(parents=True, exist_ok=True)
        # braindecode models take save_pretrained from a mixin nn.Module lacks
        cast(Any, backbone).save_pretrained(config.output)
    return result
