"""A search space written in YAML inside a sweep spec, for users who do not write Python.

    space:
      - {name: kind, path: strategy.kind, categorical: [linear_probe, lora]}
      - {name: rank, path: strategy.rank, int: {low: 2, high: 16, log: true},
         when: {strategy.kind: lora}}
      - {name: lr, path: optimizer.lr, float: {low: 1.0e-4, high: 1.0e-2, log: true}}

Each parameter has a distribution and the TrialConfig field it sets (a dotted path); ``when``
makes it conditional on values set by earlier parameters or by the base config.
"""

from typing import Any

import optuna
import pydantic

from probe_core import TrialConfig
from search_spaces.config_paths import get_path, is_known_path, set_path, with_values
from search_spaces.context import SpaceContext

Scalar = str | int | float | bool | None


class _Range(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    low: float
    high: float
    log: bool = False
    step: float | None = None

    @pydantic.model_validator(mode="after")
    def _valid_range(self) -> "_Range":
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log scale needs low > 0, got {self.low}")
        if self.log and self.step is not None:
            raise ValueError("step and log cannot be combined")
        if self.step is not None and self.step <= 0:
            raise ValueError(f"step must be positive, got {self.step}")
        return self


class Parameter(pydantic.BaseModel):
    """One searched value: exactly one of ``float``, ``int`` and ``categorical``."""

    model_config = pydantic.ConfigDict(extra="forbid")

    name: str
    path: str
    float: _Range | None = None
    int: _Range | None = None
    categorical: list[Scalar] | None = None
    when: dict[str, Scalar | list[Scalar]] = {}

    @pydantic.model_validator(mode="after")
    def _one_distribution(self) -> "Parameter":
        given = [k for k in ("float", "int", "categorical") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"parameter {self.name!r}: give exactly one of float, int, categorical"
                f" (got {given or 'none'})"
            )
        if self.categorical is not None and not self.categorical:
            raise ValueError(f"parameter {self.name!r}: categorical needs at least one choice")
        if self.int is not None and not all(
            v is None or float(v).is_integer() for v in (self.int.low, self.int.high, self.int.step)
        ):
            raise ValueError(f"parameter {self.name!r}: int bounds and step must be integers")
        for path in [self.path, *self.when]:
            if not is_known_path(path):
                raise ValueError(f"parameter {self.name!r}: {path!r} is not a TrialConfig field")
        return self

    def allowed(self, path: str) -> list[Scalar]:
        value = self.when[path]
        return value if isinstance(value, list) else [value]

    def applies(self, values: dict[str, Any]) -> bool:
        return all(get_path(values, path) in self.allowed(path) for path in self.when)

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.float is not None:
            r = self.float
            return trial.suggest_float(self.name, r.low, r.high, log=r.log, step=r.step)
        if self.int is not None:
            r = self.int
            step = int(r.step) if r.step is not None else 1
            return trial.suggest_int(self.name, int(r.low), int(r.high), log=r.log, step=step)
        assert self.categorical is not None  # the validator requires float, int or categorical
        return trial.suggest_categorical(self.name, self.categorical)


class DeclarativeSpace(pydantic.BaseModel):
    """A list of parameters, applied in order."""

    model_config = pydantic.ConfigDict(extra="forbid")

    parameters: list[Parameter] = pydantic.Field(min_length=1)

    @pydantic.model_validator(mode="after")
    def _unique_names(self) -> "DeclarativeSpace":
        names = [p.name for p in self.parameters]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"space: parameter names {duplicates} are used more than once")
        return self

    def check_conditions(self, base: TrialConfig) -> None:
        """Refuse a ``when`` that can never hold: its path keeps the base config's value, or the
        earlier categorical parameter that sets it never offers the required value."""
        values = base.model_dump(mode="json")
        setters: dict[str, Parameter] = {}
        for parameter in self.parameters:
            for path in parameter.when:
                allowed = parameter.allowed(path)
                setter = setters.get(path)
                if setter is None:
                    possible = [get_path(values, path)]
                elif setter.categorical is not None:
                    possible = setter.categorical
                else:
                    continue  # numeric setters: any value may match
                if not set(map(repr, possible)) & set(map(repr, allowed)):
                    raise ValueError(
                        f"space parameter {parameter.name!r}: condition {path} in {allowed} never"
                        f" holds ({path} can only be {possible})"
                    )
            setters[parameter.path] = parameter

    def __call__(self, trial: optuna.Trial, context: SpaceContext) -> TrialConfig:
        values = context.base.model_dump(mode="json")
        chosen: dict[str, Any] = {}
        for parameter in self.parameters:
            if parameter.applies(values):
                chosen[parameter.path] = parameter.suggest(trial)
                set_path(values, parameter.path, chosen[parameter.path])
        return with_values(context.base, chosen)
