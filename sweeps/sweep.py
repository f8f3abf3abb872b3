"""Run a sweep: spec → Ray Tune (Optuna search, ASHA) → MLflow → recommendation.

The data is loaded once on the driver and shared through the object store; trials run in
reused actors; MLflow is written from the driver only.
"""

import contextlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import optuna
import ray
from ray import tune
from ray.tune.search.optuna import OptunaSearch

from probe_core import EEGDataset, PretrainConfig, TrialConfig, build_model, pretrain
from probe_core.numerics import guard_convolutions
from search_spaces import (
    DeclarativeSpace,
    SamplerConfig,
    Space,
    SpaceContext,
    candidate_strategies,
    compose,
    get_space,
    make_context,
    space_distributions,
    warm_start,
)
from sweeps.confirming_search import ConfirmingSearcher
from sweeps.interrupts import InterruptWatcher, raise_if_interrupted
from sweeps.ledger import Ledger
from sweeps.outbox import describe_unsent
from sweeps.progress import ProgressView
from sweeps.publish import load_study, publish_report
from sweeps.report import (
    Confirmation,
    Recommendation,
    StrategyRank,
    format_leaderboard,
    leaderboard,
    rank_strategies,
    recommend,
)
from sweeps.runtime import allow_pending_trials, cluster_capacity, concurrency, connect
from sweeps.spec import SweepSpec
from sweeps.tracking import MlflowTracker
from sweeps.tracking_session import (
    PARENT,
    TrackingSession,
    check_reachable,
    open_session,
    resolve_uri,
)
from sweeps.trainable import CHECKPOINT_FILE, ProbeTrainable

LOGGER = logging.getLogger(__name__)
STUDY_FILE = "optuna.db"


class SweepError(ValueError):
    """A sweep that cannot start, with a message for the user."""


@dataclass
class SweepOutcome:
    sweep_dir: Path
    session: TrackingSession
    board: list[dict]
    ranks: list[StrategyRank]
    recommendation: Recommendation | None


def ensure_pretrained(config: PretrainConfig | None, say=print) -> None:
    """Pretrain the backbone unless its checkpoint already exists (a cache across runs)."""
    if config is None or config.output.exists():
        return
    say(f"pretraining {config.backbone.name} on {config.data.kind} data → {config.output}")
    result = pretrain(config)
    say(f"  pretrained: validation balanced accuracy {result.val_metrics['balanced_accuracy']:.3f}")


def build_space(spec: SweepSpec) -> Space:
    parts = [
        get_space(entry) if isinstance(entry, str) else DeclarativeSpace(parameters=entry)
        for entry in spec.spaces
    ]
    return compose(parts)


def check_resources(spec: SweepSpec) -> None:
    """Refuse a request no node can ever satisfy, instead of waiting forever."""
    capacity = cluster_capacity()
    wanted = {"CPU": spec.resources.cpus, "GPU": spec.resources.gpus}
    for name, amount in wanted.items():
        if amount > capacity.get(name, 0.0):
            raise SweepError(
                f"resources.{name.lower()}s={amount:g} per trial, but the Ray cluster has "
                f"{capacity.get(name, 0.0):g} {name}s in total"
            )


def _trainable(spec: SweepSpec, data_ref: EEGDataset):
    trainable = tune.with_parameters(ProbeTrainable, data=data_ref)
    return tune.with_resources(trainable, {"cpu": spec.resources.cpus, "gpu": spec.resources.gpus})


def _study_storage(sweep_dir: Path) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(f"sqlite:///{sweep_dir / STUDY_FILE}")


class DefineByRun:
    """OptunaSearch's space: a sampled TrialConfig as the Tune config (picklable, as Tune saves
    its searcher with the experiment)."""

    def __init__(self, space: Space, context: SpaceContext, cpus: float) -> None:
        self.space, self.context, self.cpus = space, context, cpus

    def __call__(self, trial: optuna.Trial) -> dict:
        return {"trial": self.space(trial, self.context).model_dump(mode="json"), "cpus": self.cpus}


def _searcher(
    spec: SweepSpec, space: Space, context: SpaceContext, sweep_dir: Path, study_name: str
) -> OptunaSearch:
    define_by_run = DefineByRun(space, context, spec.resources.cpus)
    sampler = spec.sampler.build(space_distributions(space, context), context)
    metric: str | list[str] = "best_value"
    mode: str | list[str] = spec.mode
    if spec.objectives:
        metric = ["best_value", *spec.objectives]
        mode = [spec.mode, *["min"] * len(spec.objectives)]
    warm = warm_start(context) if spec.warm_start and spec.sampler.name != "grid" else None
    if warm:
        warm = warm[: spec.num_samples]
    return OptunaSearch(
        space=define_by_run,
        metric=metric,
        mode=mode,
        sampler=sampler,
        points_to_evaluate=warm,
        storage=_study_storage(sweep_dir),
        study_name=study_name,
    )


def _scheduler(spec: SweepSpec):
    max_epochs = spec.trial.training.max_epochs
    kind = spec.scheduler.kind
    if kind == "asha":
        return tune.schedulers.ASHAScheduler(
            max_t=max_epochs,
            grace_period=min(spec.scheduler.grace_period, max_epochs),
            reduction_factor=spec.scheduler.reduction_factor,
        )
    if kind == "hyperband":
        return tune.schedulers.HyperBandScheduler(
            max_t=max_epochs, reduction_factor=spec.scheduler.reduction_factor
        )
    return tune.schedulers.FIFOScheduler()


def _run_config(spec: SweepSpec, sweep_dir: Path, name: str, callbacks: list, verbosity: str):
    return tune.RunConfig(
        name=name,
        storage_path=str(sweep_dir),
        callbacks=callbacks,
        checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=1, num_to_keep=2),
        failure_config=tune.FailureConfig(max_failures=spec.max_failures),
        verbose=1 if verbosity == "verbose" else 0,  # Ray's own tables only when asked
    )


def _trial_dirname(trial) -> str:
    return trial.trial_id


def ledger_path(sweep_dir: Path) -> Path:
    return sweep_dir / "trials.json"


def search(
    spec: SweepSpec,
    data_ref,
    context: SpaceContext,
    session: TrackingSession,
    sweep_dir: Path,
    stage: str = "search",
    verbosity: str = "normal",
) -> None:
    """One Tune run of ``spec``'s search, then its confirmation trials (``stage`` names its Tune
    run and Optuna study; the ``--auto`` race has no confirmation). ``verbosity``: quiet (no
    progress), normal (one updating progress line), verbose (also Ray Tune's own output)."""
    single_objective = not spec.objectives
    searcher = _searcher(spec, build_space(spec), context, sweep_dir, f"{spec.name}.{stage}")
    n_confirmations = 2 * spec.confirmation.seeds if stage == "search" else 0
    if n_confirmations:
        searcher = ConfirmingSearcher(
            searcher, spec.num_samples, spec.confirmation.seeds, spec.confirmation.top_k, spec.mode
        )
    tracker = MlflowTracker(session, sweep_dir, spec.metric, spec.mode)
    callbacks = [tracker, InterruptWatcher()]
    if verbosity != "quiet":
        callbacks.append(ProgressView(spec.num_samples + n_confirmations, spec.mode))
    allow_pending_trials(concurrency(spec.max_concurrent, spec.resources.cpus))
    tune.Tuner(
        _trainable(spec, data_ref),
        tune_config=tune.TuneConfig(
            metric="best_value" if single_objective else None,
            mode=spec.mode if single_objective else None,
            search_alg=searcher,
            scheduler=_scheduler(spec),
            num_samples=spec.num_samples + n_confirmations,
            max_concurrent_trials=spec.max_concurrent,
            time_budget_s=spec.time_budget_s,
            reuse_actors=spec.reuse_actors,
            trial_dirname_creator=_trial_dirname,
        ),
        run_config=_run_config(spec, sweep_dir, stage, callbacks, verbosity),
    ).fit()
    raise_if_interrupted(sweep_dir)


def race_spec(spec: SweepSpec, strategies: list[str]) -> SweepSpec:
    """``--auto`` stage 1: every strategy once at its defaults, weak ones halved away (ASHA)."""
    grid = SamplerConfig(name="grid", seed=spec.sampler.seed, grid={"strategy": strategies})
    return spec.model_copy(
        update={
            "spaces": ["freeze_strategy_defaults"],
            "sampler": grid,
            "scheduler": spec.scheduler.model_copy(update={"kind": "asha"}),
            "num_samples": len(strategies),
            "warm_start": False,
            "objectives": [],
        }
    )


def confirmations(spec: SweepSpec, sweep_dir: Path) -> list[Confirmation]:
    """Best validation value of each finished confirmation trial, per strategy."""
    values: dict[str, list[float]] = {}
    for record in Ledger(ledger_path(sweep_dir)).of_phase("confirmation"):
        best = record.best(spec.metric, spec.mode)
        if record.status == "FINISHED" and best is not None:
            values.setdefault(record.strategy, []).append(best)
    return [Confirmation(strategy, found) for strategy, found in values.items()]


def fit_and_test(
    config: dict, data: EEGDataset, checkpoint: Path | None = None, keep_model: bool = True
) -> dict:
    """The recommended config evaluated once on the held-out test split: from the weights its
    trial already trained (``checkpoint``), or trained again when there is none."""
    from probe_core.training import TrialRunner

    runner = TrialRunner(TrialConfig.model_validate(config), data)
    if checkpoint is not None:
        runner.load(checkpoint)  # as the sweep left it, pruned or not: its best epoch counts
    else:
        while not runner.done:
            runner.step()
    result = runner.finish(evaluate_test=True)
    logits, labels = runner.test_predictions()
    return {
        "test_metrics": result.test_metrics,
        "predictions": logits.argmax(1).tolist(),
        "labels": labels.tolist(),
        "class_names": data.class_names,
        # a model with parametrizations (LoRA, max-norm) cannot be pickled: a Ray task sends
        # the weights back, and the driver rebuilds the model around them
        "model": runner.model.cpu() if keep_model else None,
        "state_dict": None
        if keep_model
        else {k: v.cpu() for k, v in runner.model.state_dict().items()},
    }


def trial_checkpoint(sweep_dir: Path, trial_id: str) -> Path | None:
    """The newest checkpoint a trial of this sweep wrote (any stage), if it is on this disk."""
    found = sorted(sweep_dir.glob(f"*/{trial_id}/checkpoint_*/{CHECKPOINT_FILE}"))
    return found[-1] if found else None


def final_fit(spec: SweepSpec, config: dict, data_ref, checkpoint: Path | None) -> dict:
    """``fit_and_test`` in this process, unless it has to train again on GPUs: then in a Ray
    task with the trial's resources."""
    if checkpoint is not None or spec.resources.gpus == 0:
        return fit_and_test(config, ray.get(data_ref), checkpoint)
    task = ray.remote(fit_and_test).options(
        num_cpus=spec.resources.cpus, num_gpus=spec.resources.gpus
    )
    final = ray.get(task.remote(config, data_ref, keep_model=False))
    final["model"], _ = build_model(TrialConfig.model_validate(config), ray.get(data_ref))
    final["model"].load_state_dict(final["state_dict"])
    return final


def prepare(spec: SweepSpec, say=print):
    """Everything before the first trial; each user mistake fails here, before Ray starts.
    Returns the spec as it will run (a grid is capped at its size), saved for ``resume``."""
    sweep_dir = spec.sweep_dir()
    ensure_pretrained(spec.pretrain, say)
    data = spec.data.build()
    context = make_context(spec.base_trial(), data)
    build_space(spec)  # unknown space names fail here
    if spec.sampler.name == "grid":  # a grid runs once: more trials would only repeat points
        size = math.prod(len(values) for values in spec.sampler.grid_space(context).values())
        spec = spec.model_copy(update={"num_samples": min(spec.num_samples, size)})
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / "spec.yaml").write_text(spec.to_yaml())
    return spec, sweep_dir, data, context


def run_sweep(
    spec: SweepSpec, auto: bool = False, say=print, verbosity: str = "normal"
) -> SweepOutcome:
    uri = resolve_uri(spec.tracking.uri)
    check_reachable(uri)  # before anything runs or is written
    spec, sweep_dir, data, context = prepare(spec, say)
    connect(spec.ray_address)
    check_resources(spec)
    session = open_session(uri, spec.experiment, spec.name, sweep_dir)
    data_ref = ray.put(data)
    blocks = len(context.facts.blocks)
    say(
        f"sweep {spec.name}: {spec.num_samples} trials of {spec.trial.backbone.name} "
        f"({blocks} block{'s' * (blocks != 1)}) on {len(data.y)} examples; "
        f"results in {sweep_dir}"
    )
    with tracking(session, sweep_dir, spec, say):
        if auto:
            strategies = candidate_strategies(context)
            say(f"stage 1: racing {len(strategies)} strategies at their default settings")
            race = race_spec(spec, strategies)
            search(race, data_ref, context, session, sweep_dir, "race", verbosity)
            raced = Ledger(ledger_path(sweep_dir)).of_phase("search")
            ranks = rank_strategies(raced, spec.metric, spec.mode, 1)
            if not ranks:
                raise SweepError("every trial of the strategy race failed; see the MLflow runs")
            say(f"stage 2: tuning {ranks[0].strategy}")
            context = context.restricted_to([ranks[0].strategy])
            spec = spec.model_copy(update={"warm_start": False})
        search(spec, data_ref, context, session, sweep_dir, verbosity=verbosity)
        return finish(spec, data_ref, session, sweep_dir, say)


@contextlib.contextmanager
def tracking(session: TrackingSession, sweep_dir: Path, spec: SweepSpec, say=print):
    """Send MLflow records in the background while the sweep runs; at the end (also after an
    error or Ctrl-C) send the rest, or leave them on disk for ``probe-sweep sync``."""
    outbox = session.outbox(sweep_dir)
    outbox.start()
    # the driver's own check (its final fit trains too); each trial process tags its run
    outbox.log_batch(PARENT, tags={"onednn": guard_convolutions().tag})
    try:
        yield outbox
    finally:
        if not outbox.close(spec.tracking.flush_timeout_s):
            say(describe_unsent(outbox))
        ledger = Ledger(ledger_path(sweep_dir))
        for record in ledger.trials.values():
            record.run_id = outbox.runs.get(record.trial_id, record.run_id)
        ledger.save()


def dry_run(spec: SweepSpec, say=print, n: int = 3) -> list[TrialConfig]:
    """Validate the spec, load the data, sample ``n`` trial configs; start nothing."""
    spec, _, data, context = prepare(spec, say)
    space = build_space(spec)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=spec.sampler.seed))
    configs = []
    for _ in range(n):
        trial = study.ask()
        configs.append(space(trial, context))
        study.tell(trial, 0.0)
        say(f"  sample: {trial.params}")
    say(
        f"dry run: {len(data.y)} examples, {data.n_classes} classes; strategies "
        f"{candidate_strategies(context)}; would run {spec.num_samples} trials"
    )
    return configs


def resume_sweep(sweep_dir: Path, say=print) -> SweepOutcome:
    """Finish an interrupted sweep: restore Tune's run (its trials, searcher and callbacks) and
    carry on with the same parent run, Optuna study and ledger; finished trials do not rerun."""
    from sweeps.spec import load_spec

    sweep_dir = sweep_dir.resolve()
    spec = load_spec(sweep_dir / "spec.yaml")
    if spec.sweep_dir() != sweep_dir:
        spec = spec.model_copy(update={"storage_path": sweep_dir.parent})
    uri = resolve_uri(spec.tracking.uri)
    check_reachable(uri)
    session = open_session(uri, spec.experiment, spec.name, sweep_dir)
    data = spec.data.build()
    connect(spec.ray_address)
    data_ref = ray.put(data)
    search_dir = sweep_dir / "search"
    with tracking(session, sweep_dir, spec, say):
        if tune.Tuner.can_restore(str(search_dir)):
            say(f"resuming {spec.name} from {search_dir}")
            allow_pending_trials(concurrency(spec.max_concurrent, spec.resources.cpus))
            tune.Tuner.restore(
                str(search_dir), _trainable(spec, data_ref), resume_errored=True
            ).fit()
            raise_if_interrupted(sweep_dir)
        return finish(spec, data_ref, session, sweep_dir, say)


def settle_lost_trials(spec: SweepSpec, session: TrackingSession, sweep_dir: Path) -> None:
    """Trials still running when Tune has ended were started by a driver that was killed before
    it saved them in its state: the restored run never knew them and ran others instead. They are
    marked lost (in the ledger, their MLflow run and the Optuna study), not counted. So is a run
    queued by a driver killed before it saved the trial in the ledger."""
    ledger = Ledger(ledger_path(sweep_dir))
    outbox = session.outbox(sweep_dir)
    lost = outbox.run_keys - set(ledger.trials) - {PARENT}
    for record in ledger.trials.values():
        if record.status == "RUNNING":
            record.status = "LOST"
            lost |= {record.trial_id}
    for key in sorted(lost):
        outbox.log_batch(key, tags={"lost": "True"})
        outbox.set_terminated(key, "KILLED")
    ledger.save()
    study = load_study(spec, sweep_dir)
    if study is not None:
        for trial in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING]):
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)


def finish(
    spec: SweepSpec, data_ref, session: TrackingSession, sweep_dir: Path, say=print
) -> SweepOutcome:
    """Rank, confirm, test the winner once, and publish everything."""
    settle_lost_trials(spec, session, sweep_dir)
    searched = Ledger(ledger_path(sweep_dir)).of_phase("search")
    board = leaderboard(searched, spec.metric, spec.mode)
    ranks = rank_strategies(searched, spec.metric, spec.mode, spec.confirmation.top_k)
    counts = {s: sum(r.status == s for r in searched) for s in ("FINISHED", "PRUNED", "FAILED")}
    lost = sum(r.status == "LOST" for r in searched)
    say(
        f"{len(searched) - lost} trials: {counts['FINISHED']} finished, {counts['PRUNED']} "
        f"pruned, {counts['FAILED']} failed"
        + (f" ({lost} lost with a killed driver)" if lost else "")
    )
    recommendation = None
    if ranks:
        say(format_leaderboard(board, spec.metric))
        confirmed = confirmations(spec, sweep_dir)
        recommendation = recommend(ranks, confirmed, board, spec.metric, spec.mode)
        trials = Ledger(ledger_path(sweep_dir)).trials
        winner = next(r for r in ranks if r.strategy == recommendation.strategy)
        best = trials[winner.best_trial_id].config
        checkpoint = trial_checkpoint(sweep_dir, winner.best_trial_id)
        final = final_fit(spec, best, data_ref, checkpoint)
        recommendation.test_metrics = final["test_metrics"]
        (sweep_dir / "best_config.yaml").write_text(TrialConfig.model_validate(best).to_yaml())
        say(recommendation.text())
    report = {
        "leaderboard": board,
        "strategies": [r.__dict__ for r in ranks],
        "recommendation": recommendation.as_dict() if recommendation else None,
        "counts": counts,
    }
    (sweep_dir / "report.json").write_text(json.dumps(report, indent=2, default=str))
    if recommendation is not None:
        ledger = Ledger(ledger_path(sweep_dir))
        publish_report(
            spec, session.outbox(sweep_dir), sweep_dir, ledger, board, ranks, recommendation, final
        )
    say(f"browse the runs: {session.ui_command()}")
    return SweepOutcome(sweep_dir, session, board, ranks, recommendation)
