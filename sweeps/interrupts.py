"""Ctrl-C during a sweep: Tune stops its trials and saves its state; we say how to resume."""

import contextlib
import signal
import threading
from pathlib import Path
from typing import Any

from ray import tune

_INTERRUPTED = threading.Event()


class SweepInterrupted(Exception):
    """The user stopped the sweep; its state is saved in ``sweep_dir``."""

    def __init__(self, sweep_dir: Path) -> None:
        super().__init__(
            f"interrupted: trials stopped and the sweep's state saved in {sweep_dir}; "
            f"finish it with: probe-sweep resume {sweep_dir}"
        )


class InterruptWatcher(tune.Callback):
    """Notices the SIGINT that Tune turns into a graceful stop (``fit()`` then returns as if the
    sweep had ended). Tune installs its handler before callbacks are set up; we chain to it.

    The flag is process-wide, not the callback's: with a Ray client (``ray://``) Tune runs a
    pickled copy of it."""

    def setup(self, *args: Any, **info: Any) -> None:  # Tune's arguments are not used
        _INTERRUPTED.clear()
        tune_handler = signal.getsignal(signal.SIGINT)

        def note_and_forward(signum: int, frame: Any) -> None:
            _INTERRUPTED.set()
            if callable(tune_handler):
                tune_handler(signum, frame)

        # outside the main thread Tune does not catch SIGINT either
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGINT, note_and_forward)


def raise_if_interrupted(sweep_dir: Path) -> None:
    if _INTERRUPTED.is_set():
        raise SweepInterrupted(sweep_dir)
