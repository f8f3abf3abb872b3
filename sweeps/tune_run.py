"""Ray Tune wiring: a sweep as one Tune run (its trainable with resources, the Optuna searchers,
the scheduler, checkpointing, callbacks), started fresh or restored.

Decides nothing about the sweep: whether it races first, and what it concludes, is ``SweepRun``'s.
"""

from dataclasses import dataclass
from typing import Any, cast

import optuna
import ray
from ray import tune
from ray.tune.experiment import Trial
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from probe_core import EEGDataset
from search_spaces import (
    DeclarativeSpace,
    SamplerConfig,
    Space,
    SpaceContext,
    compose,
    get_space,
    space_distributions,
    warm_start,
)
from sweeps import protocol
from sweeps.confirming_search import ConfirmingSearcher
from sweeps.interrupts import InterruptWatcher
from sweeps.output import Verbosity, verbosity
from sweeps.progress import ProgressView
from sweeps.racing_search import RacingSearcher
from sweeps.runtime import allow_pending_trials, concurrency
from sweeps.spec import SweepSpec
from sweeps.sweep_dir import RACE, SEARCH, SweepDir
from sweeps.tracking import MlflowTracker
from sweeps.tracking_session import TrackingSession
from sweeps.trainable import ProbeTrainable


def _cpus(spec: SweepSpec) -> float:
    """CPUs per trial: a number once the spec is prepared (``plan_cpus`` resolves ``auto``)."""
    return cast(float, spec.resources.cpus)


def build_space(spec: SweepSpec) -> Space:
    parts = [
        get_space(entry) if isinstance(entry, str) else DeclarativeSpace(parameters=entry)
        for entry in spec.spaces
    ]
    return compose(parts)


class DefineByRun:
    """OptunaSearch's space: a sampled TrialConfig as the Tune config (picklable, as Tune saves
    its searcher with the experiment)."""

    def __init__(self, space: Space, context: SpaceContext, cpus: float) -> None:
        self.space, self.context, self.cpus = space, context, cpus

    def __call__(self, trial: optuna.Trial) -> dict[str, Any]:
        config = self.space(trial, self.context).model_dump(mode="json")
        return {protocol.TRIAL: config, protocol.CPUS: self.cpus}


def _searcher(
    spec: SweepSpec, context: SpaceContext, directory: SweepDir, stage: str
) -> OptunaSearch:
    space = build_space(spec)
    sampler = spec.sampler.build(space_distributions(space, context), context)
    metric: str | list[str] = protocol.BEST_VALUE
    mode: str | list[str] = spec.mode
    if spec.objectives:
        metric = [protocol.BEST_VALUE, *spec.objectives]
        mode = [spec.mode, *["min"] * len(spec.objectives)]
    warm = warm_start(context) if spec.warm_start and spec.sampler.name != "grid" else None
    return OptunaSearch(
        space=DefineByRun(space, context, _cpus(spec)),
        metric=metric,
        mode=mode,
        sampler=sampler,
        points_to_evaluate=warm[: spec.num_samples] if warm else None,
        storage=optuna.storages.RDBStorage(directory.study_storage),
        study_name=directory.study_name(stage),
    )


def trainable(spec: SweepSpec, data_ref: ray.ObjectRef[EEGDataset]) -> type[tune.Trainable]:
    """The trainable with the dataset (an object-store reference) and the trial's resources."""
    with_data = tune.with_parameters(ProbeTrainable, data=data_ref)
    resources = {"cpu": _cpus(spec), "gpu": spec.resources.gpus}
    # ray: with_resources is unannotated; given a Trainable class, it returns a subclass
    return cast(type[tune.Trainable], tune.with_resources(with_data, resources))


def _trial_dirname(trial: Trial) -> str:
    return trial.trial_id


def race_spec(spec: SweepSpec, strategies: list[str]) -> SweepSpec:
    """The ``--auto`` race: every strategy once, at its defaults, under the spec's scheduler
    (ASHA, the default, stops the weak ones early)."""
    grid = SamplerConfig(name="grid", seed=spec.sampler.seed, grid={"strategy": strategies})
    return spec.model_copy(
        update={
            "spaces": ["freeze_strategy_defaults"],
            "sampler": grid,
            "num_samples": len(strategies),
            "warm_start": False,
            "objectives": [],
        }
    )


class SearchOf:
    """The search of one strategy, the ``--auto`` race's winner (picklable, as Tune saves its
    searcher with the run)."""

    def __init__(self, spec: SweepSpec, context: SpaceContext, directory: SweepDir) -> None:
        self.spec, self.context, self.directory = spec, context, directory

    def __call__(self, winner: str) -> OptunaSearch:
        return _searcher(self.spec, self.context.restricted_to([winner]), self.directory, SEARCH)


@dataclass(frozen=True)
class TuneRunInputs:
    """What the sweep's Tune run is made of: the spec as it runs, the dataset in the object
    store, the search spaces' context, the MLflow session and the sweep directory."""

    spec: SweepSpec
    data_ref: ray.ObjectRef[EEGDataset]
    context: SpaceContext
    session: TrackingSession
    directory: SweepDir


def start_run(inputs: TuneRunInputs, *, race: list[str] | None = None) -> None:
    """The sweep's Tune run: the spec's search (of the winner of a ``race`` of these strategies
    at their defaults, when given), then the evaluation of its finalists. Progress shows as
    ``sweeps.output`` says: none when quiet, one updating line, or also Ray Tune's output."""
    spec, context, directory = inputs.spec, inputs.context, inputs.directory
    single_objective = not spec.objectives
    if race:  # the race ran every strategy at its defaults: no warm start after it
        no_warm_start = spec.model_copy(update={"warm_start": False})
        raced = _searcher(race_spec(spec, race), context, directory, RACE)
        searcher: Searcher = RacingSearcher(
            raced, len(race), SearchOf(no_warm_start, context, directory), spec.mode
        )
    else:
        searcher = _searcher(spec, context, directory, SEARCH)
    n_search = len(race or []) + spec.num_samples
    if spec.confirmation.trials:
        searcher = ConfirmingSearcher(searcher, n_search, spec.confirmation, spec.mode)
    total = n_search + spec.confirmation.trials
    tracker = MlflowTracker(inputs.session, directory, spec.metric, spec.mode)
    callbacks = [tracker, InterruptWatcher()]
    shown = verbosity()
    if shown != Verbosity.QUIET:
        callbacks.append(ProgressView(total, spec.mode))
    allow_pending_trials(concurrency(spec.max_concurrent, _cpus(spec)))
    tune.Tuner(
        trainable(spec, inputs.data_ref),
        tune_config=tune.TuneConfig(
            metric=protocol.BEST_VALUE if single_objective else None,
            mode=spec.mode if single_objective else None,
            search_alg=searcher,
            scheduler=spec.scheduler.build(spec.trial.training.max_epochs),
            num_samples=total,
            max_concurrent_trials=spec.max_concurrent,
            time_budget_s=spec.time_budget_s,
            reuse_actors=spec.reuse_actors,
            trial_dirname_creator=_trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=SEARCH,
            storage_path=str(directory.path),
            callbacks=callbacks,
            checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=1, num_to_keep=2),
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            verbose=1 if shown == Verbosity.VERBOSE else 0,  # Ray's own tables only when asked
        ),
    ).fit()


def restore_run(spec: SweepSpec, data_ref: ray.ObjectRef[EEGDataset], directory: SweepDir) -> bool:
    """Continue the sweep's Tune run where its driver stopped (its trials, searcher and
    callbacks come back from its saved state); False when there is none to continue."""
    path = str(directory.tune_run)
    if not tune.Tuner.can_restore(path):
        return False
    allow_pending_trials(concurrency(spec.max_concurrent, _cpus(spec)))
    tune.Tuner.restore(path, trainable(spec, data_ref), resume_errored=True).fit()
    return True
