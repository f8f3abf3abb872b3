"""What a sweep says, through logging, as Optuna and Ray Tune do: each module logs to its own
logger under ``sweeps``, and the CLI sets the level and the handler once (``show``). Used as a
library, a sweep says nothing below a warning until its caller configures logging (for example
``logging.basicConfig(level=logging.INFO)``)."""

import logging
import sys
from enum import StrEnum
from typing import TextIO

SWEEPS = logging.getLogger("sweeps")


class Verbosity(StrEnum):
    QUIET = "quiet"  # warnings and errors only (the CLI then prints the recommendation)
    NORMAL = "normal"  # progress, the leaderboard and the recommendation
    VERBOSE = "verbose"  # also Ray Tune's tables and the libraries' own messages

    @property
    def level(self) -> int:
        return {"quiet": logging.WARNING, "normal": logging.INFO, "verbose": logging.DEBUG}[self]


class _Stdout(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stdout`` is when it writes (a redirect, a test's capture)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def show(verbosity: Verbosity) -> None:
    """Print the sweep's messages on standard output from ``verbosity``'s level up; called
    again, it changes the level."""
    if not any(isinstance(handler, _Stdout) for handler in SWEEPS.handlers):
        SWEEPS.addHandler(_Stdout())
    SWEEPS.propagate = False
    SWEEPS.setLevel(verbosity.level)


def verbosity() -> Verbosity:
    """How much the sweep's messages show: what ``show`` set, or what the caller's logging
    lets through."""
    level = SWEEPS.getEffectiveLevel()
    if level <= logging.DEBUG:
        return Verbosity.VERBOSE
    return Verbosity.NORMAL if level <= logging.INFO else Verbosity.QUIET
