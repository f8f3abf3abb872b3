"""Run a sweep: spec → Ray Tune (Optuna search, ASHA) → MLflow → recommendation.

The data is loaded once on the driver and shared through the object store; trials run in
reused actors; MLflow is written from the driver only.
"""

import contextlib
import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import optuna
import ray

from probe_core import EEGDataset, PretrainConfig, TrialConfig, pretrain
from probe_core.backbone_fitting import fitting
from probe_core.backbone_profiles import pretraining_rate
from probe_core.metrics import chance_level
from probe_core.numerics import guard_convolutions
from probe_core.temporal_resolution import check_resolution
from search_spaces import SpaceContext, candidate_strategies, make_context
from sweeps import protocol
from sweeps.cpu_plan import plan_cpus
from sweeps.errors import SweepError
from sweeps.final_fit import final_fit
from sweeps.interrupts import raise_if_interrupted
from sweeps.learning_rate_choice import with_learning_rate
from sweeps.ledger import Ledger
from sweeps.outbox import Outbox, describe_unsent
from sweeps.process import configure_process
from sweeps.protocol import Phase, TrialStatus
from sweeps.publish import publish_report
from sweeps.recommendation import Recommendation
from sweeps.reference import run_reference
from sweeps.report import Conclusion, conclude
from sweeps.runtime import cluster_capacity, connect
from sweeps.saved_state import check_restorable, upgrade_saved_state
from sweeps.spec import SweepSpec, load_sweep_spec
from sweeps.sweep_dir import RACE, SEARCH, SweepDir
from sweeps.tracking_session import (
    PARENT,
    TrackingSession,
    check_reachable,
    create_store_in_background,
    open_session,
    resolve_uri,
)
from sweeps.trainable import CHECKPOINT_FILE
from sweeps.tune_run import TuneRunInputs, build_space, run_search

log = logging.getLogger(__name__)

__all__ = ["SweepOutcome", "SweepRun", "dry_run", "resume_sweep", "run_sweep"]


@dataclass
class SweepOutcome:
    directory: SweepDir
    session: TrackingSession
    conclusion: Conclusion

    @property
    def recommendation(self) -> Recommendation | None:
        return self.conclusion.recommendation


def ensure_pretrained(config: PretrainConfig | None) -> None:
    """Pretrain the backbone unless its checkpoint already exists (a cache across runs)."""
    if config is None or config.output.exists():
        return
    log.info(
        "pretraining %s on %s data → %s", config.backbone.name, config.data.kind, config.output
    )
    result = pretrain(config)
    accuracy = result.val_metrics["balanced_accuracy"]
    log.info("  pretrained: validation balanced accuracy %.3f", accuracy)


def warn_of_resolution(backbone: str, kernel: int | None, data: EEGDataset) -> None:
    """Say when the backbone's first temporal filters are too short, at the data's rate, to
    tell apart the rhythms its classes differ by (``probe_core.temporal_resolution``). Not for
    a model with a rate of its own: the data is fitted to it, and its first filters embed
    patches, whose spectrum it reads otherwise (CBraMod, LaBraM)."""
    if pretraining_rate(backbone) is not None:
        return
    resolution = check_resolution(kernel, data)
    if resolution is not None and not resolution.sufficient:
        assert kernel is not None  # a resolution was found from it
        log.warning(resolution.advice(backbone, kernel, data.sfreq))


def check_resources(spec: SweepSpec) -> None:
    """Refuse a request no node can ever satisfy, instead of waiting forever."""
    capacity = cluster_capacity()
    cpus = cast(float, spec.resources.cpus)  # a number once prepared (``plan_cpus``)
    wanted = {"CPU": cpus, "GPU": spec.resources.gpus}
    for name, amount in wanted.items():
        if amount > capacity.get(name, 0.0):
            raise SweepError(
                f"resources.{name.lower()}s={amount:g} per trial, but the Ray cluster has "
                f"{capacity.get(name, 0.0):g} {name}s in total"
            )


@dataclass
class Prepared:
    """A spec made ready to run: the spec as it will run, its directory, data (and how it
    was fitted to the backbone) and context."""

    spec: SweepSpec
    directory: SweepDir
    data: EEGDataset
    fitted: str
    context: SpaceContext


def sweep_data(spec: SweepSpec, loaded: EEGDataset | None = None) -> tuple[EEGDataset, str]:
    """The spec's data (``loaded`` already), fitted to its backbone
    (``probe_core.backbone_fitting``): once, for every trial, said in one line; and how
    ("as loaded" when it fits already)."""
    data, said = fitting(spec.data.build() if loaded is None else loaded, spec.trial.backbone)
    if said:
        log.info(said)
    return data, said or "as loaded"


def prepare(spec: SweepSpec) -> Prepared:
    """Everything before the first trial; each user mistake fails here, before Ray starts.
    The spec as it will run (a grid is capped at its size) is saved for ``resume``."""
    directory = spec.sweep_dir()
    loaded = spec.data.build()  # a missing file or a bad epoch fails before anything trains
    build_space(spec)  # so does an unknown space name
    ensure_pretrained(spec.pretrain)
    data, fitted = sweep_data(spec, loaded)  # after pretraining: its checkpoint may say how
    if spec.reference is not None:
        spec.reference.check_rate(data)  # a reference the data's rate cannot carry fails here
    context = make_context(spec.base_trial(), data)
    warn_of_resolution(spec.trial.backbone.name, context.facts.temporal_kernel, data)
    if spec.sampler.name == "grid":  # a grid runs once: more trials would only repeat points
        size = math.prod(len(values) for values in spec.sampler.grid_space(context).values())
        spec = spec.model_copy(update={"num_samples": min(spec.num_samples, size)})
    spec = plan_cpus(spec, data)
    directory.path.mkdir(parents=True, exist_ok=True)
    directory.spec.write_text(spec.to_yaml())
    return Prepared(spec, directory, data, fitted, context)


class SweepRun:
    """One sweep: its spec, directory, MLflow session, data (in the object store) and ledger.

    Opened from a spec (``start``) or from the directory of an interrupted sweep (``resume``),
    which share the set-up. ``search`` runs the sweep's one Tune run; ``finish`` ranks the
    trials, tests the winner once and publishes it all. MLflow records are sent while the run
    is open (``tracking``).
    """

    def __init__(
        self,
        spec: SweepSpec,
        directory: SweepDir,
        data: EEGDataset,
        fitted: str,
        context: SpaceContext,
    ) -> None:
        uri = resolve_uri(spec.tracking.uri)
        check_reachable(uri)
        store = create_store_in_background(uri)
        connect(spec.ray_address)
        check_resources(spec)
        self.spec, self.directory, self.context, self.fitted = spec, directory, context, fitted
        store.join()
        self.session = open_session(uri, spec.experiment, directory)
        self.data_ref = ray.put(data)  # the driver keeps no copy of its own
        self.chance = chance_level(spec.trial.training.metric, np.bincount(data.y))
        self.search_trained = len(spec.trial.split.split(data).train)  # beside the folds'

    @classmethod
    def start(cls, spec: SweepSpec) -> "SweepRun":
        configure_process()
        check_reachable(resolve_uri(spec.tracking.uri))  # before anything runs or is written
        ready = prepare(spec)
        run = cls(ready.spec, ready.directory, ready.data, ready.fitted, ready.context)
        blocks = len(ready.context.facts.blocks)
        log.info(
            "sweep %s: %d trials of %s (%d block%s) on %d examples; results in %s",
            spec.name,
            ready.spec.num_samples,
            spec.trial.backbone.name,
            blocks,
            "s" * (blocks != 1),
            len(ready.data.y),
            ready.directory.path,
        )
        return run

    @classmethod
    def resume(cls, path: Path) -> "SweepRun":
        """An interrupted sweep, opened from its directory (also when it was moved)."""
        configure_process()
        directory = SweepDir.open(path)
        spec = load_sweep_spec(directory)
        if spec.sweep_dir() != directory:
            spec = spec.model_copy(update={"storage_path": directory.path.parent})
        data, fitted = sweep_data(spec)
        return cls(spec, directory, data, fitted, make_context(spec.base_trial(), data))

    @contextlib.contextmanager
    def tracking(self) -> Iterator[Outbox]:
        """Send MLflow records in the background while the sweep runs; at the end (also after an
        error or Ctrl-C) send the rest, or leave them on disk for ``probe-sweep sync``."""
        outbox = self.session.outbox(self.directory)
        outbox.start()
        # the driver's own check (its final fit may train); each trial process tags its run
        tags = {protocol.ONEDNN: guard_convolutions().tag, protocol.DATA_FITTED: self.fitted}
        outbox.log_batch(PARENT, tags=tags)
        try:
            yield outbox
        finally:
            if not outbox.close(self.spec.tracking.flush_timeout_s):
                log.warning(describe_unsent(outbox))
            ledger = Ledger(self.directory.ledger)
            for record in ledger.trials.values():
                record.run_id = outbox.runs.get(record.trial_id, record.run_id)
            ledger.save()

    @property
    def inputs(self) -> TuneRunInputs:
        return TuneRunInputs(
            self.spec, self.data_ref, self.context, self.session, self.directory, self.chance
        )

    def search(self, auto: bool = False) -> None:
        """The sweep's Tune run: the search, then the finalists' evaluation. ``auto``: first a
        race of every applicable strategy at its defaults and the warm start's learning rates;
        the search tunes the winner only."""
        if auto:
            log.info(
                "racing %d strategies at their default settings and %s times the learning rate, "
                "then tuning the winner",
                len(candidate_strategies(self.context)),
                " and ".join(f"{f:g}" for f in self.spec.warm_start_lr_factors),
            )
        run_search(self.inputs, auto=auto)
        raise_if_interrupted(self.directory.path)

    def restore(self) -> None:
        """Continue the Tune run where an interrupted driver left it (a sweep that raced has a
        race study)."""
        directory = self.directory
        if not directory.holds_tune_state():
            return
        if upgrade_saved_state(directory.tune_run):
            log.info("converted the saved state of %s from the previous layout", directory.path)
        check_restorable(directory.tune_run)
        raced = directory.load_study(RACE) is not None
        run_search(self.inputs, auto=raced, resume=True)
        log.info("resumed %s from %s", self.spec.name, directory.tune_run)
        raise_if_interrupted(directory.path)

    def finish(self) -> SweepOutcome:
        """Rank, recommend from the finalists' evaluation, test the winner once, and publish
        everything."""
        spec, directory = self.spec, self.directory
        outbox = self.session.outbox(directory)
        ledger = Ledger(directory.ledger)
        studies = [directory.load_study(stage) for stage in (RACE, SEARCH)]
        settle_lost_trials(ledger, outbox, [study for study in studies if study is not None])
        reference = run_reference(spec, ray.get(self.data_ref), outbox, self.session)
        conclusion = conclude(
            ledger.of_phase(Phase.SEARCH),
            ledger.of_phase(Phase.CONFIRMATION),
            plan=spec.confirmation,
            metric=spec.metric,
            mode=spec.mode,
            chance=self.chance,
            search_trained=self.search_trained,
            reference=reference,
            learning_rate_trials=ledger.of_phase(Phase.LEARNING_RATE),
        )
        log.info(conclusion.counts_line())
        if conclusion.board:
            log.info(conclusion.leaderboard_text())
        final = None
        if conclusion.result:
            best = ledger.trials[conclusion.best_trial_id].config
            checkpoint = directory.trial_checkpoint(conclusion.best_trial_id, CHECKPOINT_FILE)
            choice = conclusion.recommendation and conclusion.recommendation.learning_rate
            if choice and choice.chosen != choice.searched:  # trained again at that rate
                best, checkpoint = with_learning_rate(best, choice.chosen), None
            final = final_fit(spec, best, self.data_ref, checkpoint)
            assert conclusion.recommendation is not None  # ``conclusion.result`` says so
            conclusion.recommendation.test_metrics = final.evaluation.test_metrics
            directory.best_config.write_text(TrialConfig.model_validate(best).to_yaml())
        if conclusion.recommendation is not None:
            log.info(conclusion.recommendation.text())
        else:
            log.info("No trial reported a value: nothing to recommend (see the failed runs).")
        directory.report.write_text(json.dumps(conclusion.as_report(), indent=2, default=str))
        publish_report(spec, outbox, directory, ledger, conclusion, final)
        log.info("browse the runs: probe-sweep ui %s", directory.path)
        return SweepOutcome(directory, self.session, conclusion)


def settle_lost_trials(ledger: Ledger, outbox: Outbox, studies: list[optuna.Study]) -> None:
    """Trials still running when Tune has ended were started by a driver that was killed before
    it saved them in its state: the restored run never knew them and ran others instead. They are
    marked lost (in the ledger, their MLflow run and the Optuna study), not counted. So is a run
    queued by a driver killed before it saved the trial in the ledger."""
    lost = outbox.run_keys - set(ledger.trials) - {PARENT}
    for record in ledger.trials.values():
        if record.status == TrialStatus.RUNNING:
            record.status = TrialStatus.LOST
            lost |= {record.trial_id}
    for key in sorted(lost):
        outbox.log_batch(key, tags={"lost": "True"})
        outbox.set_terminated(key, "KILLED")
    ledger.save()
    for study in studies:  # the search's, and the --auto race's
        for trial in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING]):
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)


def run_sweep(spec: SweepSpec, auto: bool = False) -> SweepOutcome:
    """Run ``spec`` to its recommendation (``auto``: race every strategy at its defaults first,
    then tune the winner). Progress and results are logged (``sweeps.output``)."""
    run = SweepRun.start(spec)
    with run.tracking():
        run.search(auto)
        return run.finish()


def resume_sweep(path: Path) -> SweepOutcome:
    """Finish an interrupted sweep: restore Tune's run (its trials, searcher and callbacks) and
    carry on with the same parent run, Optuna study and ledger; finished trials do not rerun."""
    run = SweepRun.resume(path)
    with run.tracking():
        run.restore()
        return run.finish()


def dry_run(spec: SweepSpec, n: int = 3) -> list[TrialConfig]:
    """Validate the spec, load the data, sample ``n`` trial configs; start nothing."""
    configure_process()
    ready = prepare(spec)
    space = build_space(ready.spec)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=spec.sampler.seed))
    configs = []
    for _ in range(n):
        trial = study.ask()
        configs.append(space(trial, ready.context))
        study.tell(trial, 0.0)
        log.info("  sample: %s", trial.params)
    log.info(
        "dry run: %d examples, %d classes; strategies %s; would run %d trials",
        len(ready.data.y),
        ready.data.n_classes,
        candidate_strategies(ready.context),
        ready.spec.num_samples,
    )
    return configs
