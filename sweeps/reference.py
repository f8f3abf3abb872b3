"""The classical reference in a sweep: scored on the driver (seconds: its features are computed
once) on the finalists' folds and repetitions and on the held-out test split, and logged as a
child run of its own beside the trials'."""

import logging
import math

import numpy as np

from probe_core import EEGDataset
from probe_core.classical import ReferenceScores, score_reference
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
    try:
        scores = score_reference(
            config, data, spec.trial.split, folds=folds, repetitions=repetitions, metric=metric
        )
    except (ArithmeticError, ValueError, np.linalg.LinAlgError) as error:  # the sweep goes on
        log.warning("the classical reference (%s) failed, and is left out: %s", config.kind, error)
        return None
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
    metrics += as_metrics({**tested, "seconds": scores.seconds}, 0)
    outbox.log_batch(REFERENCE, metrics)
    outbox.set_terminated(REFERENCE, "FINISHED")
    return scores


def _finite(values: dict[str, float], prefix: str) -> dict[str, float]:
    """NaN (an AUROC of a part with one class) is not a metric."""
    return {prefix + name: value for name, value in values.items() if math.isfinite(value)}
