"""The classical reference in a sweep: scored on the driver (seconds: its features are computed
once) on the finalists' folds and repetitions and on the held-out test split, and logged as a
child run of its own beside the trials'."""

import logging
import math
import time
from dataclasses import replace

import numpy as np

from probe_core import EEGDataset
from probe_core.backbone_fitting import fit_to_backbone
from probe_core.classical import ReferenceScores, as_source, score_reference
from probe_core.errors import DataError
from sweeps.outbox import Outbox, as_metrics
from sweeps.spec import SweepSpec
from sweeps.tracking import loggable_params
from sweeps.tracking_session import TrackingSession

log = logging.getLogger(__name__)

REFERENCE = "classical_reference"
"""The outbox key (and the ``phase`` tag) of the reference's child run."""


def run_reference(
    spec: SweepSpec, data: EEGDataset, outbox: Outbox, session: TrackingSession
) -> ReferenceScores | None:
    """The spec's reference (none when ``reference`` is null), on the evaluation's folds and
    repetitions (none when no evaluation is planned) and on the test split."""
    config = spec.reference
    if config is None:
        return None
    plan = spec.confirmation
    folds, repetitions = (plan.folds, plan.seeds) if plan.trials else (0, 0)
    metric = spec.metric.removeprefix("val_")
    start = time.perf_counter()
    try:
        scores = score_reference(
            config,
            data,
            spec.trial.split,
            folds=folds,
            repetitions=repetitions,
            metric=metric,
            source=pretraining_recordings(spec, data),
        )
    except (ArithmeticError, ValueError, np.linalg.LinAlgError) as error:  # the sweep goes on
        log.warning("the classical reference (%s) failed, and is left out: %s", config.kind, error)
        return None
    scores = replace(scores, seconds=time.perf_counter() - start)  # loading the recordings too
    log.info("classical reference (%s) scored in %.1f s", config.kind, scores.seconds)
    outbox.create_run(
        REFERENCE,
        run_name=f"classical reference ({config.kind})",
        tags={"mlflow.parentRunId": session.parent_run_id, "phase": REFERENCE},
        params=loggable_params(config.model_dump(mode="json")),
    )
    metrics = [  # one step per (fold, repetition), in the evaluation trials' order
        metric
        for step, evidence in enumerate(scores.folds.values())
        for metric in as_metrics(_finite(evidence.metrics, "fold_"), step)
    ]
    tested = _finite(scores.test_metrics or {}, "test_")
    if scores.transferred is not None:  # the share of its models that took them
        tested["transferred"] = scores.transferred
    metrics += as_metrics({**tested, "seconds": scores.seconds}, 0)
    outbox.log_batch(REFERENCE, metrics)
    outbox.set_terminated(REFERENCE, "FINISHED")
    return scores


def pretraining_recordings(spec: SweepSpec, data: EEGDataset) -> EEGDataset | None:
    """The spec's pretraining recordings as the reference can add them to ``data``'s training
    parts (``reference.transfer``); None, saying why, where there are none or they do not fit."""
    if spec.pretrain is None or spec.reference is None or not spec.reference.transfer:
        return None
    try:
        recordings = fit_to_backbone(spec.pretrain.data.build(), spec.pretrain.backbone)
        return as_source(recordings, data)
    except DataError as error:
        log.info("the classical reference does not use the pretraining recordings: %s", error)
        return None


def _finite(values: dict[str, float], prefix: str) -> dict[str, float]:
    """NaN (an AUROC of a part with one class) is not a metric."""
    return {prefix + name: value for name, value in values.items() if math.isfinite(value)}
