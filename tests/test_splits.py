import numpy as np
import pytest

from probe_core.dataset import DataError
from probe_core.splits import SplitConfig
from probe_core.synthetic import SyntheticData


@pytest.fixture(scope="module")
def data():
    return SyntheticData(subjects=[0, 1, 2, 3, 4], trials_per_class=20, n_classes=2).build()


def _ids(part) -> set[tuple]:
    return {x.tobytes() for x in part.X[:, 0, :4]}


def test_within_subject_split_is_stratified_disjoint_and_seeded(data) -> None:
    splits = SplitConfig(val_fraction=0.2, test_fraction=0.25, seed=3).split(data)
    sizes = (len(splits.train.y), len(splits.val.y), len(splits.test.y))
    assert sizes == (110, 40, 50)  # per subject and class: 20 -> 11 / 4 / 5
    for part in (splits.train, splits.val, splits.test):
        for subject in range(5):
            counts = np.bincount(part.y[part.subjects == subject], minlength=2)
            assert counts[0] == counts[1]
    assert not (_ids(splits.train) & _ids(splits.val)) and not (
        _ids(splits.val) & _ids(splits.test)
    )
    again = SplitConfig(val_fraction=0.2, test_fraction=0.25, seed=3).split(data)
    assert np.array_equal(again.val.X, splits.val.X)
    other = SplitConfig(val_fraction=0.2, test_fraction=0.25, seed=4).split(data)
    assert not np.array_equal(other.val.X, splits.val.X)
    assert "validation split" in splits.val.source


def test_cross_subject_holds_out_whole_subjects(data) -> None:
    splits = SplitConfig(kind="cross_subject", test_subjects=[4], val_subjects=[0]).split(data)
    assert set(splits.test.subjects) == {4} and set(splits.val.subjects) == {0}
    assert set(splits.train.subjects) == {1, 2, 3}
    drawn = SplitConfig(kind="cross_subject", val_fraction=0.2, test_fraction=0.2).split(data)
    groups = [set(p.subjects.tolist()) for p in (drawn.train, drawn.val, drawn.test)]
    assert [len(g) for g in groups] == [3, 1, 1] and not (
        groups[0] & groups[1] | groups[1] & groups[2]
    )


def test_train_per_class_caps_only_training(data) -> None:
    splits = SplitConfig(train_per_class=3).split(data)
    assert len(splits.train.y) == 5 * 2 * 3
    assert len(splits.val.y) == 40
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
