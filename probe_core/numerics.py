"""A self-check of torch's CPU convolution gradients, run once per process before anything trains.

On some CPUs torch's oneDNN (mkldnn) convolution computes wrong weight gradients while its
forward pass is right (seen on an Intel Xeon with AVX-512/AMX, torch 2.11 and 2.14.1, for 14 to
19 input channels, the 10-20 montage's 19 among them): ShallowFBCSPNet and Deep4Net then train
to chance with no error anywhere. A few milliseconds of convolutions with and without oneDNN tell
the two apart; where they disagree, oneDNN is turned off for the process, which makes torch use
its reference kernels (slower, right).
"""

import functools
import logging
from dataclasses import dataclass

import torch

LOGGER = logging.getLogger(__name__)

CHECKED_CHANNELS = (16, 19)
"""Input-channel counts of the check: both failed on the faulty CPU, where 22 and 32 passed."""

TOLERANCE = 1e-3
"""Largest relative gradient difference accepted (float32 rounding gives about 1e-7)."""


@dataclass(frozen=True)
class ConvolutionCheck:
    relative_error: float  # the largest over the checked shapes; NaN counts as a failure
    onednn_disabled: bool  # by this check

    @property
    def tag(self) -> str:
        """What a run records: ``on``, or why oneDNN is off for its process."""
        if not self.onednn_disabled:
            return "on"
        return f"off: wrong convolution gradients (relative error {self.relative_error:.2g})"


def _gradients(channels: int, onednn: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and input gradients of ``conv2d(x (8, 1, 64, C), w (8, 1, 5, C))``, the kernel
    spanning every channel as a spatial filter does; inputs from a private generator, so the
    global random state is untouched."""
    generator = torch.Generator().manual_seed(channels)
    x = torch.randn(8, 1, 64, channels, generator=generator, requires_grad=True)
    w = torch.randn(8, 1, 5, channels, generator=generator, requires_grad=True)
    before = torch.backends.mkldnn.enabled
    # not mkldnn.flags(): it warns about TF32 on CPUs
    # torch types the flag as its ContextProp descriptor, not as the bool it reads and takes
    torch.backends.mkldnn.enabled = onednn  # type: ignore[assignment]
    try:
        loss = torch.nn.functional.conv2d(x * 10, w).square().mean()
        weight_grad, input_grad = torch.autograd.grad(loss, (w, x))
        return weight_grad, input_grad
    finally:
        torch.backends.mkldnn.enabled = before


def convolution_gradient_error() -> float:
    """The largest relative difference between oneDNN's convolution gradients and the
    reference path's."""
    worst = 0.0
    for channels in CHECKED_CHANNELS:
        fast, reference = _gradients(channels, True), _gradients(channels, False)
        for got, expected in zip(fast, reference, strict=True):
            error = ((got - expected).abs().max() / expected.abs().max()).item()
            if not error <= worst:  # NaN counts as the worst
                worst = error
    return worst


@functools.cache
def guard_convolutions() -> ConvolutionCheck:
    """Check once per process; where oneDNN's gradients are wrong, turn it off and say so once.

    Every process that trains calls this (the CLI's, each trial process's, and a
    ``TrialRunner`` in a notebook): the fault is a property of the CPU, and a cluster's nodes
    may differ.
    """
    # torch leaves mkldnn.is_available unannotated
    available = torch.backends.mkldnn.is_available()  # type: ignore[no-untyped-call]
    if not (available and torch.backends.mkldnn.enabled):
        return ConvolutionCheck(relative_error=0.0, onednn_disabled=False)
    error = convolution_gradient_error()
    if error <= TOLERANCE:
        return ConvolutionCheck(relative_error=error, onednn_disabled=False)
    torch.backends.mkldnn.enabled = False  # type: ignore[assignment]  # as in _gradients
    LOGGER.warning(
        "torch's oneDNN convolution gradients are wrong on this CPU (relative error %.2g against "
        "the reference path): oneDNN is turned off for this process (slower, correct)",
        error,
    )
    return ConvolutionCheck(relative_error=error, onednn_disabled=True)
