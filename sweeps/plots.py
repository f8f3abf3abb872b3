"""Pictures for the parent run, drawn with Optuna's and matplotlib's own plotting."""

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import matplotlib
import matplotlib.pyplot as plt
import optuna
from matplotlib.ticker import NullFormatter
from sklearn.metrics import ConfusionMatrixDisplay

from search_spaces.freeze_strategy import STRATEGY_PARAM
from sweeps.ledger import TrialRecord


def draw_into_files() -> None:
    """Plots are saved, never shown: the file backend needs no display (a headless driver) and
    opens no window. Set when drawing starts; trial processes never pay for matplotlib."""
    matplotlib.use("Agg")


def _title(axes: Any, text: str) -> None:
    """Replaces Optuna's titles (centred or on the left) with one that says what is compared."""
    for side in ("left", "right"):
        axes.set_title("", loc=side)
    axes.set_title(text)


def _save(axes_or_figure: Any, path: Path) -> Path:
    figure = getattr(axes_or_figure, "figure", axes_or_figure)  # a figure, or one's axes
    figure.set_layout_engine("constrained")  # room for titles, labels and colour bars
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def optuna_plots(study: optuna.Study, metric: str, folder: Path) -> list[Path]:
    """The search's course and the importance of the parameters every trial has (those that
    apply: importances need two completed trials)."""
    from optuna.visualization import matplotlib as ovm

    plots: dict[str, tuple[Callable[..., Any], str]] = {
        "optimization_history": (
            ovm.plot_optimization_history,
            f"{metric} of each search trial\nin order, and the best so far",
        ),
        "param_importances": (
            ovm.plot_param_importances,
            f"Importance of each parameter\nfor {metric}",
        ),
    }
    paths = []
    for name, (plot, title) in plots.items():
        axes = _optuna(plot, study, target_name=metric)
        if axes is not None:
            _title(axes, title)
            paths.append(_save(axes, folder / f"{name}.png"))
    return paths


def parameter_plots(study: optuna.Study, metric: str, folder: Path, columns: int = 4) -> list[Path]:
    """For each freeze strategy, its trials' metric against each parameter it sampled, at most
    ``columns`` to a row: one set of axes across strategies would mix parameters that only
    some of them have."""
    groups: dict[str, list[optuna.trial.FrozenTrial]] = {}
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        groups.setdefault(str(trial.params.get(STRATEGY_PARAM, "all")), []).append(trial)
    paths = []
    for strategy, trials in sorted(groups.items()):
        names = sorted(
            {name for t in trials for name, d in t.distributions.items() if not d.single()}
            - {STRATEGY_PARAM}
        )  # a parameter with one possible value (warm-up in a short trial) says nothing
        if not names:
            continue
        rows = math.ceil(len(names) / columns)
        width = min(len(names), columns)
        figure, grid = plt.subplots(
            rows, width, figsize=(3.2 * width, 2.8 * rows), sharey=True, squeeze=False
        )
        for axes, name in zip(grid.flat, names, strict=False):
            _parameter_axes(axes, trials, name)
        for axes in grid.flat[len(names) :]:
            axes.remove()
        grid[0, 0].set_ylabel(metric)
        title = f"{strategy}: {metric} against each parameter ({len(trials)} trials)"
        figure.suptitle(f"{title}, later trials darker")
        paths.append(_save(figure, folder / f"parameters_{strategy}.png"))
    return paths


def _parameter_axes(axes: Any, trials: list[optuna.trial.FrozenTrial], name: str) -> None:
    """The trials that sampled ``name``: their value against it over the searched range (a
    log axis where it was sampled on one, the choices in order for a categorical parameter),
    later trials darker."""
    sampled = [t for t in trials if name in t.params]
    distribution = sampled[0].distributions[name]
    values = [t.params[name] for t in sampled]
    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        choices = [str(c) for c in distribution.choices]
        axes.set_xticks(range(len(choices)), choices, rotation=30 if len(choices) > 3 else 0)
        axes.set_xlim(-0.5, len(choices) - 0.5)
        values = [choices.index(str(v)) for v in values]
    else:
        assert isinstance(
            distribution,
            optuna.distributions.FloatDistribution | optuna.distributions.IntDistribution,
        )
        if distribution.log:
            axes.set_xscale("log")
            axes.xaxis.set_minor_formatter(NullFormatter())  # overlapping within a decade
        margin = (distribution.high - distribution.low) * 0.04 if not distribution.log else 0
        axes.set_xlim(distribution.low - margin, distribution.high + margin)
    scores = [t.value for t in sampled]
    order = range(len(sampled))
    axes.scatter(values, scores, c=order, cmap="Blues", vmin=-len(sampled) / 2, edgecolors="grey")
    axes.set_xlabel(name)


def _optuna(plot: Callable[..., Any], study: optuna.Study, **options: Any) -> Any:
    """Optuna's matplotlib plot, or None where it does not apply to this study."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib backend experimental
        try:
            return plot(study, **options)
        except (ValueError, RuntimeError, ZeroDivisionError):
            plt.close("all")
            return None


def strategy_plot(records: list[TrialRecord], metric: str, mode: str, path: Path) -> Path:
    """Best validation metric of every trial, per freeze strategy (box and points)."""
    groups: dict[str, list[float]] = {}
    for record in records:
        best = record.best(metric, mode)
        if best is not None:
            groups.setdefault(record.strategy, []).append(best)
    names = sorted(groups, key=lambda n: max(groups[n]), reverse=mode == "max")
    figure, axes = plt.subplots(figsize=(6, 4))  # the size of the learning curves beside it
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
