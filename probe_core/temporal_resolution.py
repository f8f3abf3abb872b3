"""Whether a backbone's first temporal filters can tell apart the rhythms that the data's classes
differ by, at the data's sampling rate.

A convolution's filter spanning T seconds separates frequencies about 1/T Hz apart. Its length is
fixed in samples, so the same network resolves less at a higher rate: ShallowFBCSPNet's 25
samples are 0.1 s at 250 Hz (fine for the broad mu and beta rhythms of motor imagery, about
10 Hz apart), but cannot tell SSVEP's 13 Hz from its 17 Hz. The rhythms are found in the data:
the frequencies where the classes' mean log power spectra differ most (one-way ANOVA across
classes per frequency, its significant peaks).
"""

from dataclasses import dataclass

import numpy as np
from scipy import signal, stats

from probe_core.dataset import EEGDataset

HIGHEST_HZ = 45.0  # above, EEG is mostly muscle and line noise
PEAKS = 3
SIGNIFICANCE = 1e-3  # per frequency, before the Bonferroni correction over the frequencies
CHUNK = 256


@dataclass(frozen=True)
class Resolution:
    """What the first filters resolve (Hz) against the closest of the rhythms the classes
    differ by (Hz)."""

    kernel_seconds: float
    rhythms: list[float]

    @property
    def resolved_hz(self) -> float:
        return 1.0 / self.kernel_seconds

    @property
    def closest_hz(self) -> float | None:
        gaps = np.diff(self.rhythms)
        return float(gaps.min()) if len(gaps) else None

    @property
    def sufficient(self) -> bool:
        return self.closest_hz is None or self.resolved_hz <= self.closest_hz

    def advice(self, backbone: str, kernel_samples: int, sfreq: float) -> str:
        """The warning for an insufficient resolution: what the filters span, what the data
        needs, and a rate (or, when none keeps the rhythms below Nyquist, a backbone) that fits."""
        closest = self.closest_hz
        assert closest is not None  # only an insufficient resolution is advised on
        rhythms = ", ".join(f"{f:g}" for f in self.rhythms)
        fitting = kernel_samples * closest  # the highest rate at which the filters span 1/closest
        remedy = (
            f"resample the data (data.resample: {fitting:g} Hz makes them span "
            f"{1 / closest:.2g} s), or choose a backbone with longer temporal filters"
            if fitting > 2 * max(self.rhythms)
            else "choose a backbone with longer temporal filters (no rate keeps these rhythms "
            "below the Nyquist frequency and lengthens the filters enough)"
        )
        return (
            f"{backbone}'s first temporal filters span {kernel_samples} samples, "
            f"{self.kernel_seconds:.3g} s at {sfreq:g} Hz: they tell apart rhythms about "
            f"{self.resolved_hz:.3g} Hz apart, but this data's classes differ at {rhythms} Hz "
            f"({closest:g} Hz apart): {remedy}"
        )


def class_rhythms(data: EEGDataset) -> list[float]:
    """The (at most ``PEAKS``) frequencies, ascending, at which the classes' mean log power
    differs most, significantly: the peaks of the per-frequency ANOVA F across classes."""
    segment = min(data.n_times, int(2 * data.sfreq))  # 0.5 Hz bins where the epochs allow
    chunks = []  # a few hundred epochs at a time: the per-channel spectra of all could be GBs
    for start in range(0, len(data.y), CHUNK):
        freqs, power = signal.welch(
            data.X[start : start + CHUNK], fs=data.sfreq, nperseg=segment, axis=-1
        )
        chunks.append(power.mean(axis=1))  # over channels
    spectrum = np.log(np.concatenate(chunks) + 1e-30)  # (epochs, frequencies)
    band = (freqs >= 1.0) & (freqs <= min(HIGHEST_HZ, data.sfreq / 2))
    groups = [spectrum[data.y == k][:, band] for k in np.unique(data.y)]
    if len(groups) < 2 or min(len(g) for g in groups) < 2:
        return []
    f_values, p_values = stats.f_oneway(*groups, axis=0)
    peaks, _ = signal.find_peaks(np.nan_to_num(f_values))
    significant = [i for i in peaks if p_values[i] < SIGNIFICANCE / band.sum()]
    strongest = sorted(significant, key=lambda i: -f_values[i])[:PEAKS]
    return sorted(float(freqs[band][i]) for i in strongest)


def check_resolution(kernel_samples: int | None, data: EEGDataset) -> Resolution | None:
    """The resolution of a first filter of ``kernel_samples`` on ``data`` (None without one)."""
    if kernel_samples is None:
        return None
    return Resolution(kernel_samples / data.sfreq, class_rhythms(data))
