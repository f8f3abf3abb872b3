"""One yardstick for every method of the selection benchmark: the config a method delivers (a
sweep's best config, random search's best trial) trained again on the task's split with
``SEEDS`` model seeds and scored once each on the held-out test split, as the ground truth's
runs were (those are the yardstick of the fixed choices: a strategy at its defaults, a preset).
Regret is the ground truth's best mean test score minus this; it is below 0 where a delivered
config beats every strategy at its defaults."""

import hashlib
import json
import statistics
from pathlib import Path

from probe_core import EEGDataset, TrialConfig, run_trial
from search_spaces.config_paths import with_values

SEEDS = 5
METRIC = "balanced_accuracy"


class Yardstick:
    """Test scores of delivered configs, kept in a JSON file by the config's digest: a config
    that two methods deliver, or a rerun delivers again, is trained once."""

    def __init__(self, path: Path, seeds: int = SEEDS) -> None:
        self.path = path
        self.seeds = seeds
        self.scores: dict[str, list[float]] = json.loads(path.read_text()) if path.exists() else {}

    def test_scores(self, config: TrialConfig, dataset: EEGDataset) -> list[float]:
        """``config``'s test score with each model seed (its own seed replaced)."""
        key = _digest(config.model_copy(update={"seed": 0}))
        if len(self.scores.get(key, [])) < self.seeds:
            self.scores[key] = [
                run_trial(
                    with_values(config, {"seed": seed}), dataset, evaluate_test=True
                ).test_metrics[METRIC]
                for seed in range(self.seeds)
            ]
            self.path.write_text(json.dumps(self.scores, indent=1))
        return self.scores[key][: self.seeds]

    def regret(self, best: float, config: TrialConfig | None, dataset: EEGDataset) -> float:
        """``best`` minus ``config``'s mean test score on ``dataset`` (the task's target); all
        of ``best`` where nothing was delivered (a user would have nothing)."""
        if config is None:
            return best
        return best - statistics.mean(self.test_scores(config, dataset))


def _digest(config: TrialConfig) -> str:
    values = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(values.encode()).hexdigest()[:16]
