"""A sweep's directory: every file a sweep keeps, named once.

<storage_path>/<name>/
  spec.yaml            the spec as it runs (resume reads it)
  trials.jsonl         the ledger: every trial, its config, history and MLflow run
  sweep.json           the MLflow experiment and parent run
  optuna.db            the Optuna studies ("<name>.search", and "<name>.race" for --auto)
  search/              Ray Tune's run (its state, the trials' checkpoints)
  report.json, recommendation.txt, summary.html, leaderboard.json, strategies.json,
  best_config.yaml, plots/, model/   what the sweep concluded
  mlflow_outbox*       MLflow writes waiting to be sent (owned by the outbox)
"""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sweeps.errors import read_yaml

if TYPE_CHECKING:
    import optuna

SPEC_FILE = "spec.yaml"
SEARCH = "search"
RACE = "race"
"""The stages of a sweep, one Optuna study each: ``--auto`` races every strategy at its
defaults, then searches the winner. Both run in the one Tune run, ``SEARCH``."""


@dataclass(frozen=True)
class SweepDir:
    path: Path
    name: str  # the sweep's name (the directory may have been moved under another)

    @classmethod
    def open(cls, path: Path) -> "SweepDir":
        """An existing sweep directory, wherever it is now: its spec names the sweep."""
        path = Path(path).resolve()
        return cls(path, str(read_yaml(path / SPEC_FILE).get("name", path.name)))

    @property
    def spec(self) -> Path:
        return self.path / SPEC_FILE

    @property
    def ledger(self) -> Path:
        return self.path / "trials.jsonl"

    @property
    def tracking_state(self) -> Path:
        return self.path / "sweep.json"

    @property
    def study_storage(self) -> str:
        return f"sqlite:///{self.path / 'optuna.db'}"

    def study_name(self, stage: str) -> str:
        return f"{self.name}.{stage}"

    def load_study(self, stage: str) -> "optuna.Study | None":
        """The stage's Optuna study, or ``None`` before it was created."""
        import optuna

        try:
            return optuna.load_study(study_name=self.study_name(stage), storage=self.study_storage)
        except KeyError:
            return None

    @property
    def tune_run(self) -> Path:
        """Ray Tune's run (``storage_path / name`` of its RunConfig)."""
        return self.path / SEARCH

    @property
    def report(self) -> Path:
        return self.path / "report.json"

    @property
    def recommendation(self) -> Path:
        return self.path / "recommendation.txt"

    @property
    def summary(self) -> Path:
        """The parent run's page: recommendation, strategies, plots, leaderboard."""
        return self.path / "summary.html"

    @property
    def best_config(self) -> Path:
        return self.path / "best_config.yaml"

    @property
    def leaderboard(self) -> Path:
        return self.path / "leaderboard.json"

    @property
    def strategies(self) -> Path:
        return self.path / "strategies.json"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    @property
    def model(self) -> Path:
        return self.path / "model"

    def holds_sweep(self) -> bool:
        return self.ledger.exists()

    def holds_tune_state(self) -> bool:
        """Whether Tune saved its run's state here (an interrupted sweep can then continue)."""
        return any(self.tune_run.glob("experiment_state-*.json"))

    def trial_checkpoint(self, trial_id: str, file_name: str) -> Path | None:
        """The newest checkpoint file a trial of this sweep wrote, if on this disk (also in the
        separate race run of sweeps made before the race joined the search's run)."""
        found = sorted(self.path.glob(f"*/{trial_id}/checkpoint_*/{file_name}"))
        return found[-1] if found else None
