"""The optimiser space: learning rate, weight decay, warm-up and batch size."""

import optuna

from probe_core import TrialConfig
from search_spaces.config_paths import with_values
from search_spaces.context import SpaceContext


def optimizer(trial: optuna.Trial, context: SpaceContext) -> TrialConfig:
    batch_sizes = [b for b in (16, 32, 64, 128) if b <= max(context.n_train, 16)]
    return with_values(
        context.base,
        {
            "optimizer.lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
            "optimizer.weight_decay": trial.suggest_float("weight_decay", 1e-5, 0.1, log=True),
            "schedule.warmup_epochs": trial.suggest_int(
                "warmup_epochs", 0, max(context.base.training.max_epochs // 5, 0)
            ),
            "training.batch_size": trial.suggest_categorical("batch_size", batch_sizes),
        },
    )
