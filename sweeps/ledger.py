"""The sweep's own record of its trials, a JSON-lines file in the sweep directory.

Written by the driver only. ``status``, ``report`` and ``resume`` read it; it maps each Tune trial
to its MLflow child run, so a restarted trial continues its run instead of opening a second one.
"""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sweeps.json_lines import append_records, read_records
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
    """The trials by id, kept in a JSON-lines file: one line per record as it was saved, a later
    line replacing an earlier one of the same trial. Saving a trial appends its line (the cost
    does not grow with the sweep); the file is rewritten whole only when old lines outnumber the
    trials (amortised, also O(1) per save) and by ``save()`` without records."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.trials: dict[str, TrialRecord] = {}
        self._lines = 0
        self._rewrite_next = False  # still the layout before 2026-12 (trials.json, one object)
        legacy = path.with_suffix(".json")
        if not path.exists() and legacy.exists():
            for values in json.loads(legacy.read_text()).values():
                self.trials[values["trial_id"]] = TrialRecord(**values)
            self._rewrite_next = True
        for values in read_records(path):  # a line cut short by a crash: the one before stands
            self.trials[values["trial_id"]] = TrialRecord(**values)
            self._lines += 1

    def save(self, *records: TrialRecord) -> None:
        """Append ``records``; without any, write every trial afresh."""
        overgrown = self._lines + len(records) > 2 * len(self.trials) + 64
        if not records or self._rewrite_next or overgrown:
            self._rewrite()
            return
        append_records(self.path, (asdict(r) for r in records))
        self._lines += len(records)

    def _rewrite(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(asdict(r)) + "\n" for r in self.trials.values()))
        os.replace(tmp, self.path)
        self._lines, self._rewrite_next = len(self.trials), False

    def of_phase(self, phase: Phase) -> list[TrialRecord]:
        return [t for t in self.trials.values() if t.phase == phase]
