"""The sweep's own record of its trials, a JSON file in the sweep directory.

Written by the driver only. ``status``, ``report`` and ``resume`` read it; it maps each Tune trial
to its MLflow child run, so a restarted trial continues its run instead of opening a second one.
"""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sweeps.protocol import Phase, TrialStatus


@dataclass
class TrialRecord:
    trial_id: str
    phase: Phase
    config: dict[str, Any]  # the TrialConfig, as a dict
    run_id: str | None = None
    status: TrialStatus = TrialStatus.RUNNING
    history: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    placement: dict[str, Any] = field(default_factory=dict)  # protocol.PLACEMENT of its last run
    logged_epochs: int = 0  # epochs already queued for MLflow (a restored trial repeats some)
    restarts: int = 0  # starts after the first: a lost node, a resumed sweep

    def __post_init__(self) -> None:  # as read back from JSON
        self.phase, self.status = Phase(self.phase), TrialStatus(self.status)

    @property
    def strategy(self) -> str:
        kind: str = self.config["strategy"]["kind"]
        return kind

    def best(self, metric: str, mode: str) -> float | None:
        values: list[float] = [
            h[metric] for h in self.history if metric in h and h[metric] == h[metric]
        ]
        if not values:
            return None
        return max(values) if mode == "max" else min(values)


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.trials: dict[str, TrialRecord] = {}
        if path.exists():
            for values in json.loads(path.read_text()).values():
                self.trials[values["trial_id"]] = TrialRecord(**values)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({k: asdict(v) for k, v in self.trials.items()}))
        os.replace(tmp, self.path)

    def of_phase(self, phase: Phase) -> list[TrialRecord]:
        return [t for t in self.trials.values() if t.phase == phase]
