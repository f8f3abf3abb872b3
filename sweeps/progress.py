"""One compact, updating line of progress instead of Ray Tune's tables.

    [1m12s] 9/16 trials · 2 running · 5 done · 2 pruned · 0 failed · best 0.953 (lora) · ~45s left

On a terminal the line rewrites itself; in a log (not a TTY) a line is printed every 10 s.
"""

import sys
import time
from typing import Any, TextIO

from ray import tune
from ray.tune.experiment import Trial

from sweeps import protocol


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class ProgressView(tune.Callback):
    def __init__(self, total: int, mode: str, stream: TextIO | None = None) -> None:
        self.total = total
        self.mode = mode
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.running: set[str] = set()
        self.counts = {"done": 0, "pruned": 0, "failed": 0}
        self.durations: list[float] = []
        self.started_at: dict[str, float] = {}
        self.best: tuple[float, str] | None = None
        self._last_draw = 0.0

    # with a Ray client (``ray://``) Tune's run is pickled: the view starts afresh there
    def __getstate__(self) -> dict[str, Any]:
        return {"total": self.total, "mode": self.mode}

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).__init__(self, state["total"], state["mode"])

    @property
    def interactive(self) -> bool:
        return hasattr(self.stream, "isatty") and self.stream.isatty()

    def on_trial_start(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self.running.add(trial.trial_id)
        self.started_at.setdefault(trial.trial_id, time.monotonic())

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict[str, Any], **info: Any
    ) -> None:
        value = result.get(protocol.BEST_VALUE)
        if value is None or value != value:
            return
        better = self.best is None or (
            value > self.best[0] if self.mode == "max" else value < self.best[0]
        )
        if better:
            self.best = (value, trial.config[protocol.TRIAL]["strategy"]["kind"])

    def _ended(self, trial: Trial, outcome: str) -> None:
        self.running.discard(trial.trial_id)
        self.counts[outcome] += 1
        started = self.started_at.pop(trial.trial_id, None)
        if started is not None:
            self.durations.append(time.monotonic() - started)
        self.draw(force=True)

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._ended(trial, "done" if trial.last_result.get(protocol.COMPLETED) else "pruned")

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._ended(trial, "failed")

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        self.draw()

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self.draw(force=True)
        if self.interactive:
            self.stream.write("\n")

    def line(self) -> str:
        ended = sum(self.counts.values())
        parts = [
            f"[{_duration(time.monotonic() - self.start):>6}] {ended}/{self.total} trials",
            f"{len(self.running)} running",
            f"{self.counts['done']} done",
            f"{self.counts['pruned']} pruned",
            f"{self.counts['failed']} failed",
        ]
        if self.best is not None:
            parts.append(f"best {self.best[0]:.3f} ({self.best[1]})")
        if self.durations and ended < self.total:
            parallel = max(len(self.running), 1)
            left = (self.total - ended) * sum(self.durations) / len(self.durations) / parallel
            parts.append(f"~{_duration(left)} left")
        return " · ".join(parts)

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        every = 0.5 if self.interactive else 10.0
        if not force and now - self._last_draw < every:
            return
        self._last_draw = now
        if self.interactive:
            self.stream.write("\r\033[K" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()
