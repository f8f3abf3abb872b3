"""The convolution-gradient guard, with the fault faked: on a CPU where oneDNN is wrong, the check
must turn it off (once, said in one line); where it is right, leave it on."""

import logging
import math

import pytest
import torch

from probe_core import numerics
from probe_core.numerics import TOLERANCE, convolution_gradient_error, guard_convolutions


@pytest.fixture
def fresh_guard():
    """A process that has not checked yet, with oneDNN on; afterwards, as it was."""
    before = torch.backends.mkldnn.enabled
    guard_convolutions.cache_clear()
    torch.backends.mkldnn.enabled = True
    yield
    guard_convolutions.cache_clear()
    torch.backends.mkldnn.enabled = before


def _fault(monkeypatch, error: float) -> None:
    monkeypatch.setattr(numerics, "convolution_gradient_error", lambda: error)


@pytest.mark.parametrize("error", [1.0, math.nan])
def test_a_disagreeing_check_turns_onednn_off_once_and_says_so_in_one_line(
    fresh_guard, monkeypatch, caplog, error
) -> None:
    _fault(monkeypatch, error)
    with caplog.at_level(logging.WARNING, logger="probe_core.numerics"):
        first = guard_convolutions()
        again = guard_convolutions()
    assert first is again and first.onednn_disabled
    assert torch.backends.mkldnn.enabled is False
    (record,) = caplog.records  # said once per process
    assert "oneDNN convolution gradients are wrong on this CPU" in record.message
    assert "\n" not in record.message
    assert first.tag.startswith("off: wrong convolution gradients")


def test_an_agreeing_check_leaves_onednn_on(fresh_guard, monkeypatch, caplog) -> None:
    _fault(monkeypatch, 2e-7)
    with caplog.at_level(logging.WARNING, logger="probe_core.numerics"):
        check = guard_convolutions()
    assert not check.onednn_disabled and check.tag == "on"
    assert torch.backends.mkldnn.enabled is True and not caplog.records


def test_the_check_finds_a_wrong_weight_gradient_of_the_fast_path(monkeypatch) -> None:
    """The comparison itself, with oneDNN's gradient faked as a CPU with the fault gives it."""
    real = numerics._gradients

    def faulty(channels: int, onednn: bool):
        weight, signal = real(channels, onednn)
        return (weight * 0.5 if onednn else weight), signal

    monkeypatch.setattr(numerics, "_gradients", faulty)
    assert convolution_gradient_error() > 0.4


def test_the_real_check_is_consistent_with_what_it_did(fresh_guard) -> None:
    """On this machine, whatever its CPU: float32 rounding, or a fault that turned oneDNN off."""
    check = guard_convolutions()
    error = convolution_gradient_error()
    assert check.onednn_disabled == (not error <= TOLERANCE)
    if check.onednn_disabled:
        assert torch.backends.mkldnn.enabled is False


def test_a_trial_checks_before_it_trains(fresh_guard, monkeypatch, small_data) -> None:
    """probe_core used alone (a notebook): the runner guards its own process."""
    from probe_core import TrialConfig
    from probe_core.training import TrialRunner

    _fault(monkeypatch, 1.0)
    config = TrialConfig.model_validate(
        {"backbone": {"name": "ShallowFBCSPNet"}, "training": {"max_epochs": 1}}
    )
    runner = TrialRunner(config, small_data)
    assert runner.convolution_check.onednn_disabled
    assert torch.backends.mkldnn.enabled is False
