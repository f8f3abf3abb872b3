"""The probe-head space: how the backbone's output is pooled and which head reads it.

Probe strategies fix their own head (that is what they compare), so for them only the pooling
is searched; fine-tuning strategies search both. Parameters are named per strategy kind
(``lora.aggregation``): each kind has its own choices, and TPE models them apart.
"""

from typing import Any

import optuna

from probe_core import BackboneFacts, Mlp, TrialConfig
from probe_core.strategies import STRATEGIES
from search_spaces.config_paths import with_values
from search_spaces.context import SpaceContext


def valid_aggregations(facts: BackboneFacts) -> list[str]:
    """Aggregations that fit the backbone's output: over tokens only when it has tokens."""
    output_shape = facts.output_shape
    if not facts.has_tokens:  # a feature map or an embedding: all of it
        return ["flatten"]
    if len(output_shape) == 2:  # (tokens, features)
        grouped = [f"grouped_{n}" for n in (2, 4) if output_shape[0] >= 2 * n]
        return ["flatten", "mean", "first", *grouped, "attentive"]
    if len(output_shape) == 3:  # (channels, patches, features)
        return ["flatten", "mean", "attentive"]
    return ["flatten"]


def _aggregation_value(name: str) -> str | int:
    return int(name.removeprefix("grouped_")) if name.startswith("grouped_") else name


def probe_head(trial: optuna.Trial, context: SpaceContext) -> TrialConfig:
    kind = context.base.strategy.kind
    is_probe = STRATEGIES[kind].is_probe
    values: dict[str, Any] = {}
    if kind != "attentive_probe":
        choices = valid_aggregations(context.facts)
        if is_probe:
            choices = [c for c in choices if c != "attentive"]
        if len(choices) > 1:
            values["wrapper.aggregation"] = _aggregation_value(
                trial.suggest_categorical(f"{kind}.aggregation", choices)
            )
    if not is_probe:
        head = trial.suggest_categorical(f"{kind}.probe", ["linear", "linear_layernorm", "mlp"])
        if head == "linear":
            values["wrapper.probe_config"] = "linear"
        elif head == "linear_layernorm":
            values["wrapper.probe_config"] = Mlp(input_norm="layer").model_dump()
        else:
            values["wrapper.probe_config"] = Mlp(
                hidden_sizes=[trial.suggest_categorical(f"{kind}.probe_width", [64, 128, 256])],
                dropout=trial.suggest_float(f"{kind}.probe_dropout", 0.0, 0.5),
                activation_layer="gelu",
            ).model_dump()
    return with_values(context.base, values) if values else context.base


def probe_head_defaults(kind: str, context: SpaceContext) -> dict[str, Any]:
    """This space's parameters at the base config's settings (for warm-start trials)."""
    choices = valid_aggregations(context.facts)
    base = context.base.wrapper.aggregation
    name = f"grouped_{base}" if isinstance(base, int) else base
    values = {f"{kind}.aggregation": name if name in choices else choices[0]}
    if not STRATEGIES[kind].is_probe:
        values[f"{kind}.probe"] = "linear"
    return values
