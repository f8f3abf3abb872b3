"""Built-in spaces by name, and their composition.

A space is a plain function ``(optuna.Trial, SpaceContext) -> TrialConfig``. Composing spaces
applies them in order, each starting from the config the previous one produced, so a later space
can depend on an earlier choice (the probe head on the strategy).
"""

from collections.abc import Callable, Sequence
from typing import Any

import optuna

from probe_core import TrialConfig
from probe_core.registry import Registry
from search_spaces.config_paths import with_values
from search_spaces.context import SpaceContext
from search_spaces.freeze_strategy import (
    STRATEGY_PARAM,
    freeze_strategy,
    freeze_strategy_defaults,
    warm_start_params,
)
from search_spaces.optimizer import optimizer, optimizer_defaults
from search_spaces.presets import preset
from search_spaces.probe_head import probe_head, probe_head_defaults

Space = Callable[[optuna.Trial, SpaceContext], TrialConfig]


def seeds(trial: optuna.Trial, context: SpaceContext) -> TrialConfig:
    """The model seed as a parameter (0, 1, 2): grids of strategies × seeds."""
    return with_values(context.base, {"seed": trial.suggest_categorical("seed", [0, 1, 2])})


SPACES: Registry[Space] = Registry("space")
for _space in (freeze_strategy, freeze_strategy_defaults, probe_head, optimizer, preset, seeds):
    SPACES.register(_space.__name__, _space)


def get_space(name: str) -> Space:
    """A built-in space by name; an unknown name fails with the list of known ones."""
    return SPACES[name]


class compose:  # noqa: N801 (used like a function; a class so that sweeps can pickle it)
    """One space that applies ``spaces`` in order."""

    def __init__(self, spaces: Sequence[Space]) -> None:
        self.spaces = list(spaces)

    def __call__(self, trial: optuna.Trial, context: SpaceContext) -> TrialConfig:
        config = context.base
        for space in self.spaces:
            config = space(trial, context.with_base(config))
        return config


def warm_start(context: SpaceContext, lr_factors: Sequence[float]) -> list[dict[str, Any]]:
    """One enqueued trial per candidate strategy and learning rate (the base config's times each
    of ``lr_factors``, in that order), everything else at the base config's settings, so the
    sampler sees every strategy before it starts to exploit (``enqueue_trial`` format;
    parameters a space does not suggest are ignored). A factor that clips to a rate already
    listed adds nothing."""
    strategies = [
        {**probe_head_defaults(params[STRATEGY_PARAM], context), **params}
        for params in warm_start_params(context)
    ]
    trials: list[dict[str, Any]] = []
    for factor in lr_factors:
        shared = optimizer_defaults(context, factor)
        for strategy in strategies:
            trial = {**shared, **strategy}
            if trial not in trials:
                trials.append(trial)
    return trials
