"""neuralbench's named wrapper presets as one categorical: ``*_freeze`` probes a frozen backbone,
``*_finetune`` trains it. Each is the seed's freezing rules plus a head, so a sweep can put our
strategies next to the grid users ran before."""

from typing import Any

import optuna

from probe_core import Mlp, TrialConfig
from search_spaces.config_paths import with_values
from search_spaces.context import SpaceContext

_MLP = Mlp(hidden_sizes=[256], activation_layer="gelu", dropout=0.1).model_dump()
_FREEZE_ALL = {"kind": "layers", "layers_to_unfreeze": [""]}  # strict: no layer is named ""
_TRAIN_ALL = {"kind": "layers", "layers_to_freeze": []}

PRESETS: dict[str, dict[str, Any]] = {
    "linear_freeze": {
        "strategy": _FREEZE_ALL,
        "wrapper.aggregation": "flatten",
        "wrapper.probe_config": "linear",
    },
    "mean_linear_freeze": {
        "strategy": _FREEZE_ALL,
        "wrapper.aggregation": "mean",
        "wrapper.probe_config": "linear",
    },
    "mlp_freeze": {
        "strategy": _FREEZE_ALL,
        "wrapper.aggregation": "flatten",
        "wrapper.probe_config": _MLP,
    },
    "last_finetune": {
        "strategy": {"kind": "layers", "layers_to_unfreeze": "last"},
        "wrapper.aggregation": "flatten",
        "wrapper.probe_config": "linear",
    },
    "linear_finetune": {
        "strategy": _TRAIN_ALL,
        "wrapper.aggregation": "flatten",
        "wrapper.probe_config": "linear",
    },
    "mlp_finetune": {
        "strategy": _TRAIN_ALL,
        "wrapper.aggregation": "flatten",
        "wrapper.probe_config": _MLP,
    },
}


def available_presets(context: SpaceContext) -> list[str]:
    """Presets whose aggregation fits the backbone's output."""
    tokens = context.facts.has_tokens
    return [
        name
        for name, values in PRESETS.items()
        if values["wrapper.aggregation"] != "mean" or tokens
    ]


def preset(trial: optuna.Trial, context: SpaceContext) -> TrialConfig:
    name = trial.suggest_categorical("preset", available_presets(context))
    return with_values(context.base, PRESETS[name])
