"""What a published backbone was made for, as far as the data must follow it, and the data
fitted to it.

A foundation model fixes its input when it is pretrained: LaBraM and CBraMod read 200 Hz
signals in patches of 200 samples, EEGPT 256 Hz in patches of 64, LUNA patches of 40. Users'
data comes at 128, 160, 250 or 256 Hz in windows of any length, and the model then fails with a
shape error deep inside (docs/FOUNDATION_MODELS.md). A profile says what the model needs; the
data is fitted to it once per sweep (resampled, then cut to whole patches) and the log says so
in one line. Backbones without a profile take the data as it is.

braindecode states patch lengths as constructor defaults but a pretraining rate only in its
docstrings, so the profiles are declared here, once per model, in ``PROFILES``.
"""

import logging
from dataclasses import dataclass, replace

import numpy as np

from probe_core.dataset import EEGDataset
from probe_core.registry import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackboneProfile:
    """``sfreq``: the rate it was pretrained at (the data is resampled to it); ``patch``: it
    reads whole patches of this many samples (the window is cut to a multiple, or padded to
    one patch); ``min_times``: the fewest samples it can read (the window is padded to it)."""

    sfreq: float | None = None
    patch: int | None = None
    min_times: int | None = None


PROFILES: Registry[BackboneProfile] = Registry("backbone profile")
for _name, _profile in {
    "Labram": BackboneProfile(sfreq=200.0, patch=200),
    "InterpolatedLaBraM": BackboneProfile(sfreq=200.0, patch=200),
    "CBraMod": BackboneProfile(sfreq=200.0, patch=200),
    "REVE": BackboneProfile(sfreq=200.0, min_times=200),
    "EEGDINO": BackboneProfile(sfreq=200.0, patch=200),
    "BIOT": BackboneProfile(sfreq=200.0, min_times=200),
    "InterpolatedBIOT": BackboneProfile(sfreq=200.0, min_times=200),
    "EEGPT": BackboneProfile(sfreq=256.0, min_times=64),
    "InterpolatedEEGPT": BackboneProfile(sfreq=256.0, min_times=64),
    "LUNA": BackboneProfile(patch=40),
    "BENDR": BackboneProfile(sfreq=256.0, min_times=384),
    "InterpolatedBENDR": BackboneProfile(sfreq=256.0, min_times=384),
    **{
        name: BackboneProfile(sfreq=128.0, min_times=152)
        for name in (
            "SignalJEPA",
            "SignalJEPA_Contextual",
            "SignalJEPA_PostLocal",
            "SignalJEPA_PreLocal",
            "InterpolatedSignalJEPA",
        )
    },
}.items():
    PROFILES.register(_name, _profile)


def fit_to_backbone(data: EEGDataset, backbone: str) -> EEGDataset:
    """``data`` as ``backbone`` reads it (see the module), said in one log line; unchanged
    for a backbone without a profile, or data that fits already."""
    if backbone not in PROFILES:
        return data
    profile = PROFILES[backbone]
    steps = []
    fitted = data
    if profile.sfreq is not None and data.sfreq != profile.sfreq:
        fitted = fitted.filtered(None, None, profile.sfreq)
        steps.append(f"resampled {data.sfreq:g} → {profile.sfreq:g} Hz")
    n_times = fitted.n_times
    wanted = max(n_times, profile.min_times or 0)
    if profile.patch is not None:
        wanted = max(profile.patch, wanted - wanted % profile.patch)
    if wanted != n_times:
        verb = "cut" if wanted < n_times else "zero-padded"
        whole = f" ({wanted // profile.patch} patches of {profile.patch})" if profile.patch else ""
        steps.append(f"{verb} from {n_times} to {wanted} samples{whole}")
        fitted = _with_samples(fitted, wanted)
    if steps:
        log.info("the data fitted to %s: %s", backbone, "; ".join(steps))
    return fitted


def _with_samples(data: EEGDataset, n_times: int) -> EEGDataset:
    """The first ``n_times`` samples of each epoch, zeros after its end."""
    X = np.zeros((*data.X.shape[:2], n_times), dtype=data.X.dtype)
    kept = min(n_times, data.n_times)
    X[..., :kept] = data.X[..., :kept]
    return replace(data, X=X)
