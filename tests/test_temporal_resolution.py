"""The check that a backbone's first temporal filters can tell apart the rhythms the data's
classes differ by: found in the data, judged against the filters' span at the data's rate, and
said once by a sweep, with a rate that fixes it."""

import numpy as np
import pytest
from sweep_helpers import REALDATA, said, small_spec

from probe_core.data_sources import EpochsData, NpzData
from probe_core.temporal_resolution import check_resolution, class_rhythms
from search_spaces import make_context
from sweeps.sweep import dry_run, warn_of_resolution


def _two_rhythms(tmp_path, sfreq: float = 256.0, apart: bool = True):
    """Class 0 at 13 Hz, class 1 at 17 Hz (or both at 13 Hz), in noise, 2 s epochs."""
    rng = np.random.default_rng(0)
    t = np.arange(int(2 * sfreq)) / sfreq
    y = np.arange(40) % 2
    freq = np.where(y == 1, 17.0 if apart else 13.0, 13.0)
    phase = rng.uniform(0, 2 * np.pi, (40, 1, 1))
    X = np.sin(2 * np.pi * freq[:, None, None] * t + phase) + rng.standard_normal((40, 4, len(t)))
    path = tmp_path / "rhythms.npz"
    np.savez(path, X=X, y=y, ch_names=np.array(["O1", "Oz", "O2", "POz"]), sfreq=sfreq)
    return path


def test_the_rhythms_are_where_the_classes_spectra_differ(tmp_path) -> None:
    data = NpzData(path=_two_rhythms(tmp_path)).build()
    assert class_rhythms(data) == [13.0, 17.0]
    same = NpzData(path=_two_rhythms(tmp_path, apart=False)).build()
    assert class_rhythms(same) == []  # nothing tells the classes apart


def test_short_filters_at_a_high_rate_are_insufficient_and_a_lower_rate_fixes_them(
    tmp_path,
) -> None:
    path = _two_rhythms(tmp_path)
    found = check_resolution(25, NpzData(path=path).build())  # ShallowFBCSPNet's 25 samples
    assert found.kernel_seconds == pytest.approx(25 / 256) and not found.sufficient
    advice = found.advice("ShallowFBCSPNet", 25, 256.0)
    assert advice.startswith("ShallowFBCSPNet's first temporal filters span 25 samples, 0.0977 s")
    assert "differ at 13, 17 Hz (4 Hz apart): resample the data (data.resample: 100 Hz" in advice
    assert check_resolution(25, NpzData(path=path, resample=64.0).build()).sufficient
    assert check_resolution(None, NpzData(path=path).build()) is None


def test_the_first_temporal_filter_is_read_from_the_backbone(tmp_path) -> None:
    for name, samples in (("ShallowFBCSPNet", 25), ("EEGNet", 64)):
        spec = small_spec(tmp_path, "k", trial={"backbone": {"name": name}})
        context = make_context(spec.base_trial(), spec.data.build())
        assert context.facts.temporal_kernel == samples, name


def test_a_sweep_says_so_once_before_anything_trains(tmp_path) -> None:
    spec = small_spec(tmp_path, "rhythms", trial={"backbone": {"name": "ShallowFBCSPNet"}})
    spec = spec.model_copy(
        update={"data": NpzData(path=_two_rhythms(tmp_path))}  # a small_spec of other data
    )
    with said("sweeps.sweep") as lines:
        dry_run(spec, n=1)
    warned = [line for line in lines if "first temporal filters" in line]
    assert len(warned) == 1 and "data.resample: 100 Hz" in warned[0]


@pytest.mark.skipif(
    not (REALDATA / "ssvep_exo").is_dir(), reason=f"no real recordings at {REALDATA}"
)
def test_real_ssvep_at_256_hz_is_too_fast_for_shallow_filters_and_64_hz_is_not() -> None:
    paths = [REALDATA / "ssvep_exo" / f"sub-{i:02d}-epo.fif" for i in (7, 8)]
    assert not check_resolution(25, EpochsData(paths=paths).build()).sufficient
    slower = EpochsData(paths=paths, resample=64.0).build()
    assert class_rhythms(slower)[:2] == [13.0, 17.0]
    assert check_resolution(25, slower).sufficient


def test_a_model_with_a_rate_of_its_own_is_not_told_to_resample(tmp_path) -> None:
    """CBraMod reads 200 Hz patches through its own spectral embedding: the data is fitted to
    its rate, and resampling to another would only be undone."""
    data = NpzData(path=_two_rhythms(tmp_path, sfreq=200.0)).build()
    with said("sweeps.sweep") as lines:
        warn_of_resolution("ShallowFBCSPNet", 25, data)
        warn_of_resolution("CBraMod", 19, data)
    assert len(lines) == 1 and lines[0].startswith("ShallowFBCSPNet's first temporal filters")
