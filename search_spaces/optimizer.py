"""The optimiser space: learning rate, weight decay, warm-up and batch size."""

from typing import Any

import optuna

from probe_core import TrialConfig
from search_spaces.config_paths import with_values
from search_spaces.context import SpaceContext

LR = (1e-4, 1e-2)
WEIGHT_DECAY = (1e-5, 0.1)


def _batch_sizes(context: SpaceContext) -> list[int]:
    """Batch sizes that leave at least four steps an epoch (a few labelled trials need small
    batches to learn at all), and the base config's own."""
    fitting = [b for b in (4, 8, 16, 32, 64, 128) if 4 * b <= context.n_train]
    return sorted({*fitting, context.base.training.batch_size})


def _max_warmup(context: SpaceContext) -> int:
    return max(context.base.training.max_epochs // 5, 0)


def optimizer(trial: optuna.Trial, context: SpaceContext) -> TrialConfig:
    return with_values(
        context.base,
        {
            "optimizer.lr": trial.suggest_float("lr", *LR, log=True),
            "optimizer.weight_decay": trial.suggest_float("weight_decay", *WEIGHT_DECAY, log=True),
            "schedule.warmup_epochs": trial.suggest_int("warmup_epochs", 0, _max_warmup(context)),
            "training.batch_size": trial.suggest_categorical("batch_size", _batch_sizes(context)),
        },
    )


def optimizer_defaults(context: SpaceContext, lr_factor: float = 1.0) -> dict[str, Any]:
    """This space's parameters at the base config's settings (the learning rate times
    ``lr_factor``), clipped into the space."""
    base = context.base
    sizes = _batch_sizes(context)
    return {
        "lr": min(max(base.optimizer.lr * lr_factor, LR[0]), LR[1]),
        "weight_decay": min(max(base.optimizer.weight_decay, WEIGHT_DECAY[0]), WEIGHT_DECAY[1]),
        "warmup_epochs": min(round(base.schedule.warmup_epochs), _max_warmup(context)),
        "batch_size": min(sizes, key=lambda b: abs(b - base.training.batch_size)),
    }
