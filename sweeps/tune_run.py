"""Ray Tune wiring: a sweep as one Tune run (its trainable with resources, the Optuna searchers,
the scheduler, checkpointing, callbacks), started fresh or resumed; both build every object
from the spec, so Tune's saved state holds data, not our classes.

Decides nothing about the sweep: whether it races first, and what it concludes, is ``SweepRun``'s.
"""

from dataclasses import dataclass
from operator import attrgetter
from typing import cast

import optuna
import ray
from ray import tune
from ray.tune import ResumeConfig

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
from sweeps.saved_state import SavedAsData
from sweeps.spec import SweepSpec
from sweeps.study_search import StudySearcher
from sweeps.sweep_dir import RACE, SEARCH, SweepDir
from sweeps.tracking import MlflowTracker
from sweeps.tracking_session import TrackingSession
from sweeps.trainable import ProbeTrainable
from sweeps.tune_state import (
    ForgetEndedTrialStatistics,
    bound_snapshot_cost,
    store_resumed_trials_in_place,
)


def _cpus(spec: SweepSpec) -> float:
    """CPUs per trial: a number once the spec is prepared (``plan_cpus`` resolves ``auto``)."""
    return cast(float, spec.resources.cpus)


def build_space(spec: SweepSpec) -> Space:
    parts = [
        get_space(entry) if isinstance(entry, str) else DeclarativeSpace(parameters=entry)
        for entry in spec.spaces
    ]
    return compose(parts)


def study_searcher(
    spec: SweepSpec, context: SpaceContext, directory: SweepDir, stage: str
) -> StudySearcher:
    """The search of one stage, on its study in the sweep's Optuna storage. A study that holds
    trials already (a resumed sweep) goes on with its sampler seeded past them, and is not
    warm-started again."""
    space = build_space(spec)
    held = directory.load_study(stage)
    n_held = len(held.trials) if held is not None else 0
    sampler = spec.sampler.model_copy(update={"seed": spec.sampler.seed + n_held})
    metric: str | list[str] = protocol.BEST_VALUE
    mode: str | list[str] = spec.mode
    if spec.objectives:
        metric = [protocol.BEST_VALUE, *spec.objectives]
        mode = [spec.mode, *["min"] * len(spec.objectives)]
    modes = mode if isinstance(mode, list) else [mode]
    study = optuna.create_study(
        storage=optuna.storages.RDBStorage(directory.study_storage),
        study_name=directory.study_name(stage),
        sampler=sampler.build(space_distributions(space, context), context),
        directions=["maximize" if m == "max" else "minimize" for m in modes],
        load_if_exists=True,
    )
    if not n_held and spec.warm_start and spec.sampler.name != "grid":
        for params in warm_start(context, spec.warm_start_lr_factors)[: spec.num_samples]:
            study.enqueue_trial(params)
    return StudySearcher(study, space, context, cpus=_cpus(spec), metric=metric, mode=mode)


def trainable(spec: SweepSpec, data_ref: ray.ObjectRef[EEGDataset]) -> type[tune.Trainable]:
    """The trainable with the dataset (an object-store reference) and the trial's resources."""
    with_data = tune.with_parameters(ProbeTrainable, data=data_ref)
    resources = {"cpu": _cpus(spec), "gpu": spec.resources.gpus}
    # ray: with_resources is unannotated; given a Trainable class, it returns a subclass
    return cast(type[tune.Trainable], tune.with_resources(with_data, resources))


def race_spec(spec: SweepSpec, context: SpaceContext) -> SweepSpec:
    """The ``--auto`` race: every strategy at its defaults and each of the warm start's learning
    rates, under the spec's scheduler (ASHA, the default, stops the weak ones early). Each trial
    is enqueued (``warm_start``), so the sampler draws nothing; the race study holds them all
    from its start, which tells a resumed sweep how long its race is."""
    return spec.model_copy(
        update={
            "spaces": ["freeze_strategy_defaults", "optimizer"],
            "sampler": SamplerConfig(name="random", seed=spec.sampler.seed),
            "num_samples": len(warm_start(context, spec.warm_start_lr_factors)),
            "warm_start": True,
            "objectives": [],
        }
    )


class SearchOf:
    """The search of one strategy, the ``--auto`` race's winner."""

    def __init__(self, spec: SweepSpec, context: SpaceContext, directory: SweepDir) -> None:
        self.spec, self.context, self.directory = spec, context, directory

    def __call__(self, winner: str) -> StudySearcher:
        return study_searcher(
            self.spec, self.context.restricted_to([winner]), self.directory, SEARCH
        )


@dataclass(frozen=True)
class TuneRunInputs:
    """What the sweep's Tune run is made of: the spec as it runs, the dataset in the object
    store, the search spaces' context, the MLflow session, the sweep directory, and the metric's
    chance level on the whole data."""

    spec: SweepSpec
    data_ref: ray.ObjectRef[EEGDataset]
    context: SpaceContext
    session: TrackingSession
    directory: SweepDir
    chance: float


def run_search(inputs: TuneRunInputs, *, auto: bool, resume: bool = False) -> None:
    """The sweep's Tune run: the spec's search (``auto``: of the winner of a race of every
    strategy at its defaults), then the evaluation of its finalists. ``resume``: continue
    the run an interrupted driver saved; its searchers are built afresh, as here, and load what
    they saved (``sweeps.saved_state``). Progress shows as ``sweeps.output`` says: none when
    quiet, one updating line, or also Ray Tune's output."""
    spec, context, directory = inputs.spec, inputs.context, inputs.directory
    single_objective = not spec.objectives
    searcher: SavedAsData
    n_race = 0
    if auto:  # the race ran every strategy at its defaults: no warm start after it
        no_warm_start = spec.model_copy(update={"warm_start": False})
        raced = study_searcher(race_spec(spec, context), context, directory, RACE)
        n_race = len(raced.study.trials)
        searcher = RacingSearcher(
            raced, n_race, SearchOf(no_warm_start, context, directory), spec.mode
        )
    else:
        searcher = study_searcher(spec, context, directory, SEARCH)
    n_search = n_race + spec.num_samples
    if spec.confirmation.trials:
        searcher = ConfirmingSearcher(
            searcher,
            n_search,
            spec.confirmation,
            metric=spec.metric,
            mode=spec.mode,
            chance=inputs.chance,
        )
    total = n_search + spec.confirmation.trials
    tracker = MlflowTracker(inputs.session, directory, spec.metric, spec.mode)
    callbacks = [tracker, InterruptWatcher(), ForgetEndedTrialStatistics()]
    shown = verbosity()
    if shown != Verbosity.QUIET:
        callbacks.append(ProgressView(total, spec.mode))
    allow_pending_trials(concurrency(spec.max_concurrent, _cpus(spec)))
    bound_snapshot_cost()
    store_resumed_trials_in_place()
    tune.run(
        trainable(spec, inputs.data_ref),
        name=SEARCH,
        storage_path=str(directory.path),
        metric=protocol.BEST_VALUE if single_objective else None,
        mode=spec.mode if single_objective else None,
        search_alg=searcher,
        scheduler=spec.scheduler.build(spec.trial.training.max_epochs),
        num_samples=total,
        max_concurrent_trials=spec.max_concurrent,
        time_budget_s=spec.time_budget_s,
        reuse_actors=spec.reuse_actors,
        trial_dirname_creator=attrgetter("trial_id"),  # no function of ours in Tune's state
        callbacks=callbacks,
        checkpoint_config=spec.checkpoints.build(),
        max_failures=spec.max_failures,
        raise_on_failed_trial=False,  # failed trials are the sweep's to report
        verbose=1 if shown == Verbosity.VERBOSE else 0,  # Ray's own tables only when asked
        resume_config=ResumeConfig(errored="resume") if resume else None,
    )
