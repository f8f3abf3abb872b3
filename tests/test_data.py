import re

import mne
import numpy as np
import pytest
from scipy.signal import welch
from sweep_helpers import REALDATA

from probe_core.data_sources import EpochsData, MoabbData, NpzData, windows_from_raws
from probe_core.dataset import DataError, EEGDataset
from probe_core.synthetic import SyntheticData


def test_synthetic_is_deterministic_and_subjects_depend_only_on_seed_and_id() -> None:
    a = SyntheticData(subjects=[0, 1], trials_per_class=5).build()
    b = SyntheticData(subjects=[0, 1], trials_per_class=5).build()
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    alone = SyntheticData(subjects=[1], trials_per_class=5).build()
    assert np.array_equal(alone.X, a.X[a.subjects == 1])
    other_seed = SyntheticData(subjects=[0, 1], trials_per_class=5, seed=1).build()
    assert not np.allclose(other_seed.X, a.X)
    assert a.X.shape == (20, 19, 256) and a.X.dtype == np.float32
    assert a.class_names == ["left_hand", "right_hand"]
    assert np.isfinite(a.positions).all() and a.positions.shape == (19, 3)


def test_synthetic_motor_imagery_desynchronises_the_contralateral_mu_rhythm() -> None:
    data = SyntheticData(subjects=[0, 1, 2], trials_per_class=40, n_classes=3).build()
    freqs, power = welch(data.X, fs=data.sfreq, nperseg=128, axis=-1)
    mu = (freqs >= 8) & (freqs <= 13)

    def mu_power(channel: str, label: int) -> float:
        index = data.ch_names.index(channel)
        return float(np.log(power[data.y == label, index][:, mu].mean()))

    # left hand (0) desynchronises C4, right hand (1) C3, feet (2) Cz
    assert mu_power("C4", 0) < mu_power("C4", 1) - 0.3
    assert mu_power("C3", 1) < mu_power("C3", 0) - 0.3
    assert mu_power("Cz", 2) < mu_power("Cz", 0) - 0.3
    # the occipital alpha rhythm is there and does not depend on the class
    o1 = data.ch_names.index("O1")
    alpha = [np.log(power[data.y == k, o1][:, mu].mean()) for k in range(3)]
    assert max(alpha) - min(alpha) < 0.15
    low = (freqs >= 1) & (freqs <= 4)
    high = (freqs >= 30) & (freqs <= 45)
    assert power[:, :, low].mean() > 5 * power[:, :, high].mean()  # 1/f background


def _write_epochs(
    path, subject: int, n: int = 12, with_metadata: bool = True, volts: float = 1e-5
) -> None:
    """Four EEG channels of noise with a standard deviation of ``volts`` (MNE stores volts)."""
    rng = np.random.default_rng(subject)
    info = mne.create_info(["C3", "Cz", "C4", "Pz"], 100.0, "eeg")
    info.set_montage(mne.channels.make_standard_montage("colin27_1020"))
    events = np.column_stack([np.arange(n) * 200, np.zeros(n, int), np.tile([1, 2], n // 2)])
    metadata = None
    if with_metadata:
        import pandas as pd

        metadata = pd.DataFrame({"subject": [subject] * n})
    epochs = mne.EpochsArray(
        rng.standard_normal((n, 4, 150)) * volts,
        info,
        events=events,
        event_id={"rest": 1, "move": 2},
        metadata=metadata,
        verbose="error",
    )
    epochs.save(path, overwrite=True, verbose="error")


def test_epochs_files_give_labels_subjects_and_montage_positions(tmp_path) -> None:
    _write_epochs(tmp_path / "s7-epo.fif", subject=7)
    _write_epochs(tmp_path / "other-epo.fif", subject=3, with_metadata=False)
    data = EpochsData(paths=[tmp_path / "s7-epo.fif", tmp_path / "other-epo.fif"]).build()
    assert data.X.shape == (24, 4, 150) and data.sfreq == 100.0
    assert data.class_names == ["move", "rest"]
    assert data.y[:4].tolist() == [1, 0, 1, 0]  # event 1 is "rest", index 1
    assert set(data.subjects[:12]) == {7} and set(data.subjects[12:]) == {1}  # file position
    original = mne.read_epochs(tmp_path / "s7-epo.fif", verbose="error")
    assert np.allclose(data.positions[1], original.info["chs"][1]["loc"][:3])
    assert np.linalg.norm(data.positions[1]) > 0.05  # a real head position, in metres
    original = original.get_data()
    assert np.allclose(data.X[:12], original * 1e6, rtol=1e-5)  # MNE's volts read in µV
    only_seven = EpochsData(paths=[tmp_path / "s7-epo.fif"], subjects=[7]).build()
    assert len(only_seven.y) == 12


def test_npz_arrays(tmp_path) -> None:
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "d.npz",
        X=rng.standard_normal((10, 3, 50)),
        y=np.array([5, 9] * 5),
        ch_names=np.array(["C3", "Cz", "Xx"]),
        sfreq=50.0,
        subjects=np.arange(10) % 2,
    )
    data = NpzData(path=tmp_path / "d.npz").build()
    assert data.X.dtype == np.float32 and data.class_names == ["5", "9"]
    assert data.y.tolist() == [0, 1] * 5 and data.subjects.tolist() == [0, 1] * 5
    assert np.isfinite(data.positions[0]).all() and np.isnan(data.positions[2]).all()
    assert np.allclose(data.normalised_positions()[2], [-0.1, -0.1])


def test_windowing_braindecode_raws_as_for_moabb() -> None:
    """The MOABB path minus the download: braindecode raws with event annotations."""
    from braindecode.datasets import BaseConcatDataset, RawDataset

    rng = np.random.default_rng(0)
    parts = []
    for subject in (1, 2):
        info = mne.create_info(["C3", "Cz", "C4"], 100.0, "eeg")
        raw = mne.io.RawArray(rng.standard_normal((3, 3000)) * 1e-5, info, verbose="error")
        onsets = np.arange(1, 28, 3.0)
        raw.set_annotations(mne.Annotations(onsets, 2.0, ["left", "right", "feet"] * 3))
        parts.append(RawDataset(raw, description={"subject": subject}))
    units = MoabbData(dataset="test")  # MNE's volts, read in µV
    data = windows_from_raws(BaseConcatDataset(parts), "moabb test", units, tmin=0.5, tmax=1.5)
    assert data.X.shape == (18, 3, 100)
    assert data.class_names == ["feet", "left", "right"]
    assert data.y[:3].tolist() == [1, 2, 0]
    assert data.subjects.tolist() == [1] * 9 + [2] * 9
    start = round((1 + 0.5) * 100)
    expected = parts[0].raw.get_data()[:, start : start + 100] * 1e6
    assert np.allclose(data.X[0], expected, rtol=1e-5)


def test_epochs_are_read_in_the_declared_unit_or_by_an_explicit_scaling(tmp_path) -> None:
    _write_epochs(tmp_path / "s1-epo.fif", subject=1)
    volts = mne.read_epochs(tmp_path / "s1-epo.fif", verbose="error").get_data()
    for unit, factor in (("uV", 1e6), ("mV", 1e3), ("V", 1.0)):
        data = EpochsData(paths=[tmp_path / "s1-epo.fif"], unit=unit).build()
        assert np.allclose(data.X, volts * factor, rtol=1e-5), unit
    scaled = EpochsData(paths=[tmp_path / "s1-epo.fif"], scaling=2e6).build()
    assert np.allclose(scaled.X, volts * 2e6, rtol=1e-5)
    assert EpochsData(paths=[tmp_path / "s1-epo.fif"]).model_dump()["unit"] == "uV"


def test_a_scale_no_eeg_has_fails_and_names_the_scaling_that_fits(tmp_path) -> None:
    """µV values saved as if they were volts: read as µV they would be 1e7 µV."""
    _write_epochs(tmp_path / "s1-epo.fif", subject=1, volts=10.0)
    with pytest.raises(DataError) as error:
        EpochsData(paths=[tmp_path / "s1-epo.fif"]).build()
    message = str(error.value)
    assert re.search(
        r"s1-epo.fif: the signal's spread \(median channel standard deviation\) is "
        r"[0-9.]+e\+0[67] uV, which no EEG has in uV",
        message,
    )
    assert "the stored values look like uV: set data.scaling: 1 " in message
    assert "\n" not in message
    data = EpochsData(paths=[tmp_path / "s1-epo.fif"], scaling=1.0).build()
    assert 9 < data.X.std() < 11


def test_epochs_in_volts_as_a_user_gives_them_are_learnt(tmp_path) -> None:
    """19-channel MNE files in volts, as MNE writes them: read in µV, a model learns them."""
    from probe_core import TrialConfig, run_trial

    simulated = SyntheticData(subjects=[0, 1], trials_per_class=30, n_classes=3).build()
    paths = []
    for subject in (0, 1):
        here = simulated.subjects == subject
        info = mne.create_info(simulated.ch_names, simulated.sfreq, "eeg")
        events = np.column_stack(
            [np.arange(here.sum()) * 300, 0 * simulated.y[here], 1 + simulated.y[here]]
        )
        event_id = {name: code + 1 for code, name in enumerate(simulated.class_names)}
        epochs = mne.EpochsArray(
            simulated.X[here] * 1e-6, info, events, event_id=event_id, verbose="error"
        )
        paths.append(tmp_path / f"sub-{subject}-epo.fif")
        epochs.save(paths[-1], verbose="error")
    config = TrialConfig.model_validate(
        {
            "backbone": {"name": "ShallowFBCSPNet"},
            "data": {"kind": "epochs", "paths": [str(p) for p in paths]},
            "strategy": {"kind": "from_scratch"},
            "training": {"max_epochs": 10, "batch_size": 16},
            "optimizer": {"lr": 3e-3},
        }
    )
    result = run_trial(config)
    assert result.val_metrics["balanced_accuracy"] > 1 / 3 + 0.4  # chance is 1/3


def test_npz_in_volts_fails_and_millivolts_warn_in_one_line(tmp_path, caplog) -> None:
    rng = np.random.default_rng(0)
    arrays = dict(y=np.array([0, 1] * 5), ch_names=np.array(["C3", "Cz", "C4"]), sfreq=50.0)
    np.savez(tmp_path / "volts.npz", X=rng.standard_normal((10, 3, 50)) * 2e-5, **arrays)
    with pytest.raises(DataError, match=r"look like V: set data.scaling: 1e\+06"):
        NpzData(path=tmp_path / "volts.npz").build()
    data = NpzData(path=tmp_path / "volts.npz", scaling=1e6).build()
    assert 15 < data.X.std() < 25
    np.savez(tmp_path / "mv.npz", X=rng.standard_normal((10, 3, 50)) * 0.02, **arrays)
    with caplog.at_level("WARNING", logger="probe_core.units"):
        NpzData(path=tmp_path / "mv.npz").build()
    (record,) = caplog.records
    assert re.search(
        r"is 0.02[0-9]* uV, which no EEG has in uV; the stored values look like mV", record.message
    )
    assert "data.scaling: 1000 " in record.message and "\n" not in record.message
    caplog.clear()
    NpzData(path=tmp_path / "mv.npz", unit="mV").build()  # declared: nothing to say
    assert not caplog.records


def _dataset(**changes) -> EEGDataset:
    base = dict(
        X=np.zeros((4, 2, 10), np.float32),
        y=np.array([0, 1, 0, 1]),
        subjects=np.zeros(4, int),
        ch_names=["C3", "C4"],
        sfreq=100.0,
        positions=np.zeros((2, 3), np.float32),
        class_names=["a", "b"],
        source="test data",
    )
    base.update(changes)
    return EEGDataset(**base)


def test_bad_data_is_refused_with_a_message_naming_the_problem() -> None:
    X = np.zeros((4, 2, 10), np.float32)
    X[2, 1, 3] = np.nan
    with pytest.raises(
        DataError, match="test data: X contains 1 NaN/Inf values .*epoch 2, channel 'C4'"
    ):
        _dataset(X=X)
    with pytest.raises(DataError, match="a single class"):
        _dataset(y=np.zeros(4, int))
    with pytest.raises(DataError, match="X must have shape \\(n_epochs, n_channels, n_times\\)"):
        _dataset(X=np.zeros((4, 20), np.float32))
    with pytest.raises(DataError, match="3 channel names for 2 channels"):
        _dataset(ch_names=["a", "b", "c"])
    with pytest.raises(DataError, match="no epochs"):
        _dataset(X=np.zeros((0, 2, 10), np.float32), y=np.zeros(0, int), subjects=np.zeros(0, int))


def test_missing_and_corrupt_files(tmp_path) -> None:
    with pytest.raises(DataError, match="nope-epo.fif: not found"):
        EpochsData(paths=[tmp_path / "nope-epo.fif"]).build()
    (tmp_path / "bad-epo.fif").write_bytes(b"not a fif file")
    with pytest.raises(DataError, match="bad-epo.fif: cannot be read as MNE epochs"):
        EpochsData(paths=[tmp_path / "bad-epo.fif"]).build()
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match="bad.npz: cannot be read"):
        NpzData(path=tmp_path / "bad.npz").build()
    np.savez(tmp_path / "partial.npz", X=np.zeros((2, 1, 3)))
    with pytest.raises(DataError, match=r"missing arrays \['y', 'ch_names', 'sfreq'\]"):
        NpzData(path=tmp_path / "partial.npz").build()


def test_moabb_without_the_package_says_how_to_install_it() -> None:
    import importlib.util

    from probe_core.data_sources import MoabbData

    if importlib.util.find_spec("moabb") is not None:
        pytest.skip("moabb is installed: its path downloads data, which CI cannot")
    with pytest.raises(DataError, match=r"pip install 'probe-sweep\[moabb\]'"):
        MoabbData(dataset="BNCI2014_001", subjects=[1]).build()


def test_classes_channels_and_a_window_are_kept_as_asked(tmp_path) -> None:
    """As ``epochs[["c", "a"]].pick(["Cz", "C3"]).crop(...)``: the classes numbered in the order
    given, the channels in theirs, and the samples of the window."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 3, 100))
    y = np.array(["a", "b", "c"] * 4)
    np.savez(tmp_path / "d.npz", X=X, y=y, ch_names=np.array(["C3", "Cz", "C4"]), sfreq=50.0)
    path = tmp_path / "d.npz"
    kept = NpzData(path=path, classes=["c", "a"], channels=["Cz", "C3"], window=(0.2, 1.0)).build()
    assert kept.class_names == ["c", "a"] and kept.ch_names == ["Cz", "C3"]
    assert kept.y.tolist() == [1, 0] * 4  # "a" is now 1, "c" 0; no "b"
    assert np.allclose(kept.X, X[y != "b"][:, [1, 0], 10:50])
    whole = NpzData(path=path).build()
    assert np.allclose(kept.positions, whole.positions[[1, 0]])
    for fields, message in [
        ({"classes": ["a", "d"]}, r"data.classes: \['d'\] not in npz file .* \(it has a, b, c\)"),
        ({"channels": ["Pz"]}, r"data.channels: \['Pz'\] not in npz file .* \(it has C3, Cz, C4\)"),
        ({"window": (1.5, 2.5)}, "data.window: \\[1.5, 2.5\\] s is not within .* \\(0 to 2 s\\)"),
    ]:
        with pytest.raises(DataError, match=message):
            NpzData(path=path, **fields).build()
    with pytest.raises(ValueError, match="each name once"):
        NpzData(path=path, classes=["a", "a"])
    with pytest.raises(ValueError, match="at least 2 items"):
        NpzData(path=path, classes=["a"])


@pytest.mark.skipif(
    not (REALDATA / "eegmmidb_s001").is_dir(), reason=f"no real recordings at {REALDATA}"
)
def test_hands_against_feet_from_the_real_motor_imagery_files() -> None:
    """PhysioNet S001: four event names per file; the imagery of both hands against both feet
    is two of them, over the window 1-3 s after the cue (the files start at 0.5 s)."""
    path = REALDATA / "eegmmidb_s001" / "sub-01_ses-01-epo.fif"
    everything = EpochsData(paths=[path]).build()
    assert everything.class_names == ["feet", "hands", "left_hand", "right_hand"]
    kept = EpochsData(
        paths=[path], classes=["hands", "feet"], channels=["C3", "Cz", "C4"], window=(1.0, 3.0)
    ).build()
    assert kept.class_names == ["hands", "feet"] and kept.ch_names == ["C3", "Cz", "C4"]
    assert kept.n_times == 2 * 160 and kept.sfreq == 160.0
    counts = np.bincount(everything.y)
    assert np.bincount(kept.y).tolist() == [counts[1], counts[0]]
    start = round(0.5 * 160)
    first = np.flatnonzero(np.isin(everything.y, [0, 1]))[0]  # hands or feet, in file order
    picks = [everything.ch_names.index(c) for c in ("C3", "Cz", "C4")]
    assert np.allclose(kept.X[0], everything.X[first][picks, start : start + 320])
    assert kept.class_names[kept.y[0]] == everything.class_names[everything.y[first]]


def test_band_pass_resampling_and_standardising_as_data_options(tmp_path) -> None:
    """10 Hz kept and 40 Hz removed by a 5-20 Hz band-pass; then half the rate, half the
    samples; then each channel of each epoch standardised. A band past Nyquist is one line."""
    t = np.arange(200) / 100.0
    wave = 3.0 * np.sin(2 * np.pi * 10 * t) + 2.0 * np.sin(2 * np.pi * 40 * t) + 5.0
    X = np.tile(wave, (6, 2, 1))
    np.savez(
        tmp_path / "w.npz", X=X, y=np.arange(6) % 2, ch_names=np.array(["C3", "C4"]), sfreq=100.0
    )
    path = tmp_path / "w.npz"
    passed = NpzData(path=path, l_freq=5.0, h_freq=20.0).build()
    freqs, power = welch(passed.X[0, 0], fs=100.0, nperseg=100)
    assert power[freqs == 10][0] > 100 * power[freqs == 40][0]
    assert abs(passed.X[0, 0, 50:150].mean()) < 0.2  # the offset is gone too
    halved = NpzData(path=path, l_freq=5.0, h_freq=20.0, resample=50.0).build()
    assert (halved.sfreq, halved.n_times) == (50.0, 100)
    scaled = NpzData(path=path, standardise=True).build()
    assert np.allclose(scaled.X.mean(axis=2), 0, atol=1e-5)
    assert np.allclose(scaled.X.std(axis=2), 1, atol=1e-4)
    with pytest.raises(DataError, match="data.h_freq: 60 Hz is not below the Nyquist frequency"):
        NpzData(path=path, h_freq=60.0).build()


def test_euclidean_alignment_makes_each_subjects_mean_covariance_the_identity(tmp_path) -> None:
    """Two subjects recorded with different gains and mixing: after alignment each one's mean
    spatial covariance is the identity, and the labels are untouched."""
    rng = np.random.default_rng(0)
    mixing = [np.array([[2.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.1, 0.0, 0.5]]), np.eye(3) * 30.0]
    X = np.concatenate(
        [np.einsum("cd,edt->ect", m, rng.standard_normal((8, 3, 200))) for m in mixing]
    )
    np.savez(
        tmp_path / "two.npz",
        X=X,
        y=np.arange(16) % 2,
        subjects=np.repeat([1, 2], 8),
        ch_names=np.array(["C3", "Cz", "C4"]),
        sfreq=100.0,
    )
    aligned = NpzData(path=tmp_path / "two.npz", align=True).build()
    for subject in (1, 2):
        epochs = aligned.X[aligned.subjects == subject].astype(np.float64)
        mean = np.einsum("ect,edt->cd", epochs, epochs) / (epochs.shape[0] * epochs.shape[2])
        assert np.allclose(mean, np.eye(3), atol=1e-4)
    raw = NpzData(path=tmp_path / "two.npz").build()
    assert np.array_equal(aligned.y, raw.y) and not np.allclose(aligned.X, raw.X)
