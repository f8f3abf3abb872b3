"""Everything one trial needs, usable on its own (no Ray, Optuna or MLflow).

from probe_core import TrialConfig, run_trial
result = run_trial(TrialConfig.load("trial.yaml"))
"""

from probe_core.aggregation import ConcatGroupedMean, IndexSelect, Mean
from probe_core.assembly import build_model
from probe_core.backbones import BackboneConfig
from probe_core.channel_merger import INVALID_POS_VALUE, ChannelMerger, FourierEmb
from probe_core.channel_projection import ChannelProjection
from probe_core.data_sources import DataConfig, EpochsData, MoabbData, NpzData
from probe_core.dataset import EEGDataset
from probe_core.errors import CheckpointError, ConfigError, DataError, StrategyError, UserError
from probe_core.introspection import (
    BackboneFacts,
    ParameterSummary,
    attention_projections,
    discover_blocks,
    inspect_backbone,
    parameter_summary,
)
from probe_core.mlp import Mlp
from probe_core.preprocessor import OnTheFlyPreprocessor
from probe_core.pretraining import PretrainConfig, pretrain
from probe_core.splits import SplitConfig
from probe_core.strategies import STRATEGY_KINDS, FreezeStrategy
from probe_core.synthetic import SyntheticData
from probe_core.training import EpochReport, TrialDiverged, TrialResult, run_trial, train
from probe_core.trial_config import TrialConfig
from probe_core.wrapper import DownstreamWrapper, DownstreamWrapperModel

__all__ = [
    "INVALID_POS_VALUE",
    "STRATEGY_KINDS",
    "BackboneConfig",
    "BackboneFacts",
    "ChannelMerger",
    "ChannelProjection",
    "CheckpointError",
    "ConfigError",
    "ConcatGroupedMean",
    "DataConfig",
    "DataError",
    "DownstreamWrapper",
    "DownstreamWrapperModel",
    "EEGDataset",
    "EpochReport",
    "EpochsData",
    "FourierEmb",
    "FreezeStrategy",
    "IndexSelect",
    "Mean",
    "Mlp",
    "MoabbData",
    "NpzData",
    "OnTheFlyPreprocessor",
    "ParameterSummary",
    "PretrainConfig",
    "SplitConfig",
    "StrategyError",
    "SyntheticData",
    "TrialConfig",
    "TrialDiverged",
    "TrialResult",
    "UserError",
    "attention_projections",
    "build_model",
    "discover_blocks",
    "inspect_backbone",
    "parameter_summary",
    "pretrain",
    "run_trial",
    "train",
]
