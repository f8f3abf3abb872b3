"""Everything one trial needs, usable on its own (no Ray, Optuna or MLflow).

from probe_core import TrialConfig, run_trial
result = run_trial(TrialConfig.load("trial.yaml"))

``__all__`` is what users import: the configs (each with a ``build()``), the data sources, the
strategies' registry and base class, training, and the errors. Everything else is reachable
through its module and may change.
"""

from probe_core.assembly import build_model
from probe_core.backbones import BackboneConfig
from probe_core.channel_merger import ChannelMerger
from probe_core.channel_projection import ChannelProjection
from probe_core.data_sources import DataConfig, EpochsData, MoabbData, NpzData
from probe_core.dataset import EEGDataset
from probe_core.errors import CheckpointError, ConfigError, DataError, StrategyError, UserError
from probe_core.introspection import BackboneFacts, inspect_backbone
from probe_core.mlp import Mlp
from probe_core.preprocessor import OnTheFlyPreprocessor
from probe_core.pretraining import PretrainConfig, pretrain
from probe_core.registry import Registry
from probe_core.splits import SplitConfig
from probe_core.strategies import STRATEGIES, FreezeStrategy, Strategy
from probe_core.synthetic import SyntheticData
from probe_core.training import (
    EpochReport,
    TrialDiverged,
    TrialResult,
    TrialRunner,
    run_trial,
    train,
)
from probe_core.trial_config import TrialConfig
from probe_core.wrapper import DownstreamWrapper, DownstreamWrapperModel

__all__ = [
    "STRATEGIES",
    "BackboneConfig",
    "BackboneFacts",
    "ChannelMerger",
    "ChannelProjection",
    "CheckpointError",
    "ConfigError",
    "DataConfig",
    "DataError",
    "DownstreamWrapper",
    "DownstreamWrapperModel",
    "EEGDataset",
    "EpochReport",
    "EpochsData",
    "FreezeStrategy",
    "Mlp",
    "MoabbData",
    "NpzData",
    "OnTheFlyPreprocessor",
    "PretrainConfig",
    "Registry",
    "SplitConfig",
    "Strategy",
    "StrategyError",
    "SyntheticData",
    "TrialConfig",
    "TrialDiverged",
    "TrialResult",
    "TrialRunner",
    "UserError",
    "build_model",
    "inspect_backbone",
    "pretrain",
    "run_trial",
    "train",
]
