"""Do the recommendation's 95 % intervals cover the truth 85-98 % of the time? (issue 19 (a))

The evaluation is simulated end to end, so that nothing about the folds' correlation is assumed:
data sets are drawn from a known population of Gaussian classes, cut into the product's own
folds (``SplitConfig`` with ``folds`` and ``repetition``, as a sweep's evaluation trials cut
them), scored with fast classifiers standing in for two finalists, and given the product's own
intervals (``sweeps.evidence``). The truth is what the intervals claim to cover: the expected
balanced accuracy of a classifier trained on a fold's training part of a data set from the
population (for the cross-subject scenario: on subjects it never saw), estimated by Monte Carlo
on large independent test sets. Besides the product's correction it reports two others: the
Nadeau-Bengio ratio with the trained count (n_scored / n_trained) and no correction at all.

    python bench/calibration.py            # 1,000 draws a scenario (about 4 minutes here)
    python bench/calibration.py --draws 200
"""

import argparse
import statistics
import time
from dataclasses import dataclass

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import balanced_accuracy_score
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid

from probe_core.dataset import EEGDataset
from probe_core.splits import SplitConfig
from sweeps.evidence import by_part, corrected_interval

FOLDS, REPETITIONS = 3, 2  # the default confirmation
FEATURES = 16
LEARNERS = {
    "LDA": lambda: LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
    "nearest centroid": NearestCentroid,
    "7-NN": lambda: KNeighborsClassifier(7),
}
COMPARED = [("LDA", "nearest centroid"), ("LDA", "7-NN")]


@dataclass(frozen=True)
class Scenario:
    """A population and the sweep's split of the data drawn from it."""

    name: str
    classes: int
    subjects: int
    trials_per_class: int  # per subject
    separation: float  # the class means' scale, in units of the noise
    subject_spread: float  # the scale of each subject's own offset (0: one population)
    split: dict

    def draw(self, rng: np.random.Generator, means: np.ndarray, subjects: int | None = None):
        n = subjects or self.subjects
        y = np.tile(np.repeat(np.arange(self.classes), self.trials_per_class), n)
        who = np.repeat(np.arange(n), self.classes * self.trials_per_class)
        offsets = rng.normal(scale=self.subject_spread, size=(n, FEATURES))
        X = means[y] + offsets[who] + rng.normal(size=(len(y), FEATURES))
        return X.astype(np.float32), y, who

    def dataset(self, rng: np.random.Generator, means: np.ndarray) -> EEGDataset:
        X, y, who = self.draw(rng, means)
        return EEGDataset(
            X=X[:, :, None],
            y=y,
            subjects=who,
            ch_names=[f"f{i}" for i in range(FEATURES)],
            sfreq=1.0,
            positions=np.full((FEATURES, 3), np.nan),
            class_names=[f"c{k}" for k in range(self.classes)],
            source=self.name,
        )


SCENARIOS = [
    Scenario(
        "within subject, many trials",
        classes=4,
        subjects=4,
        trials_per_class=15,
        separation=0.35,
        subject_spread=0.0,
        split={"val_fraction": 0.2, "test_fraction": 0.2},
    ),
    Scenario(
        "within subject, 2 labelled trials per class and subject",
        classes=4,
        subjects=4,
        trials_per_class=15,
        separation=0.35,
        subject_spread=0.0,
        split={"val_fraction": 0.2, "test_fraction": 0.2, "train_per_class": 2},
    ),
    Scenario(
        "cross subject, whole subjects per fold",
        classes=4,
        subjects=8,
        trials_per_class=10,
        separation=0.45,
        subject_spread=0.3,
        split={"kind": "cross_subject", "val_fraction": 0.1, "test_fraction": 0.1},
    ),
]


def fold_scores(
    scenario: Scenario, data: EEGDataset
) -> tuple[dict[str, list[float]], list[tuple[int, int, int]], list[frozenset]]:
    """Each learner's balanced accuracy on every fold × repetition, each fold's (scored,
    trained, pool) counts, and its scored examples (repetitions can draw the same part)."""
    scores: dict[str, list[float]] = {name: [] for name in LEARNERS}
    counts, parts = [], []
    flat = data.X[:, :, 0]
    for repetition in range(1, REPETITIONS + 1):
        for fold in range(FOLDS):
            config = SplitConfig(
                **scenario.split, seed=0, folds=FOLDS, fold=fold, repetition=repetition
            )
            split = config.split(data)
            counts.append((len(split.test), len(split.train), len(split.pool)))
            parts.append(frozenset(split.test.tolist()))
            for name, make in LEARNERS.items():
                model = make().fit(flat[split.train], data.y[split.train])
                predicted = model.predict(flat[split.test])
                scores[name].append(balanced_accuracy_score(data.y[split.test], predicted))
    return scores, counts, parts


def truth(scenario: Scenario, means: np.ndarray, rng: np.random.Generator, draws: int) -> dict:
    """Each learner's expected balanced accuracy when trained on a fold's training part of a
    fresh data set, scored on a large independent sample (new subjects when they vary)."""
    found: dict[str, list[float]] = {name: [] for name in LEARNERS}
    for _ in range(draws):
        data = scenario.dataset(rng, means)
        split = SplitConfig(**scenario.split, seed=0, folds=FOLDS, fold=0, repetition=1)
        train = split.split(data).train
        X, y, _ = scenario.draw(rng, means, subjects=40 if scenario.subject_spread else 200)
        for name, make in LEARNERS.items():
            model = make().fit(data.X[train, :, 0], data.y[train])
            found[name].append(balanced_accuracy_score(y, model.predict(X)))
    return {name: statistics.fmean(values) for name, values in found.items()}


def corrections(counts: list[tuple[int, int, int]]) -> dict[str, float]:
    """The share of the examples a fold scores, as each correction takes it."""
    scored, trained, pool = (statistics.fmean(c[i] for c in counts) for i in range(3))
    return {
        "probe-sweep (n_scored / n_pool)": scored / pool,
        "Nadeau-Bengio with n_scored / n_trained": scored / (scored + trained),
        "no correction": 0.0,
    }


def coverage(scenario: Scenario, draws: int, seed: int = 0) -> dict:
    """How often each interval covers the truth over ``draws`` data sets of ``scenario``, and
    its mean half-width, for each learner and each compared pair."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=scenario.separation, size=(scenario.classes, FEATURES))
    true = truth(scenario, means, rng, draws=max(draws // 3, 50))
    targets = {name: true[name] for name in LEARNERS} | {
        f"{a} − {b}": true[a] - true[b] for a, b in COMPARED
    }
    hits: dict[tuple[str, str], list[bool]] = {}
    widths: dict[tuple[str, str], list[float]] = {}
    counts = []
    for _ in range(draws):
        scores, fold_counts, parts = fold_scores(scenario, scenario.dataset(rng, means))
        part_of = dict(enumerate(parts))
        counts += fold_counts
        values = dict(scores) | {
            f"{a} − {b}": list(np.subtract(scores[a], scores[b])) for a, b in COMPARED
        }
        for method, share in corrections(fold_counts).items():
            for name, series in values.items():
                interval = corrected_interval(by_part(dict(enumerate(series)), part_of), share)
                hits.setdefault((method, name), []).append(interval.contains(targets[name]))
                widths.setdefault((method, name), []).append((interval.high - interval.low) / 2)
    return {
        "scenario": scenario.name,
        "truth": targets,
        "counts": [statistics.fmean(c[i] for c in counts) for i in range(3)],
        "coverage": {key: statistics.fmean(v) for key, v in hits.items()},
        "half_width": {key: statistics.fmean(v) for key, v in widths.items()},
    }


def table(result: dict) -> str:
    scored, trained, pool = result["counts"]
    lines = [
        f"### {result['scenario']}",
        "",
        f"A fold scores {scored:.0f} examples, trains on {trained:.0f}, of {pool:.0f}; truth: "
        + ", ".join(f"{name} {value:.3f}" for name, value in result["truth"].items()),
        "",
        "| correction | " + " | ".join(result["truth"]) + " |",
        "| --- |" + " --- |" * len(result["truth"]),
    ]
    methods = dict.fromkeys(method for method, _ in result["coverage"])
    for method in methods:
        cells = [
            f"{result['coverage'][key]:.1%} (±{result['half_width'][key]:.3f})"
            for key in ((method, name) for name in result["truth"])
        ]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    for scenario in SCENARIOS:
        start = time.perf_counter()
        result = coverage(scenario, args.draws)
        print(table(result))
        print(f"\n({args.draws} draws, {time.perf_counter() - start:.0f} s)\n")


if __name__ == "__main__":
    main()
