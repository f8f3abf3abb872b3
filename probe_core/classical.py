"""The classical reference: the field's simplest strong pipeline, scored on the same data, folds
and held-out test split as the deep strategies, so that a sweep can say when a pretrained
backbone adds nothing (every BCI paper reports one beside its deep models).

``tangent_space`` (Barachant et al. 2012): per frequency band, the covariance of each epoch
(OAS shrinkage), mapped to the tangent space at its subject's mean covariance (the log-Euclidean
mean, a closed form; of all the subject's epochs, labels unused, as Euclidean alignment and
Riemannian re-centring use them: subjects' different baselines then do not look like classes);
the features of a bank's bands side by side, standardised, into a logistic regression. Two
banks by default, the broad 8-30 Hz band (motor imagery's rhythms) and six 4 Hz bands (the
peaks of evoked rhythms such as SSVEP's), chosen on each training part by a 3-fold
cross-validation inside it.

``canonical_correlation`` (Lin et al. 2006), for SSVEP with known stimulus ``frequencies``: per
frequency, the largest canonical correlation between an epoch's channels and sines and cosines
at the frequency and its harmonics, into the same logistic regression.

Within subject (the split's ``within_subject``) each subject has a model of its own, trained on
its own epochs, as BCIs are calibrated; across subjects one pooled model.

Transfer (``transfer``): given other recordings of the same classes and channels (a sweep's
pretraining recordings), each candidate is tried also with them added to the training part, and
the inner cross-validation (scored on the training part's own epochs only) decides: the
classical counterpart of a backbone pretrained on them. Each recording set's tangent space is at
its own subjects' means, so a session or a person with another baseline lines up with the rest.

Each kind is registered once in ``REFERENCES``; an unknown one fails with the known ones.
"""

import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pydantic
import torch

from probe_core.dataset import EEGDataset
from probe_core.errors import ConfigError, DataError
from probe_core.metrics import classification_metrics
from probe_core.registry import Registry
from probe_core.splits import SplitConfig
from probe_core.training import FoldScore

Band = tuple[pydantic.PositiveFloat, pydantic.PositiveFloat]


class Classifier(Protocol):
    """A classical pipeline fitted on some epochs of a dataset and asked about others: the
    dataset's features are computed once (``prepare``), each fold only fits."""

    def prepare(self, data: EEGDataset, source: EEGDataset | None = None) -> None:
        """``source``: other recordings, of ``data``'s classes and channels, a fit may add."""
        ...

    def fit(self, train: np.ndarray) -> None: ...

    def probabilities(self, index: np.ndarray) -> np.ndarray:
        """(epochs, the dataset's classes)."""
        ...

    @property
    def transferred(self) -> float | None:
        """The share of the models fitted so far that took the other recordings (None: none
        were offered)."""
        ...


REFERENCES: Registry[Callable[["ReferenceConfig", bool], Classifier]] = Registry(
    "classical reference"
)
"""Each kind's classifier, built from the config and whether it is one model per subject."""


def _default_banks() -> list[list[Band]]:
    return [[(8.0, 30.0)], [(low, low + 4.0) for low in (8.0, 12.0, 16.0, 20.0, 24.0, 28.0)]]


class ReferenceConfig(pydantic.BaseModel):
    """The classical reference of a sweep (``reference:`` in the spec; ``null`` for none)."""

    model_config = pydantic.ConfigDict(extra="forbid")

    kind: str = "tangent_space"
    banks: list[list[Band]] = pydantic.Field(default_factory=_default_banks, min_length=1)
    """Filter banks (Hz) to choose from on each training part; bands reaching the data's
    Nyquist frequency are left out."""
    frequencies: list[pydantic.PositiveFloat] = []
    """``canonical_correlation``: the stimulus frequencies (Hz), one class's each."""
    harmonics: pydantic.PositiveInt = 2
    """``canonical_correlation``: the harmonics of each frequency compared (below Nyquist)."""
    regularisation: pydantic.PositiveFloat = 1.0
    """The logistic regression's inverse regularisation strength (scikit-learn's ``C``)."""
    transfer: bool = True
    """Offer each fit the sweep's pretraining recordings (``pretrain.data``) as extra training
    epochs, taken where a cross-validation inside the training part prefers them."""

    @pydantic.field_validator("kind")
    @classmethod
    def _registered(cls, kind: str) -> str:
        REFERENCES[kind]  # noqa: B018 (an unknown name raises, listing the known ones)
        return kind

    @pydantic.model_validator(mode="after")
    def _frequencies_given(self) -> "ReferenceConfig":
        if self.kind == "canonical_correlation" and not self.frequencies:
            raise ValueError("reference.frequencies: kind 'canonical_correlation' needs them")
        return self

    @pydantic.field_validator("banks")
    @classmethod
    def _ordered(cls, banks: list[list[Band]]) -> list[list[Band]]:
        for low, high in (band for bank in banks for band in bank):
            if low >= high:
                raise ValueError(f"reference.banks: ({low:g}, {high:g}) Hz is not low < high")
        if not all(banks):
            raise ValueError("reference.banks: a bank without a band")
        return banks

    def check_rate(self, data: EEGDataset) -> list[list[Band]]:
        """``ConfigError`` when ``data``'s rate cannot carry this reference (every band, or
        every stimulus frequency, at or past its Nyquist frequency); else the banks without
        their bands past it (a bank left without a band dropped)."""
        nyquist = data.sfreq / 2
        banks = [[b for b in bank if b[1] < nyquist] for bank in self.banks]
        banks = [bank for bank in banks if bank]
        if self.kind == "tangent_space" and not banks:
            raise ConfigError(
                f"reference.banks: every band reaches {nyquist:g} Hz, the Nyquist frequency "
                f"of {data.source} ({data.sfreq:g} Hz sampling)"
            )
        if self.kind == "canonical_correlation" and min(self.frequencies) >= nyquist:
            raise ConfigError(
                f"reference.frequencies: every one reaches {nyquist:g} Hz, the Nyquist "
                f"frequency of {data.source} ({data.sfreq:g} Hz sampling)"
            )
        return banks

    def build(self, within_subject: bool) -> Classifier:
        """``within_subject``: one model per subject (else one pooled model)."""
        return REFERENCES[self.kind](self, within_subject)


@dataclass(frozen=True)
class ReferenceScores:
    """The reference (of ``kind``) on every (fold, repetition) of an evaluation and on the
    held-out test split, and the seconds it took."""

    kind: str
    folds: dict[tuple[int, int], FoldScore]
    test_metrics: dict[str, float] | None
    seconds: float
    transferred: float | None = None
    """The share of its models that took the other recordings (None: none were offered)."""


def _metrics(classifier: Classifier, data: EEGDataset, index: np.ndarray) -> dict[str, float]:
    probabilities = classifier.probabilities(index)
    logits = torch.from_numpy(np.log(np.clip(probabilities, 1e-12, 1.0)))
    return classification_metrics(logits, torch.from_numpy(data.y[index]), data.n_classes)


def score_reference(
    config: ReferenceConfig,
    data: EEGDataset,
    split: SplitConfig,
    *,
    folds: int,
    repetitions: int,
    metric: str,
    source: EEGDataset | None = None,
) -> ReferenceScores:
    """The reference trained on each fold's training part (the validation part is left out:
    it only picks a deep model's epoch) and scored on the fold, for repetitions
    1…``repetitions`` as the finalists' evaluation; then trained on the search's training
    split and scored once on the held-out test split (if there is one). ``source``: other
    recordings each fit may add (see the module)."""
    start = time.perf_counter()
    classifier = config.build(within_subject=split.kind == "within_subject")
    classifier.prepare(data, source)
    scores = {}
    for fold in range(folds):
        for repetition in range(1, repetitions + 1):
            update = {"folds": folds, "fold": fold, "repetition": repetition}
            splits = split.model_copy(update=update).split(data)
            assert splits.test is not None  # a fold always scores its part
            classifier.fit(splits.train)
            metrics = _metrics(classifier, data, splits.test)
            scores[(fold, repetition)] = FoldScore.of(splits, metrics, metric)
    searched = split.split(data)
    test_metrics = None
    if searched.test is not None:
        classifier.fit(searched.train)
        test_metrics = _metrics(classifier, data, searched.test)
    seconds = time.perf_counter() - start
    return ReferenceScores(config.kind, scores, test_metrics, seconds, classifier.transferred)


def as_source(source: EEGDataset, data: EEGDataset) -> EEGDataset:
    """``source`` as a fit on ``data`` can add it: its epochs of ``data``'s classes (numbered
    as there) and its channels in ``data``'s order. ``DataError`` when it cannot: a class or a
    channel missing, another rate, or an epoch that is also in ``data`` (the reference would be
    scored on epochs it trained on)."""
    matched = source.select(classes=data.class_names, channels=data.ch_names)
    if matched.sfreq != data.sfreq:
        raise DataError(
            f"{source.source}: sampled at {matched.sfreq:g} Hz, the adapted data at "
            f"{data.sfreq:g} Hz"
        )
    seen = {epoch.tobytes() for epoch in data.X}
    shared = sum(epoch.tobytes() in seen for epoch in matched.X)
    if shared:
        raise DataError(f"{source.source}: {shared} of its epochs are also in the adapted data")
    return matched


INNER_FOLDS = 3
"""The cross-validation inside a training part that chooses among candidate features."""


Option = tuple[int, bool]
"""A way to fit: which candidate feature set, and whether the other recordings join in."""


class FeatureClassifier:
    """Features computed once per dataset (``features``: one or more candidate sets, e.g. one
    per filter bank), then per fit: the option (a candidate, with the other recordings or
    without) a cross-validation inside the training part prefers, standardised, into a
    logistic regression; one model per subject or one for all."""

    def __init__(self, config: ReferenceConfig, within_subject: bool) -> None:
        self.config, self.within_subject = config, within_subject
        self.candidates: list[np.ndarray] = []  # each (epochs, features)
        self.source: tuple[list[np.ndarray], np.ndarray] | None = None  # candidates, labels
        self.models: dict[int | None, tuple[Option, Any]] = {}  # by subject (None: all)
        self.took_source: list[bool] = []  # per model fitted

    def features(self, data: EEGDataset) -> list[np.ndarray]:
        raise NotImplementedError

    def prepare(self, data: EEGDataset, source: EEGDataset | None = None) -> None:
        self.data = data
        self.candidates = self.features(data)
        if source is not None:
            self.source = (self.features(source), source.y)
        pooled = [False, True] if self.source is not None else [False]
        self.options = [(c, p) for p in pooled for c in range(len(self.candidates))]

    @property
    def transferred(self) -> float | None:
        """The share of the models fitted so far that took the other recordings."""
        if self.source is None or not self.took_source:
            return None
        return float(np.mean(self.took_source))

    def _groups(self, index: np.ndarray) -> dict[int | None, np.ndarray]:
        """Which of ``index`` each model takes (a mask): per subject, or all for one model."""
        if not self.within_subject:
            return {None: np.ones(len(index), dtype=bool)}
        subjects = self.data.subjects[index]
        return {int(s): subjects == s for s in np.unique(subjects)}

    def _trained(self, option: Option, index: np.ndarray) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer, StandardScaler

        candidate, pooled = option
        features, labels = self.candidates[candidate][index], self.data.y[index]
        if pooled:
            assert self.source is not None
            features = np.concatenate([features, self.source[0][candidate]])
            labels = np.concatenate([labels, self.source[1]])
        classifier = make_pipeline(
            StandardScaler(),
            FunctionTransformer() if len(labels) >= features.shape[1] else _TrainingSpan(),
            LogisticRegression(C=self.config.regularisation, max_iter=1000),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence notes on few epochs
            return classifier.fit(features, labels)

    def _chosen(self, index: np.ndarray) -> Option:
        """The option with the best balanced accuracy in a cross-validation inside ``index``;
        with too few epochs of a class to cross-validate, the first candidate, with the other
        recordings when there are some (a model of two epochs a class is hardly one)."""
        from sklearn.metrics import balanced_accuracy_score
        from sklearn.model_selection import StratifiedKFold

        labels = self.data.y[index]
        if np.bincount(labels)[np.unique(labels)].min() < INNER_FOLDS:
            return (0, self.source is not None)
        if len(self.options) == 1:
            return self.options[0]
        inner = StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=0)
        scores = []
        for option in self.options:
            features, found = self.candidates[option[0]], []
            for fit, held in inner.split(index, labels):
                predicted = self._trained(option, index[fit]).predict(features[index[held]])
                found.append(balanced_accuracy_score(labels[held], predicted))
            scores.append(np.mean(found))
        return self.options[int(np.argmax(scores))]

    def fit(self, train: np.ndarray) -> None:
        self.models = {}
        for group, members in self._groups(train).items():
            index = train[members]
            option = self._chosen(index)
            self.models[group] = (option, self._trained(option, index))
            self.took_source.append(option[1])

    def probabilities(self, index: np.ndarray) -> np.ndarray:
        out = np.full((len(index), self.data.n_classes), 1.0 / self.data.n_classes)
        for group, members in self._groups(index).items():
            if group not in self.models:  # a subject without training epochs: no guess
                continue
            (candidate, _), classifier = self.models[group]
            rows = np.flatnonzero(members)
            out[rows] = 0.0
            found = classifier.predict_proba(self.candidates[candidate][index[members]])
            out[np.ix_(rows, classifier.classes_)] = found
        return out


class TangentSpace(FeatureClassifier):
    """Filter bank covariances → tangent space (see the module): one candidate per bank."""

    banks: list[list[Band]]  # the config's, without the bands past the data's Nyquist frequency

    def features(self, data: EEGDataset) -> list[np.ndarray]:
        from pyriemann.estimation import Covariances
        from pyriemann.tangentspace import TangentSpace as Tangent
        from scipy.signal import butter, sosfiltfilt

        banks = self.config.check_rate(data)
        tangent: dict[Band, np.ndarray] = {}
        for low, high in {band for bank in banks for band in bank}:
            sos = butter(4, [low, high], btype="bandpass", fs=data.sfreq, output="sos")
            covariances = np.concatenate(
                [
                    Covariances("oas").fit_transform(sosfiltfilt(sos, chunk, axis=-1))
                    for chunk in _chunks(data)
                ]
            )
            n = covariances.shape[1]
            vectors = np.empty((len(data.y), n * (n + 1) // 2))
            for subject in np.unique(data.subjects):  # at the subject's own mean
                members = data.subjects == subject
                vectors[members] = Tangent(
                    metric={"mean": "logeuclid", "map": "riemann"}
                ).fit_transform(covariances[members])
            tangent[(low, high)] = vectors
        self.banks = banks
        return [np.hstack([tangent[band] for band in bank]) for bank in banks]


class CanonicalCorrelation(FeatureClassifier):
    """SSVEP's classical pipeline (Lin et al. 2006; with a classifier, as in the SSVEP set's
    reference): per stimulus frequency, the canonical correlation between an epoch's channels
    and sines and cosines at the frequency and its harmonics."""

    def features(self, data: EEGDataset) -> list[np.ndarray]:
        frequencies = self.config.frequencies
        t = np.arange(data.n_times) / data.sfreq
        references = []  # per frequency: an orthonormal basis of its sines and cosines
        for frequency in frequencies:
            harmonics = [
                h * frequency
                for h in range(1, self.config.harmonics + 1)
                if h * frequency < data.sfreq / 2
            ]
            waves = [np.sin(2 * np.pi * f * t) for f in harmonics]
            waves += [np.cos(2 * np.pi * f * t) for f in harmonics]
            references.append(np.linalg.qr(np.stack(waves, axis=1))[0])  # (times, 2 × harmonics)
        features = []
        for chunk in _chunks(data):
            centred = chunk - chunk.mean(axis=2, keepdims=True)
            bases = np.linalg.qr(centred.transpose(0, 2, 1))[0]  # (epochs, times, channels)
            overlaps = [np.einsum("etc,tr->ecr", bases, r) for r in references]
            # the largest canonical correlation: the top singular value of the bases' overlap
            features.append(
                np.stack([np.linalg.svd(o, compute_uv=False)[:, 0] for o in overlaps], 1)
            )
        return [np.concatenate(features)]


class _TrainingSpan:
    """Coordinates in the span of the (centred) training rows. An L2-penalised linear model's
    weights lie in that span, so the model fitted on these coordinates is the one on the
    features themselves, with as many coordinates as epochs: thousands of tangent-space
    features on tens of epochs fit in milliseconds."""

    def fit(self, X: np.ndarray, y: Any = None) -> "_TrainingSpan":
        self.mean = X.mean(axis=0)
        centred = X - self.mean
        values, vectors = np.linalg.eigh(centred @ centred.T)
        kept = values > values.max() * 1e-10
        self.basis = centred.T @ (vectors[:, kept] / np.sqrt(values[kept]))
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        coordinates: np.ndarray = (X - self.mean) @ self.basis
        return coordinates

    def fit_transform(self, X: np.ndarray, y: Any = None) -> np.ndarray:
        return self.fit(X).transform(X)


def _chunks(data: EEGDataset, size: int = 256) -> Iterator[np.ndarray]:
    """The epochs as float64, a few hundred at a time: a whole large dataset's filtered copy
    could take gigabytes."""
    for start in range(0, len(data.y), size):
        yield data.X[start : start + size].astype(np.float64)


REFERENCES.register("tangent_space", TangentSpace)
REFERENCES.register("canonical_correlation", CanonicalCorrelation)
