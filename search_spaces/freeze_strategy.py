"""The freeze-strategy space: which strategy, then that strategy's own parameters.

Parameters are named ``<kind>.<field>`` and suggested only when their strategy is drawn, so TPE
models each strategy's parameters separately (define-by-run conditionality).
"""

import optuna

from probe_core import BackboneFacts, TrialConfig
from search_spaces.config_paths import with_values
from search_spaces.context import SpaceContext

STRATEGY_PARAM = "strategy"


def applicable_strategies(facts: BackboneFacts) -> list[str]:
    """The strategy kinds that make sense for this backbone, in a fixed order."""
    kinds = ["linear_probe", "mlp_probe"]
    if len(facts.output_shape) >= 2 or facts.token_layer is not None:
        kinds.append("attentive_probe")
    if facts.blocks:
        kinds.append("last_k_blocks")
    if facts.has_attention:
        kinds += ["attention_only", "lora"]
    return kinds + ["lp_ft", "full_finetune", "from_scratch"]


def candidate_strategies(context: SpaceContext) -> list[str]:
    """The strategies a space offers: the applicable ones, or the context's restriction."""
    kinds = applicable_strategies(context.facts)
    if context.only_strategies is not None:
        kinds = [k for k in kinds if k in context.only_strategies]
    return kinds


def _strategy_params(trial: optuna.Trial, kind: str, context: SpaceContext) -> dict:
    """The drawn strategy's own fields."""
    name = f"{kind}."
    if kind == "linear_probe":
        norm = trial.suggest_categorical(name + "feature_norm", ["none", "batch", "layer"])
        return {"feature_norm": None if norm == "none" else norm}
    if kind == "mlp_probe":
        return {
            "hidden_sizes": [trial.suggest_categorical(name + "hidden_size", [64, 128, 256])],
            "dropout": trial.suggest_float(name + "dropout", 0.0, 0.5),
        }
    if kind == "last_k_blocks":
        return {"k": trial.suggest_int(name + "k", 1, len(context.facts.blocks))}
    if kind == "lora":
        rank = trial.suggest_categorical(name + "rank", [2, 4, 8, 16])
        return {
            "rank": rank,
            "alpha": rank * trial.suggest_categorical(name + "alpha_over_rank", [1, 2]),
            "dropout": trial.suggest_float(name + "dropout", 0.0, 0.2),
        }
    if kind == "lp_ft":
        max_epochs = context.base.training.max_epochs
        return {
            "lp_epochs": trial.suggest_int(name + "lp_epochs", 1, max(max_epochs // 2, 1)),
            "ft_lr_scale": trial.suggest_float(name + "ft_lr_scale", 0.01, 1.0, log=True),
        }
    if kind == "full_finetune":
        return {"layer_decay": trial.suggest_float(name + "layer_decay", 0.5, 1.0)}
    return {}


def freeze_strategy(trial: optuna.Trial, context: SpaceContext) -> TrialConfig:
    """Every applicable strategy, each with its own hyperparameters."""
    kind = trial.suggest_categorical(STRATEGY_PARAM, candidate_strategies(context))
    return _with_strategy(context.base, {"kind": kind, **_strategy_params(trial, kind, context)})


def freeze_strategy_defaults(trial: optuna.Trial, context: SpaceContext) -> TrialConfig:
    """Only the strategy, each at its default settings: for grids and strategy races."""
    kind = trial.suggest_categorical(STRATEGY_PARAM, candidate_strategies(context))
    return _with_strategy(context.base, {"kind": kind})


def _with_strategy(base: TrialConfig, strategy: dict) -> TrialConfig:
    return with_values(base, {"strategy": strategy})


def _params_of(strategy: dict, context: SpaceContext) -> dict:
    """The trial parameters that ``_strategy_params`` turns into ``strategy`` (its inverse)."""
    kind = strategy["kind"]
    values = {
        "linear_probe": lambda: {"feature_norm": strategy["feature_norm"] or "none"},
        "mlp_probe": lambda: {
            "hidden_size": strategy["hidden_sizes"][0],
            "dropout": strategy["dropout"],
        },
        "last_k_blocks": lambda: {"k": min(strategy["k"], len(context.facts.blocks))},
        "lora": lambda: {
            "rank": strategy["rank"],
            "alpha_over_rank": round(strategy["alpha"] / strategy["rank"]),
            "dropout": strategy["dropout"],
        },
        "lp_ft": lambda: {
            "lp_epochs": min(strategy["lp_epochs"], max(context.base.training.max_epochs // 2, 1)),
            "ft_lr_scale": strategy["ft_lr_scale"],
        },
        "full_finetune": lambda: {"layer_decay": strategy["layer_decay"] or 1.0},
    }.get(kind, dict)()
    return {STRATEGY_PARAM: kind, **{f"{kind}.{k}": v for k, v in values.items()}}


def warm_start_params(context: SpaceContext) -> list[dict]:
    """One enqueued trial per applicable strategy at the strategy's default settings, so the
    sampler sees every strategy before it starts to exploit (``study.enqueue_trial`` format)."""
    return [
        _params_of(_with_strategy(context.base, {"kind": kind}).strategy.model_dump(), context)
        for kind in candidate_strategies(context)
    ]
