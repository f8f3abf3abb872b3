"""Signal units: what a trial's signal is measured in, and a check that the numbers fit it.

MNE keeps EEG in volts (~1e-5); EEG models are trained on microvolts (braindecode's examples
scale by 1e6). Given volts, ShallowFBCSPNet and EEGConformer stay at chance without any error,
so every data source converts to a declared unit (µV by default) and the spread of the result is
checked against what EEG can have in that unit.
"""

import logging
from typing import ClassVar, Literal

import numpy as np
import pydantic

from probe_core.errors import DataError

LOGGER = logging.getLogger(__name__)

Unit = Literal["uV", "mV", "V"]
MICROVOLTS: dict[str, float] = {"uV": 1.0, "mV": 1e3, "V": 1e6}

PLAUSIBLE_UV = (0.1, 1e3)
"""Median channel standard deviation of scalp EEG, in µV, outside which a load warns: about
5-50 µV raw, a few µV band-passed, up to a millivolt with drifts left in."""
POSSIBLE_UV = (1e-3, 1e5)
"""Outside this (a nanovolt, a tenth of a volt) the unit cannot be meant: the load fails."""


def signal_spread(X: np.ndarray, max_epochs: int = 256) -> float:
    """The median over channels of each channel's standard deviation (a few hundred epochs
    spread over the data suffice, and keep a large dataset's load fast)."""
    rows = np.linspace(0, len(X) - 1, num=min(len(X), max_epochs)).round().astype(int)
    sample = X[np.unique(rows)].astype(np.float64)
    return float(np.median(sample.std(axis=(0, 2))))


def check_scale(X: np.ndarray, unit: Unit, factor: float, source: str) -> None:
    """Warn (one line) or refuse when ``X``, in ``unit`` after multiplying the stored values by
    ``factor``, has a spread that no EEG has in that unit; name the scaling that would fit."""
    spread = signal_spread(X)
    in_uv = spread * MICROVOLTS[unit]
    if not np.isfinite(spread) or PLAUSIBLE_UV[0] <= in_uv <= PLAUSIBLE_UV[1]:
        return  # NaN/Inf values are refused by the dataset's own check, which says where
    message = (
        f"{source}: the signal's spread (median channel standard deviation) is {spread:.3g} "
        f"{unit}, which no EEG has in {unit}{_hint(spread / factor, unit)}"
    )
    if POSSIBLE_UV[0] <= in_uv <= POSSIBLE_UV[1]:
        LOGGER.warning("%s", message)
        return
    raise DataError(message)


def _hint(stored_spread: float, unit: Unit) -> str:
    """Which unit the stored values look like, and the ``scaling`` from it to ``unit``."""
    for stored_unit, microvolts in MICROVOLTS.items():
        if PLAUSIBLE_UV[0] <= stored_spread * microvolts <= PLAUSIBLE_UV[1]:
            scaling = microvolts / MICROVOLTS[unit]
            return (
                f"; the stored values look like {stored_unit}: set data.scaling: {scaling:g} "
                f"(the factor from the stored values to {unit})"
            )
    return "; set data.unit or data.scaling to what the file holds"


class SignalUnits(pydantic.BaseModel):
    """The unit a trial sees the signal in, and how the stored values get there.

    - ``unit``: the signal's unit in every trial (recorded with the trial's config).
    - ``scaling``: the factor from the values as stored to ``unit``; by default, from what the
      format stores (MNE: volts; a file without units: ``unit`` itself).

    The loaded signal is checked against ``unit`` (EEG channels only): a spread that no EEG has
    in it gets a warning, or an error where the unit cannot be meant.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    stored_unit: ClassVar[Unit | None] = None
    """What the format stores its values in (MNE: volts); ``None``: no unit of its own."""

    unit: Unit = "uV"
    scaling: pydantic.PositiveFloat | None = None

    @property
    def factor(self) -> float:
        """The factor applied to the stored values."""
        if self.scaling is not None:
            return self.scaling
        return MICROVOLTS[self.stored_unit or self.unit] / MICROVOLTS[self.unit]

    def in_unit(self, X: np.ndarray, source: str, eeg: bool = True) -> np.ndarray:
        """``X`` (float32) in ``unit``, checked when it is EEG (MEG and other channel types have
        their own scales: set ``scaling`` for them)."""
        if self.factor != 1.0:
            X = np.multiply(X, np.float32(self.factor), dtype=np.float32)
        if eeg:
            check_scale(X, self.unit, self.factor, source)
        return X
