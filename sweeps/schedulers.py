"""Ray Tune's trial schedulers by name, behind one config; each name registered once
(``SCHEDULERS``), so an unknown one fails with the list of known ones. Ray is imported when a
scheduler is built, not when a spec is read."""

from collections.abc import Callable
from typing import Any

import pydantic

from probe_core.registry import Registry

SchedulerBuilder = Callable[["SchedulerConfig", int], Any]
SCHEDULERS: Registry[SchedulerBuilder] = Registry("scheduler")


class SchedulerConfig(pydantic.BaseModel):
    """Early stopping of weak trials across the sweep (epochs are Tune's time unit): ``asha``,
    ``hyperband`` or ``fifo`` (none)."""

    model_config = pydantic.ConfigDict(extra="forbid")

    kind: str = "asha"
    grace_period: pydantic.PositiveInt = 2
    reduction_factor: float = pydantic.Field(3.0, gt=1.0)

    @pydantic.field_validator("kind")
    @classmethod
    def _registered(cls, kind: str) -> str:
        SCHEDULERS[kind]  # noqa: B018 (an unknown name raises, listing the known ones)
        return kind

    def build(self, max_epochs: int) -> Any:
        """The Tune scheduler for trials of at most ``max_epochs``."""
        return SCHEDULERS[self.kind](self, max_epochs)


@SCHEDULERS.add("asha")
def _asha(config: SchedulerConfig, max_epochs: int) -> Any:
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(
        max_t=max_epochs,
        grace_period=min(config.grace_period, max_epochs),
        reduction_factor=config.reduction_factor,
    )


@SCHEDULERS.add("hyperband")
def _hyperband(config: SchedulerConfig, max_epochs: int) -> Any:
    from ray.tune.schedulers import HyperBandScheduler

    return HyperBandScheduler(max_t=max_epochs, reduction_factor=config.reduction_factor)


@SCHEDULERS.add("fifo")
def _fifo(config: SchedulerConfig, max_epochs: int) -> Any:
    from ray.tune.schedulers import FIFOScheduler

    return FIFOScheduler()  # type: ignore[no-untyped-call]  # Ray leaves it unannotated
