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

    def judge(self, best: float, config: TrialConfig | None, dataset: EEGDataset) -> dict:
        """What ``config`` scores on ``dataset`` (the task's target) and its config-level regret,
        ``best`` minus its mean test score: all of ``best`` where nothing was delivered (a user
        would have nothing)."""
        if config is None:
            return {"config_regret": best, "delivered": None}
        scores = self.test_scores(config, dataset)
        return {
            "config_regret": best - statistics.mean(scores),
            "delivered": {
                "strategy": config.strategy.kind,
                "lr": config.optimizer.lr,
                "test_scores": [round(score, 4) for score in scores],
            },
        }


def _digest(config: TrialConfig) -> str:
    values = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(values.encode()).hexdigest()[:16]
