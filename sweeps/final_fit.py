"""The recommended config, tested once on the held-out test split.

From the weights its best trial already trained (its checkpoint), or trained again where there
is none on this disk: on GPUs in a Ray task with the trial's resources, else here.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
import torch
from torch import nn

from probe_core import EEGDataset, TrialConfig, build_model
from probe_core.training import TrialRunner
from sweeps.spec import SweepSpec


@dataclass
class TestEvaluation:
    """What the test split says of a trained config (no model: it crosses process borders as a
    state dict, since a model with parametrizations (LoRA, max-norm) cannot be pickled)."""

    test_metrics: dict[str, float]
    predictions: list[int]
    labels: list[int]
    class_names: list[str]


@dataclass
class FinalFit:
    evaluation: TestEvaluation
    model: nn.Module  # on the CPU, with the best epoch's weights


def _evaluate(
    config: dict[str, Any], data: EEGDataset, checkpoint: Path | None
) -> tuple[TestEvaluation, dict[str, torch.Tensor]]:
    runner = TrialRunner(TrialConfig.model_validate(config), data)
    if checkpoint is not None:
        runner.load(checkpoint)  # as the sweep left it, pruned or not: its best epoch counts
    else:
        while not runner.done:
            runner.step()
    result = runner.finish(evaluate_test=True)
    assert result.test_metrics is not None  # evaluate_test computes them
    logits, labels = runner.test_predictions()
    evaluation = TestEvaluation(
        test_metrics=result.test_metrics,
        predictions=logits.argmax(1).tolist(),
        labels=labels.tolist(),
        class_names=data.class_names,
    )
    return evaluation, {k: v.cpu() for k, v in runner.model.state_dict().items()}


def final_fit(
    spec: SweepSpec,
    config: dict[str, Any],
    data_ref: "ray.ObjectRef[EEGDataset]",
    checkpoint: Path | None,
) -> FinalFit:
    data = ray.get(data_ref)
    if checkpoint is not None or spec.resources.gpus == 0:
        evaluation, weights = _evaluate(config, data, checkpoint)
    else:
        task = ray.remote(_evaluate).options(
            num_cpus=spec.resources.cpus, num_gpus=spec.resources.gpus
        )
        evaluation, weights = ray.get(task.remote(config, data_ref, None))
    model, _ = build_model(TrialConfig.model_validate(config), data)
    model.load_state_dict(weights)
    return FinalFit(evaluation, model.eval())
