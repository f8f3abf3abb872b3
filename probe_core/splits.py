"""Train / validation / test splits, fixed by a split seed so every trial of a sweep sees the same.

The test split is held out: a sweep selects on validation and touches test only at the end.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pydantic

from probe_core.dataset import EEGDataset, check_classes
from probe_core.errors import DataError


@dataclass(frozen=True)
class Splits:
    """Indices into ``data`` (sorted). No epoch is copied: trials running side by side share
    one dataset through Ray's object store, and a split must not duplicate it."""

    data: EEGDataset
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray | None  # None when test_fraction is 0 and no test subjects are given
    pool: np.ndarray | None = None
    """With folds: every epoch the folds are cut from (the search's training and validation
    parts, before any cap); ``test`` is the scored part of it."""

    def part(self, name: str) -> EEGDataset:
        """One split as a dataset of its own (a copy)."""
        index = getattr(self, name)
        return self.data.subset(index, f"{name} split")


class SplitConfig(pydantic.BaseModel):
    """How epochs are divided.

    - ``within_subject``: per subject and class, ``test_fraction`` and ``val_fraction`` of the
      epochs go to test and validation (stratified), the rest to training.
    - ``cross_subject``: whole subjects are held out: ``test_subjects`` / ``val_subjects`` when
      given, else drawn with the seed in proportion to the fractions (at least one each).

    ``train_per_class`` caps the training epochs per class and subject (few-shot adaptation);
    validation and test are unaffected.

    ``folds`` (with ``fold`` and ``repetition``) cross-validates instead, to score a config on
    data that chose nothing: the held-out test split is set aside as without folds and never
    used, and the search's training part (before any cap) is divided into ``folds`` parts.
    Part ``fold`` is scored: it takes the test split's place. The search's validation part,
    which chose the search's best trials, is never scored: it joins the other parts, of which
    ``val_fraction`` validates (stratified by subject and class: it picks the best epoch) and
    the rest trains (capped by ``train_per_class``). For ``cross_subject`` with at least
    ``folds`` training subjects a part is whole subjects, dealt so that every part has every
    class where the subjects allow; else it is stratified by subject and class. The parts
    depend on the seed and the repetition: the folds of one repetition partition the scored
    epochs, and each repetition draws its parts afresh (repeated k-fold).
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    kind: Literal["within_subject", "cross_subject"] = "within_subject"
    seed: int = 0
    val_fraction: float = pydantic.Field(0.2, gt=0.0, lt=1.0)
    test_fraction: float = pydantic.Field(0.2, ge=0.0, lt=1.0)
    test_subjects: list[int] | None = None
    val_subjects: list[int] | None = None
    train_per_class: pydantic.PositiveInt | None = None
    folds: int | None = pydantic.Field(None, ge=2)
    fold: pydantic.NonNegativeInt = 0
    repetition: pydantic.NonNegativeInt = 0

    @pydantic.model_validator(mode="after")
    def _fractions_leave_training_data(self) -> "SplitConfig":
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError("split: val_fraction + test_fraction must be below 1")
        if self.kind == "within_subject" and (self.test_subjects or self.val_subjects):
            raise ValueError("split: test_subjects/val_subjects need kind 'cross_subject'")
        if self.fold >= (self.folds or 1):
            raise ValueError(f"split: fold {self.fold} of {self.folds or 0} folds")
        if self.repetition and self.folds is None:
            raise ValueError("split: repetition needs folds")
        return self

    def split(self, data: EEGDataset) -> Splits:
        rng = np.random.default_rng(self.seed)
        if self.kind == "within_subject":
            train, val, test = self._within_subject(data, rng)
        else:
            train, val, test = self._cross_subject(data, rng)
        pool = None
        if self.folds is not None:
            pool = np.sort(np.concatenate([train, val]))
            train, val, test = self._fold_of(data, train, val)
        if self.train_per_class is not None:
            train = _cap_per_class(data, train, self.train_per_class, rng)
        for index, part in ((train, "train split"), (val, "validation split")):
            check_classes(data.y[index], data.class_names, f"{data.source} ({part})")
        if len(test):
            check_classes(data.y[test], data.class_names, f"{data.source} (test split)")
        return Splits(data, train, val, test if len(test) else None, pool)

    def _within_subject(self, data: EEGDataset, rng: np.random.Generator) -> Iterator[np.ndarray]:
        train, val, test = [], [], []
        for group in _groups(data, np.arange(len(data.y))):
            index = rng.permutation(group)
            n_test = round(len(index) * self.test_fraction)
            n_val = max(round(len(index) * self.val_fraction), 1)
            test.append(index[:n_test])
            val.append(index[n_test : n_test + n_val])
            train.append(index[n_test + n_val :])
        return (np.sort(np.concatenate(part)) for part in (train, val, test))

    def _cross_subject(self, data: EEGDataset, rng: np.random.Generator) -> Iterator[np.ndarray]:
        subjects = np.unique(data.subjects)
        given = set(self.test_subjects or []) | set(self.val_subjects or [])
        unknown = sorted(given - set(subjects.tolist()))
        if unknown:
            raise DataError(f"split: subjects {unknown} are not in {data.source}")
        pool = [s for s in rng.permutation(subjects).tolist() if s not in given]
        test_subjects = self.test_subjects
        if test_subjects is None:
            n_test = max(round(len(subjects) * self.test_fraction), 1) if self.test_fraction else 0
            test_subjects, pool = pool[:n_test], pool[n_test:]
        val_subjects = self.val_subjects
        if val_subjects is None:
            n_val = max(round(len(subjects) * self.val_fraction), 1)
            val_subjects, pool = pool[:n_val], pool[n_val:]
        if not pool:
            raise DataError(
                f"split: no training subjects left in {data.source} ({len(subjects)} subjects; "
                f"test {sorted(test_subjects)}, validation {sorted(val_subjects)})"
            )
        return (
            np.flatnonzero(np.isin(data.subjects, members))
            for members in (pool, val_subjects, test_subjects)
        )

    def _fold_of(
        self, data: EEGDataset, searched: np.ndarray, validated: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(train, validation, scored) of fold ``fold``: the scored part from the search's
        training epochs ``searched``, never from its ``validated`` ones."""
        assert self.folds is not None  # split() cuts folds only when folds is set
        rng = np.random.default_rng([self.seed, self.folds, self.repetition])
        subjects = np.unique(data.subjects[searched])
        if self.kind == "cross_subject" and len(subjects) >= self.folds:
            part = _subject_parts(data, searched, self.folds, rng)
        else:
            part = _stratified_parts(data, searched, self.folds, rng)
        rest = np.sort(np.concatenate([searched[part != self.fold], validated]))
        validating = np.zeros(len(rest), dtype=bool)
        for group in _groups(data, rest):
            n_val = max(round(len(group) * self.val_fraction), 1)
            validating[rng.permutation(group)[:n_val]] = True
        return rest[~validating], rest[validating], searched[part == self.fold]


def _stratified_parts(
    data: EEGDataset, index: np.ndarray, folds: int, rng: np.random.Generator
) -> np.ndarray:
    """The part of each epoch in ``index``: each (subject, class) group dealt round the parts,
    each group starting where the last one stopped, so that groups smaller than ``folds`` do
    not all leave the same part without them."""
    part = np.empty(len(index), dtype=np.int64)
    start = 0
    for group in _groups(data, index):
        part[rng.permutation(group)] = (start + np.arange(len(group))) % folds
        start += len(group)
    return part


def _subject_parts(
    data: EEGDataset, index: np.ndarray, folds: int, rng: np.random.Generator
) -> np.ndarray:
    """The part of each epoch in ``index``, whole subjects to a part, dealt round the parts in
    a random order; dealt again in another order (up to ``DEALS`` times) while a part lacks a
    class, whose balanced accuracy would then have another chance level."""
    subjects, labels = data.subjects[index], data.y[index]
    classes = set(np.unique(labels).tolist())
    for _ in range(DEALS):
        order = rng.permutation(np.unique(subjects)).tolist()
        part_of = {subject: i % folds for i, subject in enumerate(order)}
        part = np.array([part_of[s] for s in subjects.tolist()], dtype=np.int64)
        if all(set(labels[part == p].tolist()) == classes for p in range(folds)):
            break
    return part


DEALS = 100


def _groups(data: EEGDataset, index: np.ndarray) -> list[np.ndarray]:
    """Positions in ``index`` of each (subject, class) group."""
    subjects, labels = data.subjects[index], data.y[index]
    return [
        np.flatnonzero((subjects == subject) & (labels == label))
        for subject in np.unique(subjects)
        for label in np.unique(labels)
    ]


def _cap_per_class(
    data: EEGDataset, train: np.ndarray, per_class: int, rng: np.random.Generator
) -> np.ndarray:
    kept = [rng.permutation(train[group])[:per_class] for group in _groups(data, train)]
    return np.sort(np.concatenate(kept))
