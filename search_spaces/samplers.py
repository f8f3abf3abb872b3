"""Optuna samplers by name, seeded, behind one config."""

import warnings
from typing import Literal

import optuna
import pydantic

from probe_core import ConfigError
from search_spaces.context import SpaceContext
from search_spaces.freeze_strategy import STRATEGY_PARAM, candidate_strategies

SamplerName = Literal["tpe", "random", "grid", "gp", "cmaes", "nsga2"]


class SamplerConfig(pydantic.BaseModel):
    """- ``tpe``: multivariate, grouped TPE (models conditional parameters per branch).
    - ``random``, ``gp`` (Gaussian process), ``cmaes`` (continuous parameters only).
    - ``grid``: every combination of ``grid`` once; by default applicable strategies × seeds
      0, 1, 2 (a neuralbench-style grid, with the ``freeze_strategy_defaults`` and ``seeds``
      spaces).
    - ``nsga2``: multi-objective (quality against cost), for the Pareto front.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    name: SamplerName = "tpe"
    seed: int = 0
    n_startup_trials: pydantic.PositiveInt = 8
    grid: dict[str, list] | None = None

    def grid_space(self, context: SpaceContext) -> dict[str, list]:
        return self.grid or {
            STRATEGY_PARAM: candidate_strategies(context),
            "seed": [0, 1, 2],
        }

    def build(
        self, distributions: dict[str, optuna.distributions.BaseDistribution], context: SpaceContext
    ) -> optuna.samplers.BaseSampler:
        """``distributions``: the space's parameters (``space_distributions``), checked against
        what the sampler can search."""
        if self.name == "tpe":
            with warnings.catch_warnings():  # multivariate and group are marked experimental
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.samplers.TPESampler(
                    multivariate=True,
                    group=True,
                    seed=self.seed,
                    n_startup_trials=self.n_startup_trials,
                )
        if self.name == "random":
            return optuna.samplers.RandomSampler(seed=self.seed)
        if self.name == "grid":
            grid = self.grid_space(context)
            outside = sorted(set(distributions) - set(grid))
            if outside:
                raise ConfigError(
                    f"sampler grid: parameters {outside} are not in the grid {sorted(grid)}; "
                    "use the spaces freeze_strategy_defaults and seeds, or list them in grid"
                )
            return optuna.samplers.GridSampler(grid, seed=self.seed)
        if self.name == "gp":
            return optuna.samplers.GPSampler(seed=self.seed, n_startup_trials=self.n_startup_trials)
        if self.name == "cmaes":
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
            return optuna.samplers.CmaEsSampler(
                seed=self.seed, n_startup_trials=self.n_startup_trials
            )
        return optuna.samplers.NSGAIISampler(seed=self.seed)


def space_distributions(space, context: SpaceContext, n_samples: int = 64) -> dict:
    """The parameters a space can suggest, found by sampling it at random in a scratch study
    (conditional parameters appear once their condition is drawn)."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    distributions: dict = {}
    for _ in range(n_samples):
        trial = study.ask()
        space(trial, context)
        distributions.update(trial.distributions)
        study.tell(trial, 0.0)
    return distributions
