"""Everything one trial needs, usable on its own (no Ray, Optuna or MLflow)."""

from probe_core.aggregation import ConcatGroupedMean, IndexSelect, Mean
from probe_core.channel_merger import INVALID_POS_VALUE, ChannelMerger, FourierEmb
from probe_core.channel_projection import ChannelProjection
from probe_core.introspection import ParameterSummary, discover_blocks, parameter_summary
from probe_core.mlp import Mlp
from probe_core.preprocessor import OnTheFlyPreprocessor
from probe_core.wrapper import DownstreamWrapper, DownstreamWrapperModel

__all__ = [
    "INVALID_POS_VALUE",
    "ChannelMerger",
    "ChannelProjection",
    "ConcatGroupedMean",
    "DownstreamWrapper",
    "DownstreamWrapperModel",
    "FourierEmb",
    "IndexSelect",
    "Mean",
    "Mlp",
    "OnTheFlyPreprocessor",
    "ParameterSummary",
    "discover_blocks",
    "parameter_summary",
]
