"""Everything the sweep concluded, written to its directory and queued for the parent run."""

import json
import logging
import shutil
from pathlib import Path

import optuna
import torch

from sweeps.ledger import Ledger
from sweeps.outbox import Outbox, as_metrics
from sweeps.plots import confusion_matrix, learning_curves, optuna_plots, strategy_plot
from sweeps.report import Recommendation, StrategyRank
from sweeps.spec import SweepSpec
from sweeps.tracking_session import PARENT


def load_study(spec: SweepSpec, sweep_dir: Path) -> optuna.Study | None:
    storage = f"sqlite:///{sweep_dir / 'optuna.db'}"
    try:
        return optuna.load_study(study_name=f"{spec.name}.search", storage=storage)
    except KeyError:
        return None


def draw_plots(spec: SweepSpec, sweep_dir: Path, ledger: Ledger, final: dict | None) -> list[Path]:
    folder = sweep_dir / "plots"
    folder.mkdir(exist_ok=True)
    paths = []
    study = load_study(spec, sweep_dir)
    if study is not None and not spec.objectives:
        paths += optuna_plots(study, folder)
    searched = ledger.of_phase("search")
    paths.append(strategy_plot(searched, spec.metric, spec.mode, folder / "strategies.png"))
    paths.append(learning_curves(searched, spec.metric, spec.mode, folder / "learning_curves.png"))
    if final is not None:
        paths.append(
            confusion_matrix(
                final["labels"],
                final["predictions"],
                final["class_names"],
                folder / "confusion_matrix.png",
            )
        )
    return paths


def _table(rows: list[dict]) -> dict:
    """Rows as MLflow's table artifact format (column name -> values)."""
    return {key: [row.get(key) for row in rows] for key in rows[0]} if rows else {}


def publish_report(
    spec: SweepSpec,
    outbox: Outbox,
    sweep_dir: Path,
    ledger: Ledger,
    board: list[dict],
    ranks: list[StrategyRank],
    recommendation: Recommendation,
    final: dict,
) -> None:
    """Write the report files and plots, save the recommended model, and queue all of it for
    the parent run (artifacts, tags, metrics, and the model's registration when asked)."""
    (sweep_dir / "recommendation.txt").write_text(recommendation.text() + "\n")
    tables = {
        "leaderboard.json": _table(board),
        "strategies.json": _table([r.__dict__ for r in ranks]),
    }
    for name, table in tables.items():
        (sweep_dir / name).write_text(json.dumps(table, default=str))
    for name in ("spec.yaml", "best_config.yaml", "recommendation.txt", "report.json", *tables):
        outbox.log_artifact(PARENT, sweep_dir / name)
    for path in draw_plots(spec, sweep_dir, ledger, final):
        outbox.log_artifact(PARENT, path, "plots")
    metrics = {"recommended_mean": recommendation.mean, "recommended_std": recommendation.std}
    if recommendation.margin is not None:
        metrics["margin_over_runner_up"] = recommendation.margin
    for key, value in (recommendation.test_metrics or {}).items():
        if value == value:  # NaN (an AUROC without both classes) is not a metric
            metrics[f"test_{key}"] = value
    tags = {
        "recommended_strategy": recommendation.strategy,
        "runner_up": str(recommendation.runner_up),
    }
    outbox.log_batch(PARENT, as_metrics(metrics, 0), tags)
    model_dir = save_model(sweep_dir, final["model"])
    outbox.log_artifact(PARENT, model_dir, "model")
    if spec.tracking.register_model:
        outbox.register_model(PARENT, "model", spec.tracking.register_model)
    outbox.set_terminated(PARENT, "FINISHED")


def save_model(sweep_dir: Path, model: torch.nn.Module) -> Path:
    """The recommended model as an MLflow pytorch model directory in the sweep directory."""
    import mlflow.pytorch

    from probe_core.export import inference_copy

    target = sweep_dir / "model"
    if target.exists():
        shutil.rmtree(target)
    # mlflow warns about pickle on every save; the model is our own, loaded by its owner
    logging.getLogger("mlflow.pytorch").setLevel(logging.ERROR)
    mlflow.pytorch.save_model(
        inference_copy(model),
        str(target),
        serialization_format="pickle",
        pip_requirements=["torch", "braindecode", "probe-sweep"],
    )
    return target
