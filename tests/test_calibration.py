"""Fast versions of the calibration benchmarks (bench/calibration.py, bench/aa_test.py): the
recommendation's intervals cover what they claim, and one config entered twice is not called
better than itself."""

import sys
from pathlib import Path

import pytest

from sweeps.recommendation import Verdict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.aa_test import aa_once  # noqa: E402  (a benchmark script, not installed)
from bench.calibration import SCENARIOS, coverage  # noqa: E402

OURS, NONE = "probe-sweep (n_scored / n_pool)", "no correction"


def test_the_intervals_cover_the_truth_where_an_uncorrected_one_does_not() -> None:
    """80 simulated evaluations of one population (seeded: the same figures every run). The
    corrected interval covers the true expected score about 95 % of the time; the plain
    t-interval, which takes the folds as independent, misses it about twice as often."""
    found = coverage(SCENARIOS[0], draws=80)
    assert 0.88 <= found["coverage"][(OURS, "LDA")] <= 0.99
    assert 0.88 <= found["coverage"][(OURS, "LDA − 7-NN")] <= 1.0
    assert found["coverage"][(NONE, "LDA")] < 0.88
    assert found["truth"]["LDA − 7-NN"] == pytest.approx(0.117, abs=0.03)  # a real difference


def test_one_config_under_two_names_is_not_better_than_itself() -> None:
    """The A/A test once: the same config, two model seeds, the same folds."""
    found = aa_once(data_seed=100)
    assert found.verdict in (Verdict.TIED, Verdict.UNSEPARATED)
    assert found.difference.contains(0.0) and found.difference.mean != 0.0
