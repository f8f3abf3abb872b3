"""The data fitted to a backbone as its weights were pretrained: once per sweep (the same for
every trial, and for the pretraining run), said in one log line.

In order: resampled to its rate; cut to whole patches, or zero-padded to the shortest input it
reads; scaled to the unit it was pretrained in. What it needs comes from its profile
(``probe_core.backbone_profiles``) and, for a published checkpoint, from the arguments the
checkpoint was saved with: its rate, and its window where the weights fix the window (LaBraM's
positional embedding has one entry per patch of the pretraining window).
"""

import logging
from dataclasses import replace

import numpy as np

from probe_core.backbone_profiles import PROFILES, profile
from probe_core.backbones import BackboneConfig
from probe_core.dataset import EEGDataset

log = logging.getLogger(__name__)


def fit_to_backbone(data: EEGDataset, backbone: BackboneConfig) -> EEGDataset:
    """``data`` as ``backbone`` reads it (see the module), said in one log line; unchanged
    for a backbone without a profile, or data that fits already."""
    fitted, said = fitting(data, backbone)
    if said:
        log.info(said)
    return fitted


def fitting(data: EEGDataset, backbone: BackboneConfig) -> tuple[EEGDataset, str | None]:
    """``fit_to_backbone``'s data and what it did (None: nothing)."""
    needs = profile(backbone.name)
    saved = backbone.pretrained_config() if backbone.name in PROFILES else {}
    steps = []
    fitted = data
    rate = saved.get("sfreq") or needs.sfreq
    if rate is not None and data.sfreq != rate:
        fitted = fitted.filtered(None, None, rate)
        steps.append(f"resampled {data.sfreq:g} → {rate:g} Hz")
    n_times = fitted.n_times
    wanted = max(n_times, needs.min_times or 0)
    if needs.patch is not None:
        wanted = max(needs.patch, wanted - wanted % needs.patch)
    whole = f" ({wanted // needs.patch} patches of {needs.patch})" if needs.patch else ""
    if needs.fixed_window and saved.get("n_times"):
        wanted, whole = int(saved["n_times"]), " (the checkpoint's window)"
    if wanted != n_times:
        verb = "cut" if wanted < n_times else "zero-padded"
        steps.append(f"{verb} from {n_times} to {wanted} samples{whole}")
        fitted = _with_samples(fitted, wanted)
    if needs.unit_uv is not None and data.unit_uv not in (None, needs.unit_uv):
        fitted = replace(
            fitted, X=fitted.X * np.float32(data.unit_uv / needs.unit_uv), unit_uv=needs.unit_uv
        )
        steps.append(f"scaled to units of {needs.unit_uv:g} µV")
    return fitted, f"the data fitted to {backbone.name}: {'; '.join(steps)}" if steps else None


def _with_samples(data: EEGDataset, n_times: int) -> EEGDataset:
    """The first ``n_times`` samples of each epoch, zeros after its end."""
    X = np.zeros((*data.X.shape[:2], n_times), dtype=data.X.dtype)
    kept = min(n_times, data.n_times)
    X[..., :kept] = data.X[..., :kept]
    return replace(data, X=X)
