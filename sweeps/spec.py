"""SweepSpec: everything a sweep needs, in one YAML file.

name: quickstart
data: {kind: synthetic, subjects: [8, 9, 10, 11]}
trial: {backbone: {name: ShallowFBCSPNet}, training: {max_epochs: 8}}
spaces: [freeze_strategy, probe_head, optimizer]
num_samples: 16
"""

from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from ray import tune

from probe_core import DataConfig, PretrainConfig, TrialConfig
from probe_core.classical import ReferenceConfig
from probe_core.metrics import LOWER_IS_BETTER
from search_spaces import DeclarativeSpace, SamplerConfig
from search_spaces.declarative import Parameter
from sweeps.errors import read_yaml, validated
from sweeps.schedulers import SchedulerConfig
from sweeps.sweep_dir import SweepDir


class _Config(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class Resources(_Config):
    """Per trial. Fractional GPUs pack several trials on one GPU; without CUDA trials use CPUs.

    ``cpus: auto`` (the default) measures, on a local runtime, whether more trials at once or
    more threads per trial train faster (``probe_core.parallelism``); on a cluster or with GPUs
    it is 1."""

    cpus: pydantic.PositiveFloat | Literal["auto"] = "auto"
    gpus: pydantic.NonNegativeFloat = 0.0

    @pydantic.field_validator("cpus", mode="before")
    @classmethod
    def _number_or_auto(cls, value: object) -> object:
        if value == "auto" or (
            isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        ):
            return value
        raise ValueError("CPUs per trial: a positive number, or auto")


class Tracking(_Config):
    """MLflow: a local SQLite file by default, or a tracking server URI."""

    uri: str = "sqlite:///mlflow.db"
    experiment: str | None = None  # default: the sweep's name
    register_model: str | None = None  # model-registry name for the recommended model
    flush_timeout_s: pydantic.NonNegativeFloat = 30.0
    """How long the end of a sweep waits for an unreachable server before leaving the unsent
    records on disk (for ``probe-sweep sync``)."""


class Confirmation(_Config):
    """Before recommending, the ``finalists`` best strategies of the search are evaluated
    again by repeated cross-validation: each one's best config on ``folds`` folds × ``seeds``
    repetitions (each repetition with fresh folds and a fresh model seed), each fold's model
    scored at the epoch its own validation part picked; the folds score only examples the
    search trained on, and the finalists are compared paired by fold and repetition
    (``sweeps/recommendation.py``). ``seeds: 0`` skips it: the recommendation is then the
    search's best trial, without an interval."""

    seeds: pydantic.NonNegativeInt = 2  # repetitions of the k folds
    folds: int = pydantic.Field(3, ge=2)
    finalists: pydantic.PositiveInt = 2
    equivalence: pydantic.NonNegativeFloat = 0.01
    """A difference of the metric that counts as a tie (when within noise too): then the
    cheaper finalist is recommended."""
    top_k: pydantic.PositiveInt = 3  # strategies are ranked by best and top-k mean
    learning_rate_factors: list[pydantic.PositiveFloat] = [0.3, 3.0]
    """Once the verdict has recommended a finalist, its best config is also evaluated at its
    learning rate times each factor, on the same folds and repetitions; the learning rate whose
    paired difference to the search's is the best (if above 0) is the one delivered
    (``best_config.yaml``): a search of a few trials per strategy rarely lands on the best one
    (docs/SELECTION.md measures what it gains). Empty: the search's learning rate is
    delivered."""

    @pydantic.field_validator("learning_rate_factors")
    @classmethod
    def _not_one(cls, factors: list[float]) -> list[float]:
        if 1.0 in factors or len(set(factors)) < len(factors):
            raise ValueError("distinct factors other than 1 (1 is the finalist itself)")
        return factors

    @property
    def trials(self) -> int:
        """Evaluation trials at most (fewer when fewer strategies reported)."""
        return (self.finalists + len(self.learning_rate_factors)) * self.folds * self.seeds


class Checkpoints(_Config):
    """A trial's saved state (weights, optimizer, history), under ``storage_path``: what a trial
    restarted after a failure, or a resumed sweep, continues from, and what the best trial's
    final evaluation loads. Saved every ``every_epochs`` epochs and at the trial's end (``0``:
    at the end only; a failed trial then starts again); the newest ``keep`` are kept. Every
    epoch costs nothing for small models; a foundation model's checkpoint is GBs, written by
    every running trial to shared storage (docs/SCALE.md)."""

    every_epochs: pydantic.NonNegativeInt = 1
    keep: pydantic.PositiveInt = 2

    def build(self) -> tune.CheckpointConfig:
        return tune.CheckpointConfig(
            checkpoint_frequency=self.every_epochs, num_to_keep=self.keep, checkpoint_at_end=True
        )


Objective = Literal["trainable_params", "epoch_time"]
SpaceEntry = str | Annotated[list[Parameter], pydantic.Field(min_length=1)]


class SweepSpec(_Config):
    name: str = pydantic.Field(pattern=r"^[A-Za-z0-9_.-]+$")
    data: DataConfig
    trial: TrialConfig
    pretrain: PretrainConfig | None = None
    spaces: list[SpaceEntry] = ["freeze_strategy", "probe_head", "optimizer"]
    sampler: SamplerConfig = SamplerConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    num_samples: pydantic.PositiveInt = 16
    max_concurrent: pydantic.PositiveInt | None = None
    resources: Resources = Resources()
    time_budget_s: pydantic.PositiveFloat | None = None
    reuse_actors: bool = True
    """Run the next trial in a finished trial's process (no new imports, ~7 s on 2 cores); turn
    off for a fresh process per trial."""
    max_failures: pydantic.NonNegativeInt = 2
    """Restarts of a failed trial from its last checkpoint (a lost node); a trial that keeps
    failing (an error in the trial itself) ends FAILED."""
    checkpoints: Checkpoints = Checkpoints()
    warm_start: bool = True
    """Try every strategy at its defaults first, before the sampler exploits one."""
    warm_start_lr_factors: list[pydantic.PositiveFloat] = pydantic.Field([1.0, 10.0], min_length=1)
    """The warm start's learning rates, as factors of the trial's own (clipped into the
    optimiser space's range); every strategy at the first before any at the next. Two rates let
    the scheduler's first cut compare strategies each near its own good rate, not all at one
    that suits the fastest learner (docs/SELECTION.md); ``[1]`` is the base rate only.
    ``--auto``'s race is these trials."""
    objectives: list[Objective] = []
    """Extra objectives to minimise next to the metric (multi-objective; use sampler nsga2)."""
    confirmation: Confirmation = Confirmation()
    reference: ReferenceConfig | None = ReferenceConfig()
    """The classical reference, scored on the finalists' folds and the test split (``null``:
    none)."""
    tracking: Tracking = Tracking()
    storage_path: Path = Path("probe_sweeps")
    ray_address: str | None = None

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> "SweepSpec":
        if self.trial.data is not None:
            raise ValueError("trial.data: give the data once, at the top level (data:)")
        if self.objectives and self.scheduler.kind != "fifo":
            raise ValueError("objectives: multi-objective sweeps need scheduler kind 'fifo'")
        for entry in self.spaces:
            if not isinstance(entry, str):
                DeclarativeSpace(parameters=entry).check_conditions(self.trial)
        return self

    @property
    def metric(self) -> str:
        return f"val_{self.trial.training.metric}"

    @property
    def mode(self) -> str:
        return "min" if self.trial.training.metric in LOWER_IS_BETTER else "max"

    @property
    def experiment(self) -> str:
        return self.tracking.experiment or self.name

    def base_trial(self) -> TrialConfig:
        """The trial every sampled config starts from: the spec's data, and the pretrained
        checkpoint when the spec pretrains one."""
        update: dict[str, Any] = {"data": self.data}
        if self.pretrain is not None and self.trial.backbone.checkpoint is None:
            update["backbone"] = self.trial.backbone.model_copy(
                update={"checkpoint": str(self.pretrain.output)}
            )
        return self.trial.model_copy(update=update)

    def sweep_dir(self) -> SweepDir:
        return SweepDir(self.storage_path / self.name, self.name)

    def to_yaml(self) -> str:
        text: str = yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
        return text


def load_spec(path: Path, overrides: dict[str, Any] | None = None) -> SweepSpec:
    """Read a spec (safe YAML only), with ``overrides`` of its top-level fields, and relative
    file paths made absolute from the current directory, so that trials on any node find
    them."""
    values = {**read_yaml(path), **(overrides or {})}
    return absolute_paths(validated(SweepSpec, values, path))


def load_sweep_spec(directory: SweepDir) -> SweepSpec:
    """The spec a sweep runs with, from its directory. Its ``spec.yaml`` holds every field, so a
    field missing there did not exist when the sweep started: it is read as the sweep ran, not
    as today's default (a sweep started before the learning-rate step was on by default
    resumes without it)."""
    values = read_yaml(directory.spec)
    confirmation = values.get("confirmation")
    if isinstance(confirmation, dict):
        values["confirmation"] = {"learning_rate_factors": [], **confirmation}
    return absolute_paths(validated(SweepSpec, values, directory.spec))


def absolute_paths(spec: SweepSpec) -> SweepSpec:
    def fix(path: Path | str) -> str:
        return str(Path(path).expanduser().resolve())

    data = spec.data
    if hasattr(data, "paths"):
        data = data.model_copy(update={"paths": [Path(fix(p)) for p in data.paths]})
    elif hasattr(data, "path"):
        data = data.model_copy(update={"path": Path(fix(data.path))})
    trial = spec.trial
    checkpoint = trial.backbone.checkpoint
    if checkpoint is not None and (Path(checkpoint).suffix or Path(checkpoint).exists()):
        trial = trial.model_copy(
            update={"backbone": trial.backbone.model_copy(update={"checkpoint": fix(checkpoint)})}
        )
    pretrain = spec.pretrain
    if pretrain is not None:
        pretrain = pretrain.model_copy(update={"output": Path(fix(pretrain.output))})
    return spec.model_copy(
        update={
            "data": data,
            "trial": trial,
            "pretrain": pretrain,
            "storage_path": Path(fix(spec.storage_path)),
        }
    )
