"""Pictures for the parent run, drawn with Optuna's and matplotlib's own plotting."""

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import matplotlib
import matplotlib.pyplot as plt
import optuna
from sklearn.metrics import ConfusionMatrixDisplay

from sweeps.ledger import TrialRecord


def draw_into_files() -> None:
    """Plots are saved, never shown: the file backend needs no display (a headless driver) and
    opens no window. Set when drawing starts; trial processes never pay for matplotlib."""
    matplotlib.use("Agg")


def _save(axes_or_figure: Any, path: Path) -> Path:
    figure = getattr(axes_or_figure, "figure", axes_or_figure)
    if hasattr(axes_or_figure, "flat"):  # an array of axes
        figure = axes_or_figure.flat[0].figure
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def optuna_plots(study: optuna.Study, folder: Path) -> list[Path]:
    """Optimisation history, parameter importances, parallel coordinates (those that apply)."""
    from optuna.visualization import matplotlib as ovm

    paths: list[Path] = []
    plots: dict[str, Callable[[optuna.Study], Any]] = {
        "optimization_history": ovm.plot_optimization_history,
        "param_importances": ovm.plot_param_importances,
        "parallel_coordinate": ovm.plot_parallel_coordinate,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib backend experimental
        for name, plot in plots.items():
            try:
                paths.append(_save(plot(study), folder / f"{name}.png"))
            except (ValueError, RuntimeError, ZeroDivisionError):
                plt.close("all")  # e.g. importances need two completed trials
    return paths


def strategy_plot(records: list[TrialRecord], metric: str, mode: str, path: Path) -> Path:
    """Best validation metric of every trial, per freeze strategy (box and points)."""
    groups: dict[str, list[float]] = {}
    for record in records:
        best = record.best(metric, mode)
        if best is not None:
            groups.setdefault(record.strategy, []).append(best)
    names = sorted(groups, key=lambda n: max(groups[n]), reverse=mode == "max")
    figure, axes = plt.subplots(figsize=(1.2 * len(names) + 3, 4))
    axes.boxplot([groups[n] for n in names], tick_labels=names, showfliers=False)
    for i, name in enumerate(names, 1):
        axes.scatter([i] * len(groups[name]), groups[name], s=14, alpha=0.7)
    axes.set_ylabel(metric)
    axes.set_title("Validation metric per freeze strategy")
    axes.tick_params(axis="x", rotation=30)
    return _save(figure, path)


def learning_curves(
    records: list[TrialRecord], metric: str, mode: str, path: Path, top: int = 5
) -> Path:
    """Validation metric per epoch of the best trials."""
    ranked = sorted(
        (r for r in records if r.best(metric, mode) is not None),
        key=lambda r: cast(float, r.best(metric, mode)),  # filtered to those with one
        reverse=mode == "max",
    )[:top]
    figure, axes = plt.subplots(figsize=(6, 4))
    for record in ranked:
        epochs = [h["epoch"] for h in record.history]
        axes.plot(
            epochs,
            [h[metric] for h in record.history],
            marker="o",
            label=f"{record.strategy} ({record.trial_id})",
        )
    axes.set_xlabel("epoch")
    axes.set_ylabel(metric)
    axes.set_title(f"Learning curves of the top {len(ranked)} trials")
    axes.legend(fontsize=7)
    return _save(figure, path)


def confusion_matrix(
    labels: list[int], predictions: list[int], class_names: list[str], path: Path
) -> Path:
    display = ConfusionMatrixDisplay.from_predictions(
        labels, predictions, display_labels=class_names, colorbar=False
    )
    display.ax_.set_title("Recommended model, held-out test split")
    return _save(display.figure_, path)
