"""The freeze-strategy space: which strategy, then that strategy's own parameters.

Each strategy class (``probe_core.STRATEGIES``) is searched by a ``StrategySearch`` bound to it
by type: a subclass that sets ``strategy = ThatClass`` is registered for it when it is defined,
and its ``suggest`` (trial parameters → the strategy's fields) and ``params_of`` (its inverse,
for warm starts) sit side by side. A registered strategy without a search of its own is searched
at its defaults; when a strategy applies comes from the strategy class itself (``applies_to``).
Parameters are named ``<kind>.<field>`` and suggested only when their strategy is drawn, so TPE
models each strategy's parameters separately (define-by-run conditionality).
"""

from typing import Any, ClassVar, Generic, TypeVar

import optuna

from probe_core import BackboneFacts, TrialConfig
from probe_core.strategies import (
    STRATEGIES,
    FullFinetune,
    LastKBlocks,
    LinearProbe,
    LinearProbeThenFinetune,
    Lora,
    MlpProbe,
    Strategy,
)
from search_spaces.config_paths import with_values
from search_spaces.context import SpaceContext

STRATEGY_PARAM = "strategy"
S = TypeVar("S", bound=Strategy)


class StrategySearch(Generic[S]):
    """One strategy searched at its defaults; a subclass sets ``strategy`` and searches some of
    its fields."""

    strategy: ClassVar[type[Strategy]]
    _bound: ClassVar[dict[type[Strategy], "StrategySearch[Any]"]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.strategy in StrategySearch._bound:
            raise ValueError(f"{cls.strategy.__name__} has two searches")
        StrategySearch._bound[cls.strategy] = cls()

    def __init__(self, strategy: type[Strategy] | None = None) -> None:
        self.kind: str = (strategy or self.strategy).model_fields["kind"].default

    def suggest(self, trial: optuna.Trial, context: SpaceContext) -> dict[str, Any]:
        """The strategy's fields drawn from ``trial``."""
        return {}

    def params_of(self, strategy: S, context: SpaceContext) -> dict[str, Any]:
        """The trial parameters (short names) that ``suggest`` turns into ``strategy``."""
        return {}

    def name(self, field: str) -> str:
        """A parameter's name in the study: ``<kind>.<field>``."""
        return f"{self.kind}.{field}"


def search_of(kind: str) -> StrategySearch[Any]:
    """The search of a strategy ``kind``: its own, or its defaults."""
    cls = STRATEGIES[kind]
    return StrategySearch._bound.get(cls) or StrategySearch(cls)


def searched_kinds() -> list[str]:
    """Every strategy kind the spaces offer, in the registry's order. The seed's name rules
    (kind ``layers``) are not searched: they need layer names only a user can give (see
    ``preset``)."""
    return [kind for kind, cls in STRATEGIES.items() if cls.searched]


class LinearProbeSearch(StrategySearch[LinearProbe]):
    strategy = LinearProbe

    def suggest(self, trial: optuna.Trial, context: SpaceContext) -> dict[str, Any]:
        norm = trial.suggest_categorical(self.name("feature_norm"), ["none", "batch", "layer"])
        return {"feature_norm": None if norm == "none" else norm}

    def params_of(self, strategy: LinearProbe, context: SpaceContext) -> dict[str, Any]:
        return {"feature_norm": strategy.feature_norm or "none"}


class MlpProbeSearch(StrategySearch[MlpProbe]):
    strategy = MlpProbe

    def suggest(self, trial: optuna.Trial, context: SpaceContext) -> dict[str, Any]:
        return {
            "hidden_sizes": [trial.suggest_categorical(self.name("hidden_size"), [64, 128, 256])],
            "dropout": trial.suggest_float(self.name("dropout"), 0.0, 0.5),
        }

    def params_of(self, strategy: MlpProbe, context: SpaceContext) -> dict[str, Any]:
        return {"hidden_size": strategy.hidden_sizes[0], "dropout": strategy.dropout}


class LastKBlocksSearch(StrategySearch[LastKBlocks]):
    strategy = LastKBlocks

    def suggest(self, trial: optuna.Trial, context: SpaceContext) -> dict[str, Any]:
        return {"k": trial.suggest_int(self.name("k"), 1, len(context.facts.blocks))}

    def params_of(self, strategy: LastKBlocks, context: SpaceContext) -> dict[str, Any]:
        return {"k": min(strategy.k, len(context.facts.blocks))}


class LoraSearch(StrategySearch[Lora]):
    strategy = Lora

    def suggest(self, trial: optuna.Trial, context: SpaceContext) -> dict[str, Any]:
        rank = trial.suggest_categorical(self.name("rank"), [2, 4, 8, 16])
        return {
            "rank": rank,
            "alpha": rank * trial.suggest_categorical(self.name("alpha_over_rank"), [1, 2]),
            "dropout": trial.suggest_float(self.name("dropout"), 0.0, 0.2),
        }

    def params_of(self, strategy: Lora, context: SpaceContext) -> dict[str, Any]:
        return {
            "rank": strategy.rank,
            "alpha_over_rank": round(strategy.alpha / strategy.rank),
            "dropout": strategy.dropout,
        }


class LinearProbeThenFinetuneSearch(StrategySearch[LinearProbeThenFinetune]):
    strategy = LinearProbeThenFinetune

    @staticmethod
    def _max_lp_epochs(context: SpaceContext) -> int:
        """The probe phase takes at most half the trial, so that the fine-tune phase runs."""
        return max(context.base.training.max_epochs // 2, 1)

    def suggest(self, trial: optuna.Trial, context: SpaceContext) -> dict[str, Any]:
        return {
            "lp_epochs": trial.suggest_int(self.name("lp_epochs"), 1, self._max_lp_epochs(context)),
            "ft_lr_scale": trial.suggest_float(self.name("ft_lr_scale"), 0.01, 1.0, log=True),
        }

    def params_of(self, strategy: LinearProbeThenFinetune, context: SpaceContext) -> dict[str, Any]:
        return {
            "lp_epochs": min(strategy.lp_epochs, self._max_lp_epochs(context)),
            "ft_lr_scale": strategy.ft_lr_scale,
        }


class FullFinetuneSearch(StrategySearch[FullFinetune]):
    strategy = FullFinetune

    def suggest(self, trial: optuna.Trial, context: SpaceContext) -> dict[str, Any]:
        return {"layer_decay": trial.suggest_float(self.name("layer_decay"), 0.5, 1.0)}

    def params_of(self, strategy: FullFinetune, context: SpaceContext) -> dict[str, Any]:
        return {"layer_decay": strategy.layer_decay or 1.0}


def applicable_strategies(facts: BackboneFacts) -> list[str]:
    """The searched strategy kinds that apply to this backbone, in a fixed order."""
    return [kind for kind in searched_kinds() if STRATEGIES[kind].applies_to(facts)]


def candidate_strategies(context: SpaceContext) -> list[str]:
    """The strategies a space offers: the applicable ones, or the context's restriction."""
    kinds = applicable_strategies(context.facts)
    if context.only_strategies is not None:
        kinds = [k for k in kinds if k in context.only_strategies]
    return kinds


def freeze_strategy(trial: optuna.Trial, context: SpaceContext) -> TrialConfig:
    """Every applicable strategy, each with its own hyperparameters."""
    kind = trial.suggest_categorical(STRATEGY_PARAM, candidate_strategies(context))
    return _with_strategy(context.base, {"kind": kind, **search_of(kind).suggest(trial, context)})


def freeze_strategy_defaults(trial: optuna.Trial, context: SpaceContext) -> TrialConfig:
    """Only the strategy, each at its default settings: for grids and strategy races."""
    kind = trial.suggest_categorical(STRATEGY_PARAM, candidate_strategies(context))
    return _with_strategy(context.base, {"kind": kind})


def _with_strategy(base: TrialConfig, strategy: dict[str, Any]) -> TrialConfig:
    return with_values(base, {"strategy": strategy})


def strategy_params(strategy: Strategy, context: SpaceContext) -> dict[str, Any]:
    """The study's parameters that ``freeze_strategy`` turns into ``strategy``."""
    search = search_of(strategy.kind)
    values = search.params_of(strategy, context)
    return {STRATEGY_PARAM: search.kind, **{search.name(k): v for k, v in values.items()}}


def warm_start_params(context: SpaceContext) -> list[dict[str, Any]]:
    """One enqueued trial per applicable strategy at the strategy's default settings, so the
    sampler sees every strategy before it starts to exploit (``study.enqueue_trial`` format)."""
    return [
        strategy_params(_with_strategy(context.base, {"kind": kind}).strategy, context)
        for kind in candidate_strategies(context)
    ]
