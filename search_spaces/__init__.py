"""Optuna define-by-run search spaces that produce validated probe_core trial configs.

A space is a plain function ``(optuna.Trial, SpaceContext) -> TrialConfig``; built-in spaces are
selected by name and composed, or written declaratively in YAML. No Ray, no MLflow here.
``StrategySearch`` is how a new strategy's parameters are searched (docs/ARCHITECTURE.md).
"""

from search_spaces.context import SpaceContext, make_context
from search_spaces.declarative import DeclarativeSpace
from search_spaces.freeze_strategy import (
    StrategySearch,
    applicable_strategies,
    candidate_strategies,
    search_of,
    searched_kinds,
)
from search_spaces.registry import SPACES, Space, compose, get_space, warm_start
from search_spaces.samplers import SAMPLERS, SamplerConfig, space_distributions

__all__ = [
    "SAMPLERS",
    "SPACES",
    "DeclarativeSpace",
    "SamplerConfig",
    "Space",
    "SpaceContext",
    "StrategySearch",
    "applicable_strategies",
    "candidate_strategies",
    "compose",
    "get_space",
    "make_context",
    "search_of",
    "searched_kinds",
    "space_distributions",
    "warm_start",
]
