"""Optuna samplers by name, seeded, behind one config; each name registered once
(``SAMPLERS``), so an unknown one fails with the list of known ones."""

import warnings
from collections.abc import Callable
from typing import Any

import optuna
import pydantic

from probe_core import ConfigError
from probe_core.registry import Registry
from search_spaces.bounded_tpe import GOOD, BoundedTPESampler
from search_spaces.context import SpaceContext
from search_spaces.freeze_strategy import STRATEGY_PARAM, candidate_strategies

Distributions = dict[str, optuna.distributions.BaseDistribution]
Sampler = optuna.samplers.BaseSampler
SamplerBuilder = Callable[["SamplerConfig", Distributions, SpaceContext], Sampler]
SAMPLERS: Registry[SamplerBuilder] = Registry("sampler")


class SamplerConfig(pydantic.BaseModel):
    """- ``tpe``: multivariate, grouped TPE (models conditional parameters per branch), fitted
      on at most ``history`` finished trials (the best 25 and the most recent others;
      ``search_spaces/bounded_tpe.py``), so that a trial costs the same at the 3,000th as at
      the 300th; ``history: null`` fits on all, as Optuna does.
    - ``random``, ``gp`` (Gaussian process), ``cmaes`` (continuous parameters only).
    - ``grid``: every combination of ``grid`` once; by default applicable strategies × seeds
      0, 1, 2 (a neuralbench-style grid, with the ``freeze_strategy_defaults`` and ``seeds``
      spaces).
    - ``nsga2``: multi-objective (quality against cost), for the Pareto front.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    name: str = "tpe"
    seed: int = 0
    n_startup_trials: pydantic.PositiveInt = 8
    history: int | None = pydantic.Field(500, ge=10 * GOOD)
    grid: dict[str, list[Any]] | None = None

    @pydantic.field_validator("name")
    @classmethod
    def _registered(cls, name: str) -> str:
        SAMPLERS[name]  # noqa: B018 (an unknown name raises, listing the known ones)
        return name

    def grid_space(self, context: SpaceContext) -> dict[str, list[Any]]:
        return self.grid or {
            STRATEGY_PARAM: candidate_strategies(context),
            "seed": [0, 1, 2],
        }

    def build(
        self, distributions: Distributions, context: SpaceContext
    ) -> optuna.samplers.BaseSampler:
        """``distributions``: the space's parameters (``space_distributions``), checked against
        what the sampler can search."""
        return SAMPLERS[self.name](self, distributions, context)


@SAMPLERS.add("tpe")
def _tpe(config: SamplerConfig, distributions: Distributions, context: SpaceContext) -> Sampler:
    with warnings.catch_warnings():  # multivariate and group are marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        tpe: dict[str, Any] = {
            "multivariate": True,
            "group": True,
            "seed": config.seed,
            "n_startup_trials": config.n_startup_trials,
        }
        if config.history is None:
            return optuna.samplers.TPESampler(**tpe)
        return BoundedTPESampler(history=config.history, **tpe)


@SAMPLERS.add("random")
def _random(config: SamplerConfig, distributions: Distributions, context: SpaceContext) -> Sampler:
    return optuna.samplers.RandomSampler(seed=config.seed)


@SAMPLERS.add("grid")
def _grid(config: SamplerConfig, distributions: Distributions, context: SpaceContext) -> Sampler:
    grid = config.grid_space(context)
    outside = sorted(set(distributions) - set(grid))
    if outside:
        raise ConfigError(
            f"sampler grid: parameters {outside} are not in the grid {sorted(grid)}; "
            "use the spaces freeze_strategy_defaults and seeds, or list them in grid"
        )
    return optuna.samplers.GridSampler(grid, seed=config.seed)


@SAMPLERS.add("gp")
def _gp(config: SamplerConfig, distributions: Distributions, context: SpaceContext) -> Sampler:
    return optuna.samplers.GPSampler(seed=config.seed, n_startup_trials=config.n_startup_trials)


@SAMPLERS.add("cmaes")
def _cmaes(config: SamplerConfig, distributions: Distributions, context: SpaceContext) -> Sampler:
    categorical = sorted(
        name
        for name, d in distributions.items()
        if isinstance(d, optuna.distributions.CategoricalDistribution)
    )
    if categorical:
        raise ConfigError(
            f"sampler cmaes searches continuous parameters only; {categorical} are "
            "categorical: use tpe or gp, or a space without them"
        )
    return optuna.samplers.CmaEsSampler(seed=config.seed, n_startup_trials=config.n_startup_trials)


@SAMPLERS.add("nsga2")
def _nsga2(config: SamplerConfig, distributions: Distributions, context: SpaceContext) -> Sampler:
    return optuna.samplers.NSGAIISampler(seed=config.seed)


def space_distributions(
    space: Callable[[optuna.Trial, SpaceContext], object],
    context: SpaceContext,
    n_samples: int = 64,
) -> Distributions:
    """The parameters a space can suggest, found by sampling it at random in a scratch study
    (conditional parameters appear once their condition is drawn)."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    distributions: Distributions = {}
    for _ in range(n_samples):
        trial = study.ask()
        space(trial, context)
        distributions.update(trial.distributions)
        study.tell(trial, 0.0)
    return distributions
