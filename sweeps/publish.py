"""Everything the sweep concluded, written to its directory and queued for the parent run."""

import json
import math
import shutil
from pathlib import Path
from typing import Any

import torch

from sweeps.evidence import Interval
from sweeps.final_fit import FinalFit
from sweeps.ledger import Ledger
from sweeps.outbox import Outbox, as_metrics
from sweeps.plots import (
    confusion_matrix,
    draw_into_files,
    learning_curves,
    optuna_plots,
    parameter_plots,
    strategy_plot,
)
from sweeps.protocol import Phase
from sweeps.recommendation import Recommendation
from sweeps.report import Conclusion
from sweeps.spec import SweepSpec
from sweeps.summary_page import summary_page
from sweeps.sweep_dir import SEARCH, SweepDir
from sweeps.tracking_session import DESCRIPTION, PARENT


def draw_plots(
    spec: SweepSpec, directory: SweepDir, ledger: Ledger, final: FinalFit | None
) -> dict[str, list[Path]]:
    """The plots, by the summary page's section (its heading) that shows them."""
    draw_into_files()
    folder = directory.plots
    folder.mkdir(exist_ok=True)
    searched = ledger.of_phase(Phase.SEARCH)
    sections = {
        "How the strategies compared": [
            strategy_plot(searched, spec.metric, spec.mode, folder / "strategies.png"),
            learning_curves(searched, spec.metric, spec.mode, folder / "learning_curves.png"),
        ]
    }
    study = directory.load_study(SEARCH)
    if study is not None and not spec.objectives:
        sections["The search"] = optuna_plots(study, spec.metric, folder)
        sections["Parameters within each strategy"] = parameter_plots(study, spec.metric, folder)
    if final is not None:
        evaluation = final.evaluation
        sections["The recommended model on the held-out test split"] = [
            confusion_matrix(
                evaluation.labels,
                evaluation.predictions,
                evaluation.class_names,
                folder / "confusion_matrix.png",
            )
        ]
    return {heading: paths for heading, paths in sections.items() if paths}


def _table(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows as MLflow's table artifact format (column name -> values)."""
    return {key: [row.get(key) for row in rows] for key in rows[0]} if rows else {}


def publish_report(
    spec: SweepSpec,
    outbox: Outbox,
    directory: SweepDir,
    ledger: Ledger,
    conclusion: Conclusion,
    final: FinalFit | None,
) -> None:
    """Write the report files and plots, save the recommended model, and queue all of it for
    the parent run (artifacts, tags, metrics, and the model's registration when asked), then
    end the parent run."""
    tables = {
        directory.leaderboard: _table(conclusion.board),
        directory.strategies: _table([r.__dict__ for r in conclusion.ranks]),
    }
    for path, table in tables.items():
        path.write_text(json.dumps(table, default=str))
    recommendation = conclusion.recommendation
    if recommendation is not None:
        directory.recommendation.write_text(recommendation.text() + "\n")
    for path in (directory.spec, directory.best_config, directory.recommendation):
        if path.exists():
            outbox.log_artifact(PARENT, path)
    for path in (directory.report, *tables):
        outbox.log_artifact(PARENT, path)
    plots = draw_plots(spec, directory, ledger, final) if conclusion.board else {}
    for path in (path for paths in plots.values() for path in paths):
        outbox.log_artifact(PARENT, path, "plots")
    directory.summary.write_text(summary_page(spec, conclusion, plots))
    outbox.log_artifact(PARENT, directory.summary)
    if recommendation is not None:
        outbox.log_batch(
            PARENT,
            as_metrics(_parent_metrics(recommendation), 0),
            {
                "verdict": recommendation.verdict,
                "recommended_strategy": str(recommendation.strategy),
                "runner_up": str(recommendation.runner_up),
                "reference_verdict": str(
                    recommendation.reference and recommendation.reference.verdict
                ),
            },
        )
    outbox.log_batch(PARENT, tags={DESCRIPTION: parent_description(conclusion)})
    if final is not None:
        outbox.log_artifact(PARENT, save_model(directory, final.model), "model")
        if spec.tracking.register_model:
            outbox.register_model(PARENT, "model", spec.tracking.register_model)
    outbox.set_terminated(PARENT, "FINISHED")


def parent_description(conclusion: Conclusion) -> str:
    """The parent run's description (Markdown, on its MLflow Overview page): the
    recommendation with its evidence, the trials' counts, and where the rest is."""
    recommendation = conclusion.recommendation
    answer = (
        recommendation.markdown()
        if recommendation is not None
        else "### Nothing is recommended: no trial reported a value (see the failed child runs)"
    )
    return (
        f"{answer}\n\n{conclusion.counts_line()}: the child runs of this run. The report with "
        "its plots is `summary.html` in this run's artifacts."
    )


def _parent_metrics(recommendation: Recommendation) -> dict[str, float]:
    """The recommendation's figures as the parent run's metrics (the same as its text's)."""
    metrics = {"chance_level": recommendation.chance}
    chosen = recommendation.chosen
    if chosen is not None:
        assert chosen.score is not None  # the recommended finalist has its score
        metrics.update(_interval_metrics("recommended", chosen.score))
    if recommendation.difference is not None:
        difference = recommendation.difference
        metrics.update(difference_to_runner_up=difference.mean)
        if math.isfinite(difference.low):
            metrics.update(difference_ci_low=difference.low, difference_ci_high=difference.high)
    for key, value in (recommendation.test_metrics or {}).items():
        if value == value:  # NaN (an AUROC without both classes) is not a metric
            metrics[f"test_{key}"] = value
    reference = recommendation.reference
    if reference is not None:
        if reference.score is not None:
            metrics.update(_interval_metrics("reference", reference.score))
        if reference.difference is not None:
            metrics.update(_interval_metrics("reference_minus_deep", reference.difference))
    return metrics


def _interval_metrics(name: str, interval: Interval) -> dict[str, float]:
    """``name_mean`` and, when finite, ``name_ci_low`` and ``name_ci_high``."""
    metrics = {f"{name}_mean": interval.mean}
    if math.isfinite(interval.low):
        metrics.update({f"{name}_ci_low": interval.low, f"{name}_ci_high": interval.high})
    return metrics


def save_model(directory: SweepDir, model: torch.nn.Module) -> Path:
    """The recommended model as an MLflow pytorch model directory in the sweep directory."""
    import mlflow.pytorch

    from probe_core.export import inference_copy

    target = directory.model
    if target.exists():
        shutil.rmtree(target)
    mlflow.pytorch.save_model(
        inference_copy(model),
        str(target),
        serialization_format="pickle",
        pip_requirements=["torch", "braindecode", "probe-sweep"],
    )
    return target
