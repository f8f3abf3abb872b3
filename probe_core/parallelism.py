"""How many trials to run at once on this CPU, and with how many threads each: measured.

Two trials with one thread each beat one trial with two threads only where the model does not
use the second thread well. That depends on the CPU, the torch build (oneDNN on or off: see
``numerics.py``) and the model, so no rule tells; a second of training steps does. Each option
runs its trials side by side, as threads of this process with a copy of the model each, on a
batch of the sweep's own data: forward and backward through the whole model, as a full
fine-tune trains. The optimiser's step is left out (it is small, and building an optimiser
imports torch's compiler: 1.8 s).
"""

import copy
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from probe_core.assembly import build_model, example_batch
from probe_core.dataset import EEGDataset
from probe_core.numerics import guard_convolutions
from probe_core.trial_config import TrialConfig

CLOSE = 0.9
"""An option with more trials at once is kept when it reaches this share of the fastest one:
side-by-side threads share the interpreter lock, which separate trial processes do not, so the
measurement is a little unfair to them."""


@dataclass(frozen=True)
class Option:
    trials: int  # at once
    threads: int  # torch threads (and CPUs) per trial
    rate: float = 0.0  # training examples per second of all its trials together

    def __str__(self) -> str:
        trials = f"{self.trials} trial{'s' * (self.trials > 1)}"
        return f"{trials} × {self.threads} thread{'s' * (self.threads > 1)}"


@dataclass(frozen=True)
class Parallelism:
    chosen: Option
    measured: tuple[Option, ...]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Parallelism":
        measured = tuple(Option(**option) for option in values["measured"])
        return cls(Option(**values["chosen"]), measured)

    def describe(self) -> str:
        rates = [f"{self.chosen.rate:.0f} training examples/s"]
        rates += [
            f"{option}: {option.rate:.0f}" for option in self.measured if option != self.chosen
        ]
        return f"{self.chosen} at a time ({'; '.join(rates)})"


def options(cpus: int, max_trials: int) -> list[Option]:
    """Threads per trial worth measuring (powers of two up to ``cpus``, and ``cpus``), each
    with as many trials at once as the CPUs allow."""
    threads = [1]
    while threads[-1] * 2 <= cpus:
        threads.append(threads[-1] * 2)
    if threads[-1] != cpus:
        threads.append(cpus)
    return [Option(max(min(cpus // t, max_trials), 1), t) for t in threads]


def choose(measured: list[Option]) -> Parallelism:
    """Of the options that come ``CLOSE`` to the fastest, the one with the most trials at once
    (the fastest of those)."""
    fastest = max(option.rate for option in measured)
    close = [option for option in measured if option.rate >= CLOSE * fastest]
    chosen = max(close, key=lambda option: (option.trials, option.rate))
    return Parallelism(chosen, tuple(measured))


def measure_parallelism(
    config: TrialConfig, data: EEGDataset, cpus: int, max_trials: int, window_s: float = 0.2
) -> Parallelism:
    """Run each of the ``options`` for about ``window_s`` and keep the one with the most
    training examples per second (with the kernels a trial would use: guarded first)."""
    guard_convolutions()
    model, _ = build_model(config, data)
    model.train()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    n = min(config.training.batch_size, len(data.y))
    batch = example_batch(config, data, n)
    target = torch.from_numpy(data.y[:n]).long()
    previous = torch.get_num_threads()
    measured = []
    try:
        for option in options(cpus, max_trials):
            torch.set_num_threads(option.threads)
            copies = [copy.deepcopy(model) for _ in range(option.trials)]
            rate = _steps_side_by_side(copies, batch, target, window_s) * n
            measured.append(Option(option.trials, option.threads, rate))
    finally:
        torch.set_num_threads(previous)
    return choose(measured)


def _steps_side_by_side(
    models: Sequence[nn.Module], batch: dict[str, Any], target: torch.Tensor, window_s: float
) -> float:
    """Training steps per second of ``models`` trained at once, each in its own thread."""

    def train_step(model: nn.Module) -> None:
        loss = nn.functional.cross_entropy(model(**batch).float(), target)
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        model.zero_grad(set_to_none=True)

    counts = [0] * len(models)
    window: dict[str, float] = {}

    def open_window() -> None:  # once every warm-up is done, before any thread goes on
        window["began"] = time.perf_counter()
        window["ends"] = window["began"] + window_s

    start = threading.Barrier(len(models), action=open_window)

    def run(i: int) -> None:
        train_step(models[i])  # warm-up, side by side too: the first step allocates
        start.wait()
        while counts[i] == 0 or time.perf_counter() < window["ends"]:
            train_step(models[i])
            counts[i] += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(len(models))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - window["began"])
