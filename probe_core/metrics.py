"""Classification metrics, computed with scikit-learn from logits and labels."""

from typing import Literal

import numpy as np
import torch
from sklearn import metrics

MetricName = Literal["balanced_accuracy", "accuracy", "f1_macro", "cohen_kappa", "auroc", "loss"]
LOWER_IS_BETTER = {"loss"}


def classification_metrics(
    logits: torch.Tensor, labels: torch.Tensor, n_classes: int
) -> dict[str, float]:
    """All metrics at once. ``auroc`` is the mean one-vs-rest AUROC of the classes present in
    ``labels`` (a part of the data without some class still has one; NaN with a single
    class); ``balanced_accuracy`` is, as scikit-learn's, the mean recall of the classes
    present."""
    loss = torch.nn.functional.cross_entropy(logits.float(), labels).item()
    probs = torch.softmax(logits.float(), dim=1).numpy()
    y_true = labels.numpy()
    y_pred = probs.argmax(axis=1)
    present = np.unique(y_true)
    if len(present) < 2:
        auroc = float("nan")
    elif n_classes == 2:
        auroc = metrics.roc_auc_score(y_true, probs[:, 1])
    else:
        auroc = np.mean([metrics.roc_auc_score(y_true == k, probs[:, k]) for k in present])
    return {
        "loss": loss,
        "accuracy": metrics.accuracy_score(y_true, y_pred),
        "balanced_accuracy": metrics.balanced_accuracy_score(y_true, y_pred),
        "f1_macro": metrics.f1_score(
            y_true, y_pred, average="macro", labels=range(n_classes), zero_division=0
        ),
        "cohen_kappa": metrics.cohen_kappa_score(y_true, y_pred, labels=range(n_classes)),
        "auroc": float(auroc),
    }


def is_better(metric: str, value: float, best: float | None) -> bool:
    if best is None:
        return not np.isnan(value)
    return value < best if metric in LOWER_IS_BETTER else value > best


def chance_level(metric: str, class_counts: np.ndarray) -> float:
    """The best score of a classifier that learnt nothing from the signal, on labels with
    these class counts (a class may count 0: a part of the data without it): it predicts the
    class prior (loss), always the largest class (accuracy: its share; balanced accuracy: 1
    over the classes present, whose recalls it averages), or guesses (macro F1, over every
    class: 1/K; Cohen's kappa 0, AUROC 0.5)."""
    counts = np.asarray(class_counts, dtype=float)
    shares = counts[counts > 0] / counts.sum()
    if metric == "loss":
        return float(-(shares * np.log(shares)).sum())
    if metric == "accuracy":
        return float(shares.max())
    if metric == "balanced_accuracy":
        return 1.0 / len(shares)
    if metric == "f1_macro":
        return 1.0 / len(counts)
    if metric == "cohen_kappa":
        return 0.0
    return 0.5  # auroc


def metric_range(metric: str) -> tuple[float, float]:
    """The values a metric can take (an interval over its scores is reported within them)."""
    if metric == "loss":
        return 0.0, float("inf")
    if metric == "cohen_kappa":
        return -1.0, 1.0
    return 0.0, 1.0
