"""Everything one trial needs, usable on its own (no Ray, Optuna or MLflow).

from probe_core import TrialConfig, run_trial
result = run_trial(TrialConfig.load("trial.yaml"))
"""

from probe_core.aggregation import ConcatGroupedMean, IndexSelect, Mean
from probe_core.backbones import BackboneConfig, CheckpointError
from probe_core.channel_merger import INVALID_POS_VALUE, ChannelMerger, FourierEmb
from probe_core.channel_projection import ChannelProjection
from probe_core.data_sources import DataConfig, EpochsData, MoabbData, NpzData
from probe_core.dataset import DataError, EEGDataset
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
from probe_core.strategies import STRATEGY_KINDS, FreezeStrategy, StrategyError
from probe_core.synthetic import SyntheticData
from probe_core.training import (
    EpochReport,
    TrialDiverged,
    TrialResult,
    build_model,
    run_trial,
    train,
)
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
    "attention_projections",
    "build_model",
    "discover_blocks",
    "inspect_backbone",
    "parameter_summary",
    "pretrain",
    "run_trial",
    "train",
]
