import numpy as np
import pytest

from probe_core.dataset import DataError
from probe_core.splits import SplitConfig
from probe_core.synthetic import SyntheticData


@pytest.fixture(scope="module")
def data():
    return SyntheticData(subjects=[0, 1, 2, 3, 4], trials_per_class=20, n_classes=2).build()


def test_within_subject_split_is_stratified_disjoint_and_seeded(data) -> None:
    splits = SplitConfig(val_fraction=0.2, test_fraction=0.25, seed=3).split(data)
    sizes = (len(splits.train), len(splits.val), len(splits.test))
    assert sizes == (110, 40, 50)  # per subject and class: 20 -> 11 / 4 / 5
    for index in (splits.train, splits.val, splits.test):
        for subject in range(5):
            labels = data.y[index][data.subjects[index] == subject]
            counts = np.bincount(labels, minlength=2)
            assert counts[0] == counts[1]
    together = np.concatenate([splits.train, splits.val, splits.test])
    assert len(set(together.tolist())) == len(together) == 200  # disjoint, complete
    again = SplitConfig(val_fraction=0.2, test_fraction=0.25, seed=3).split(data)
    assert np.array_equal(again.val, splits.val)
    other = SplitConfig(val_fraction=0.2, test_fraction=0.25, seed=4).split(data)
    assert not np.array_equal(other.val, splits.val)
    assert splits.part("val").source == "synthetic (val split)"
    assert np.array_equal(splits.part("val").X, data.X[splits.val])


def test_cross_subject_holds_out_whole_subjects(data) -> None:
    splits = SplitConfig(kind="cross_subject", test_subjects=[4], val_subjects=[0]).split(data)
    assert set(data.subjects[splits.test]) == {4} and set(data.subjects[splits.val]) == {0}
    assert set(data.subjects[splits.train]) == {1, 2, 3}
    drawn = SplitConfig(kind="cross_subject", val_fraction=0.2, test_fraction=0.2).split(data)
    groups = [set(data.subjects[p].tolist()) for p in (drawn.train, drawn.val, drawn.test)]
    assert [len(g) for g in groups] == [3, 1, 1] and not (
        groups[0] & groups[1] | groups[1] & groups[2]
    )


def test_train_per_class_caps_only_training(data) -> None:
    splits = SplitConfig(train_per_class=3).split(data)
    assert len(splits.train) == 5 * 2 * 3
    assert len(splits.val) == 40
    assert SplitConfig(test_fraction=0.0).split(data).test is None


def test_impossible_splits_fail_clearly(data) -> None:
    with pytest.raises(DataError, match="no training subjects left"):
        SplitConfig(kind="cross_subject", test_subjects=[0, 1, 2], val_subjects=[3, 4]).split(data)
    with pytest.raises(DataError, match=r"subjects \[9\] are not in synthetic"):
        SplitConfig(kind="cross_subject", test_subjects=[9]).split(data)
    with pytest.raises(ValueError, match="val_fraction \\+ test_fraction must be below 1"):
        SplitConfig(val_fraction=0.6, test_fraction=0.5)
    one_subject = data.select_subjects([0])
    with pytest.raises(DataError, match="no training subjects left"):
        SplitConfig(kind="cross_subject").split(one_subject)


def test_a_single_class_or_empty_split_is_refused_with_its_name(data) -> None:
    one_class = data.subset(np.flatnonzero((data.subjects != 4) | (data.y == 0)), "x")
    with pytest.raises(DataError, match=r"\(validation split\): a single class \('left_hand'\)"):
        SplitConfig(kind="cross_subject", val_subjects=[4], test_subjects=[3]).split(one_class)
    two_per_class = np.concatenate([np.flatnonzero(data.y == k)[:2] for k in (0, 1)])
    tiny = data.subset(two_per_class, "tiny")  # 2 epochs per class: 1 to validation, 1 to test
    with pytest.raises(DataError, match=r"\(train split\): no epochs"):
        SplitConfig(val_fraction=0.5, test_fraction=0.4).split(tiny)


@pytest.mark.parametrize("kind", ["within_subject", "cross_subject"])
def test_folds_score_only_what_the_search_trained_on_never_its_validation_or_test(
    data, kind
) -> None:
    """The search's validation part chose its best trials: scoring it again would favour the
    finalist it flattered. The folds score the search's training part only, each epoch once
    per repetition; the validation part only ever trains or validates."""
    plain = SplitConfig(kind=kind, seed=2).split(data)
    folds = [SplitConfig(kind=kind, seed=2, folds=3, fold=f).split(data) for f in range(3)]
    pool = np.sort(np.concatenate([plain.train, plain.val]))
    for split in folds:
        parts = np.concatenate([split.train, split.val, split.test])
        assert np.array_equal(np.sort(parts), pool)  # disjoint, and the held-out test unused
        assert np.array_equal(split.pool, pool)
        assert not set(split.test.tolist()) & set(plain.val.tolist())
    scored = np.concatenate([split.test for split in folds])
    assert np.array_equal(np.sort(scored), plain.train)  # each searched epoch scored once
    for split in folds:  # the best epoch is picked on a part of each training subject and class
        groups = {
            (s, y) for s, y in zip(data.subjects[split.train], data.y[split.train], strict=True)
        }
        assert groups == set(zip(data.subjects[split.val], data.y[split.val], strict=True))
    if kind == "cross_subject":  # 3 searched subjects ≥ 3 folds: whole subjects are scored
        for split in folds:
            trained = set(data.subjects[np.concatenate([split.train, split.val])].tolist())
            assert not set(data.subjects[split.test].tolist()) & trained
    else:  # stratified: every part has every subject and class, in equal shares ±1
        for split in folds:
            counts = np.bincount(data.subjects[split.test] * 2 + data.y[split.test])
            assert counts.max() - counts.min() <= 1 and len(counts) == 10


def test_each_repetition_partitions_afresh(data) -> None:
    """Repeated k-fold: another repetition is another partition, so its scores add evidence
    the first repetition's do not already hold; a repetition is reproducible."""

    def scored(repetition: int) -> list[set]:
        return [
            set(SplitConfig(seed=2, folds=3, fold=f, repetition=repetition).split(data).test)
            for f in range(3)
        ]

    assert scored(1) == scored(1)
    assert scored(1) != scored(2)
    assert set().union(*scored(1)) == set().union(*scored(2))  # the same epochs are scored
    with pytest.raises(ValueError, match="split: repetition needs folds"):
        SplitConfig(repetition=1)


def test_subject_folds_are_dealt_so_every_part_has_every_class() -> None:
    """Six subjects each with two of three classes: a round-robin deal can leave a part
    without a class (its balanced accuracy's chance is then not 1/3); the deal gives every
    part every class."""
    many = SyntheticData(subjects=list(range(8)), trials_per_class=6, n_classes=3).build()
    dropped = {s: s % 3 for s in range(6)}  # subject s lacks class s % 3
    keep = [
        i
        for i, (s, y) in enumerate(zip(many.subjects, many.y, strict=True))
        if dropped.get(int(s)) != y
    ]
    data = many.subset(np.array(keep), "two classes a subject")
    for seed in range(10):
        for fold in range(3):
            config = SplitConfig(
                kind="cross_subject",
                seed=seed,
                folds=3,
                fold=fold,
                test_subjects=[6],
                val_subjects=[7],
            )
            split = config.split(data)
            assert set(data.y[split.test].tolist()) == {0, 1, 2}, (seed, fold)


def test_small_groups_do_not_all_leave_the_same_part_empty() -> None:
    """Two epochs per subject and class, three folds: dealing every group from part 0 would
    leave part 2 without any epoch."""
    few = SyntheticData(subjects=[0, 1, 2], trials_per_class=4, n_classes=2).build()
    config = dict(val_fraction=0.25, test_fraction=0.0, seed=1, folds=3)
    sizes = [len(SplitConfig(**config, fold=f).split(few).test) for f in range(3)]
    assert sorted(sizes) == [6, 6, 6]


def test_too_few_subjects_for_subject_folds_fall_back_to_stratified_parts() -> None:
    three = SyntheticData(subjects=[0, 1, 2], trials_per_class=9).build()
    config = SplitConfig(kind="cross_subject", test_fraction=0.0, val_subjects=[2], folds=3)
    split = config.model_copy(update={"fold": 1}).split(three)
    assert set(three.subjects[split.test]) == {0, 1}  # 2 searched subjects < 3 folds: stratified
    with pytest.raises(ValueError, match="split: fold 3 of 3 folds"):
        SplitConfig(folds=3, fold=3)


def test_as_many_subjects_as_folds_leaves_one_way_to_deal_them() -> None:
    """The reason the evaluation fingerprints each scored part (``FoldScore.part``): here every
    repetition scores the same three subjects, one per fold."""
    five = SyntheticData(subjects=[0, 1, 2, 3, 4], trials_per_class=4).build()
    config = SplitConfig(kind="cross_subject", val_fraction=0.2, test_fraction=0.2, folds=3)
    parts = [
        {
            frozenset(
                config.model_copy(update={"fold": f, "repetition": r}).split(five).test.tolist()
            )
            for f in range(3)
        }
        for r in (1, 2, 3)
    ]
    assert parts[0] == parts[1] == parts[2]
