"""The classical reference learns what the field's simplest strong pipeline learns: on the
simulator, on real SSVEP and motor-imagery recordings (when ../shared/realdata is here), and
nothing from shuffled labels; its bank follows the data's rate; names are checked."""

import numpy as np
import pytest
from sweep_helpers import REALDATA, said, small_spec

from probe_core import ConfigError, DataError, SyntheticData
from probe_core.classical import (
    REFERENCES,
    ReferenceConfig,
    _TrainingSpan,
    as_source,
    score_reference,
)
from probe_core.data_sources import EpochsData, NpzData
from probe_core.splits import SplitConfig
from sweeps import reference
from sweeps.sweep import dry_run


def _fold_mean(scores, metric: str = "balanced_accuracy") -> float:
    return float(np.mean([fold.metrics[metric] for fold in scores.folds.values()]))


def test_on_the_simulator_it_learns_the_rhythm_and_nothing_from_shuffled_labels() -> None:
    split = SplitConfig(seed=0)
    found = {}
    for shuffled in (False, True):
        data = SyntheticData(subjects=[0, 1], trials_per_class=24, shuffle_labels=shuffled).build()
        scores = score_reference(
            ReferenceConfig(), data, split, folds=4, repetitions=2, metric="balanced_accuracy"
        )
        assert len(scores.folds) == 8 and scores.test_metrics is not None
        found[shuffled] = _fold_mean(scores)
    assert found[False] >= 0.68  # 0.747 on this machine
    assert abs(found[True] - 0.5) <= 0.08  # 0.482: chance


def test_each_fold_is_scored_on_the_deep_evaluations_part_with_its_evidence() -> None:
    data = SyntheticData(subjects=[0, 1], trials_per_class=16).build()
    split = SplitConfig(seed=3, val_fraction=0.25)
    scores = score_reference(
        ReferenceConfig(), data, split, folds=3, repetitions=1, metric="balanced_accuracy"
    )
    same = split.model_copy(update={"folds": 3, "fold": 1, "repetition": 1}).split(data)
    evidence = scores.folds[(1, 1)]
    assert evidence.scored == len(same.test) and evidence.trained == len(same.train)
    assert evidence.pool == len(same.pool) and evidence.chance == 0.5


def test_bands_past_the_nyquist_frequency_are_left_out_and_none_left_is_one_line() -> None:
    data = SyntheticData(subjects=[0], trials_per_class=8, sfreq=64.0).build()  # Nyquist 32 Hz
    classifier = ReferenceConfig(banks=[[(8.0, 30.0)], [(28.0, 40.0)]]).build(True)
    classifier.prepare(data)
    assert classifier.banks == [[(8.0, 30.0)]] and len(classifier.candidates) == 1
    with pytest.raises(ConfigError, match=r"^reference.banks: every band reaches 32 Hz"):
        ReferenceConfig(banks=[[(30.0, 40.0)]]).build(True).prepare(data)
    with pytest.raises(ValueError, match="unknown classical reference 'csp'; known: tangent_"):
        ReferenceConfig(kind="csp")
    with pytest.raises(ValueError, match=r"\(30, 8\) Hz is not low < high"):
        ReferenceConfig(banks=[[(30.0, 8.0)]])
    assert "tangent_space" in REFERENCES


def test_other_recordings_are_taken_where_they_help_and_left_where_their_labels_are_noise() -> None:
    """Four training trials per class and subject; the same subjects' other session as the
    other recordings: with true labels they lift the reference, with shuffled ones the inner
    cross-validation leaves them out in most fits and the score stays."""
    data = SyntheticData(subjects=[0, 1], trials_per_class=24).build()
    split = SplitConfig(seed=0, train_per_class=4, val_fraction=0.25)

    def scored(source):
        return score_reference(
            ReferenceConfig(),
            data,
            split,
            folds=4,
            repetitions=2,
            metric="balanced_accuracy",
            source=source,
        )

    alone = scored(None)
    assert alone.transferred is None
    found = {}
    for shuffled in (False, True):
        other = SyntheticData(
            subjects=[0, 1], trials_per_class=24, session=1, shuffle_labels=shuffled
        ).build()
        found[shuffled] = scored(as_source(other, data))
    assert _fold_mean(found[False]) >= _fold_mean(alone) + 0.15  # 0.839 against 0.615 here
    assert found[False].transferred >= 0.75  # 1.0
    assert found[True].transferred <= 0.5  # 0.22
    assert abs(_fold_mean(found[True]) - _fold_mean(alone)) <= 0.08  # 0.631


def test_other_recordings_that_do_not_fit_the_data_are_refused_in_one_line() -> None:
    data = SyntheticData(subjects=[0], trials_per_class=8).build()
    other = SyntheticData(subjects=[1], trials_per_class=8)
    assert as_source(other.build(), data).ch_names == data.ch_names
    fewer = other.model_copy(update={"channels": data.ch_names[:4]}).build()
    with pytest.raises(DataError, match="channels"):
        as_source(fewer, data)
    slower = other.model_copy(update={"sfreq": 64.0}).build()
    with pytest.raises(DataError, match="sampled at 64 Hz, the adapted data at 128 Hz"):
        as_source(slower, data)
    with pytest.raises(DataError, match="16 of its epochs are also in the adapted data"):
        as_source(data, data)  # pretrained on the very recordings it adapts to


def test_the_logistic_regression_on_the_training_span_is_the_one_on_all_features() -> None:
    """Thousands of features on tens of epochs: the span's coordinates give the same model."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 2000)), np.arange(40) % 3
    X[:, :5] += y[:, None]  # something to learn
    new = rng.standard_normal((10, 2000))
    full = LogisticRegression(tol=1e-8, max_iter=5000).fit(X - X.mean(0), y)
    span = _TrainingSpan().fit(X)
    spanned = LogisticRegression(tol=1e-8, max_iter=5000).fit(span.transform(X), y)
    assert span.basis.shape == (2000, 39)  # centred: one dimension fewer than the epochs
    np.testing.assert_allclose(
        spanned.predict_proba(span.transform(new)),
        full.predict_proba(new - X.mean(0)),
        atol=1e-5,
    )


def test_canonical_correlation_tells_two_stimulus_frequencies_apart(tmp_path) -> None:
    """Class 0 flickers at 13 Hz, class 1 at 17 Hz, in noise four times their amplitude."""
    rng = np.random.default_rng(1)
    t = np.arange(512) / 256.0
    y = np.arange(48) % 2
    waves = np.sin(2 * np.pi * np.where(y == 1, 17.0, 13.0)[:, None, None] * t)
    X = waves + 4.0 * rng.standard_normal((48, 4, 512))
    path = tmp_path / "flicker.npz"
    np.savez(path, X=X, y=y, ch_names=np.array(["O1", "Oz", "O2", "POz"]), sfreq=256.0)
    data = NpzData(path=path).build()
    config = ReferenceConfig(kind="canonical_correlation", frequencies=[13.0, 17.0])
    scores = score_reference(
        config, data, SplitConfig(seed=0), folds=3, repetitions=1, metric="balanced_accuracy"
    )
    assert _fold_mean(scores) >= 0.9  # 1.0 on this machine
    with pytest.raises(ValueError, match="kind 'canonical_correlation' needs them"):
        ReferenceConfig(kind="canonical_correlation")


needs_ssvep = pytest.mark.skipif(
    not (REALDATA / "ssvep_exo").is_dir(), reason=f"no real recordings at {REALDATA}"
)
needs_motor_imagery = pytest.mark.skipif(
    not (REALDATA / "eegmmidb_s001").is_dir(), reason=f"no real recordings at {REALDATA}"
)


@needs_ssvep
def test_real_ssvep_with_eight_labelled_trials_per_class() -> None:
    """Subjects 7-12, within subject, 8 training trials per class and subject (the few-shot
    split of issue 21); 4 classes, chance 0.25."""
    paths = [REALDATA / "ssvep_exo" / f"sub-{i:02d}-epo.fif" for i in range(7, 13)]
    data = EpochsData(paths=paths).build()
    split = SplitConfig(seed=0, train_per_class=8, test_fraction=0.25)
    scores = score_reference(
        ReferenceConfig(), data, split, folds=4, repetitions=1, metric="balanced_accuracy"
    )
    assert _fold_mean(scores) >= 0.6  # 0.680 on this machine
    assert scores.test_metrics["balanced_accuracy"] >= 0.6  # 0.717
    cca = ReferenceConfig(kind="canonical_correlation", frequencies=[13.0, 17.0, 21.0])
    scores = score_reference(cca, data, split, folds=4, repetitions=1, metric="balanced_accuracy")
    assert _fold_mean(scores) >= 0.75  # SSVEP's own pipeline


@needs_motor_imagery
def test_real_motor_imagery_hands_against_feet() -> None:
    paths = [REALDATA / "eegmmidb_s001" / f"sub-01_ses-0{i}-epo.fif" for i in (1, 2, 3)]
    data = EpochsData(paths=paths, classes=["hands", "feet"]).build()
    scores = score_reference(
        ReferenceConfig(),
        data,
        SplitConfig(seed=0, test_fraction=0.25),
        folds=4,
        repetitions=1,
        metric="balanced_accuracy",
    )
    assert _fold_mean(scores) >= 0.85  # 0.917 on this machine


@needs_motor_imagery
def test_real_motor_imagery_session_three_with_sessions_one_and_two_beside_it() -> None:
    """Hands against feet on session 3 (15 trials), half of it held out, over five splits:
    trained on its few other trials the reference is unsteady; with sessions 1-2 offered (the
    sweep's pretraining recordings) it separates the classes on every split."""
    session = [REALDATA / "eegmmidb_s001" / "sub-01_ses-03-epo.fif"]
    earlier = [REALDATA / "eegmmidb_s001" / f"sub-01_ses-0{i}-epo.fif" for i in (1, 2)]
    data = EpochsData(paths=session, classes=["hands", "feet"]).build()
    other = as_source(EpochsData(paths=earlier, classes=["hands", "feet"]).build(), data)
    config = ReferenceConfig(banks=[[(8.0, 30.0)]])

    def tested(seed: int, source) -> float:
        split = SplitConfig(seed=seed, val_fraction=0.2, test_fraction=0.5)
        found = score_reference(
            config, data, split, folds=2, repetitions=1, metric="balanced_accuracy", source=source
        )
        return found.test_metrics["balanced_accuracy"]

    alone = [tested(seed, None) for seed in range(5)]
    transferred = [tested(seed, other) for seed in range(5)]
    assert min(transferred) >= 0.75  # 0.875 on each split on this machine
    assert np.mean(transferred) >= np.mean(alone) + 0.1  # against 0.700 (0.5 to 0.875)


def test_a_reference_the_datas_rate_cannot_carry_is_refused_before_anything_trains(
    tmp_path,
) -> None:
    spec = small_spec(tmp_path, "fast", reference={"banks": [[[70.0, 80.0]]]})  # 128 Hz data
    with pytest.raises(ConfigError, match=r"^reference.banks: every band reaches 64 Hz"):
        dry_run(spec, n=1)
    assert not (tmp_path / "sweeps" / "fast" / "spec.yaml").exists()


def test_a_reference_that_fails_leaves_the_sweeps_conclusion_intact(tmp_path, monkeypatch) -> None:
    """A fault inside the reference (faked: a singular matrix) is a warning; the sweep's
    recommendation goes on without the reference."""

    def singular(*args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(reference, "score_reference", singular)
    spec = small_spec(tmp_path, "faulty")
    with said("sweeps.reference") as lines:
        found = reference.run_reference(spec, spec.data.build(), outbox=None, session=None)
    assert found is None
    assert lines == [
        "the classical reference (tangent_space) failed, and is left out: Singular matrix"
    ]


def test_a_sweep_offers_its_pretraining_recordings_unless_they_hold_the_adapted_ones(
    tmp_path,
) -> None:
    def spec(subjects: list[int], **overrides):
        source = {"kind": "synthetic", "subjects": subjects, "trials_per_class": 16}
        pretrain = {"backbone": {"name": "EEGNet"}, "data": source, "output": "unused.pt"}
        return small_spec(tmp_path, "transfer", pretrain=pretrain, **overrides)

    data = spec([2, 3]).data.build()
    offered = reference.pretraining_recordings(spec([2, 3]), data)
    assert offered is not None and offered.n_classes == data.n_classes
    assert set(offered.subjects.tolist()) == {2, 3}
    assert (
        reference.pretraining_recordings(spec([2, 3], reference={"transfer": False}), data) is None
    )
    with said("sweeps.reference") as lines:
        assert reference.pretraining_recordings(spec([0, 1]), data) is None  # the same subjects
    assert lines == [
        "the classical reference does not use the pretraining recordings: synthetic: 64 of "
        "its epochs are also in the adapted data"
    ]
