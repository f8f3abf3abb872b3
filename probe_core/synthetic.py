"""A deterministic simulator of motor-imagery-like EEG, for quickstarts, tests and benchmarks.

Each epoch is a mix of (1) spatially smooth 1/f background activity, (2) an occipital alpha
rhythm, (3) sensorimotor mu (~10 Hz) and beta (~20 Hz) rhythms over C3, C4 and Cz, whose power
drops (event-related desynchronisation) over the area of the imagined movement: left hand → C4,
right hand → C3, feet → Cz, tongue → both hemispheres. Subjects differ in channel gains, noise
level, rhythm frequencies, source locations and ERD depth, so that a model pretrained on some
subjects helps on others without solving them outright.

A subject's parameters depend only on (seed, subject id), so source and target subjects drawn
from the same seed come from one population.

Options beyond the defaults make related but different tasks (the strategy-selection benchmark,
bench/selection): the rhythm sources can sit elsewhere (``rhythm_sites``) at other frequencies
(``mu_hz``, ``beta_hz``), channel gains can vary more (``gain_spread``), the labels can be
shuffled (``shuffle_labels``: a source task with nothing to learn about the signal), and the same
subjects can be recorded again (``session``).
"""

from typing import Literal

import numpy as np
import pydantic

from probe_core.dataset import EEGDataset
from probe_core.errors import DataError
from probe_core.montage import CHANNELS_1020, montage_positions

CLASS_NAMES = ["left_hand", "right_hand", "feet", "tongue"]
_ERD_SITES = [[1], [0], [2], [0, 1]]
"""Per class, the rhythm sites that desynchronise (indices into ``rhythm_sites``): with the
default sites left hand → C4, right hand → C3, feet → Cz, tongue → C3 and C4."""


class SyntheticData(pydantic.BaseModel):
    """Simulated epochs: ``subjects`` × ``trials_per_class`` × ``n_classes``."""

    model_config = pydantic.ConfigDict(extra="forbid")

    kind: Literal["synthetic"] = "synthetic"
    seed: int = 0
    subjects: list[pydantic.NonNegativeInt] = list(range(4))
    trials_per_class: pydantic.PositiveInt = 40
    n_classes: int = pydantic.Field(2, ge=2, le=len(CLASS_NAMES))
    sfreq: pydantic.PositiveFloat = 128.0
    duration: pydantic.PositiveFloat = 2.0
    channels: list[str] = CHANNELS_1020
    erd_depth: float = pydantic.Field(0.5, ge=0.0, le=1.0)
    snr: pydantic.PositiveFloat = 1.0
    rhythm_sites: list[str] = pydantic.Field(["C3", "C4", "Cz"], min_length=3, max_length=3)
    """Where the three rhythm sources sit (10-05 names), in the order of ``_ERD_SITES``."""
    mu_hz: pydantic.PositiveFloat = 10.5
    beta_hz: pydantic.PositiveFloat = 21.0
    """Population means of the rhythm frequencies (subjects vary by ±1 and ±2 Hz)."""
    gain_spread: pydantic.NonNegativeFloat = 0.2
    """Standard deviation of the log channel gains."""
    shuffle_labels: bool = False
    session: pydantic.NonNegativeInt = 0
    """Another recording of the same subjects: new trials, the subjects' parameters unchanged
    (they are drawn after the labels are shuffled: keep ``trials_per_class`` and ``n_classes``)."""

    @pydantic.field_validator("rhythm_sites")
    @classmethod
    def _known_sites(cls, sites: list[str]) -> list[str]:
        positions = montage_positions(sites)
        unknown = [site for site, p in zip(sites, positions, strict=True) if np.isnan(p[0])]
        if unknown:
            raise ValueError(f"synthetic.rhythm_sites: no 10-05 position for {unknown}")
        return sites

    def build(self) -> EEGDataset:
        positions = montage_positions(self.channels)
        if np.isnan(positions).any():
            unknown = [c for c, p in zip(self.channels, positions, strict=True) if np.isnan(p[0])]
            raise DataError(f"synthetic.channels: no 10-20 position for {unknown}")
        n_times = round(self.sfreq * self.duration)
        per_subject = [self._subject(subject, positions, n_times) for subject in self.subjects]
        X = np.concatenate([x for x, _ in per_subject]).astype(np.float32)
        y = np.concatenate([labels for _, labels in per_subject])
        subjects = np.repeat(self.subjects, self.trials_per_class * self.n_classes)
        return EEGDataset(
            X=X,
            y=y,
            subjects=subjects.astype(np.int64),
            ch_names=list(self.channels),
            sfreq=self.sfreq,
            positions=positions,
            class_names=CLASS_NAMES[: self.n_classes],
            source="synthetic",
        )

    def _subject(
        self, subject: int, positions: np.ndarray, n_times: int
    ) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, subject])
        n_chans = len(self.channels)
        n_epochs = self.trials_per_class * self.n_classes
        labels = np.repeat(np.arange(self.n_classes), self.trials_per_class)
        rng.shuffle(labels)
        gains = rng.lognormal(0.0, self.gain_spread, n_chans)
        noise = rng.uniform(0.7, 1.3)
        mu_freq, beta_freq = rng.normal(self.mu_hz, 1.0), rng.normal(self.beta_hz, 2.0)
        alpha_freq = rng.normal(10.0, 0.8)
        depth = np.clip(self.erd_depth * rng.uniform(0.6, 1.4), 0.0, 0.95)
        shift = rng.normal(0.0, 0.008, 3)  # source locations move a little per subject
        if self.session:
            rng = np.random.default_rng([self.seed, subject, 0, self.session])
            rng.shuffle(labels)

        mixing = _spatial_kernel(positions, positions, width=0.03)
        background = _coloured_noise(rng, (n_epochs, n_chans, n_times), exponent=1.0)
        X = np.einsum("dc,nct->ndt", mixing, background) * noise

        alpha_map = _spatial_kernel(positions, _centres(["O1", "O2", "Oz"], shift), width=0.05)
        alpha = _narrowband(rng, n_epochs, n_times, self.sfreq, alpha_freq, 1.5)
        X += 1.2 * self.snr * alpha_map.sum(axis=1)[None, :, None] * alpha[:, None, :]

        for index, site in enumerate(self.rhythm_sites):
            source_map = _spatial_kernel(positions, _centres([site], shift), width=0.035)[:, 0]
            rhythm = _narrowband(rng, n_epochs, n_times, self.sfreq, mu_freq, 1.5)
            rhythm += 0.5 * _narrowband(rng, n_epochs, n_times, self.sfreq, beta_freq, 3.0)
            desync = np.array([index in _ERD_SITES[label] for label in labels])
            amplitude = np.where(desync, 1.0 - depth, 1.0) * rng.uniform(0.8, 1.2, n_epochs)
            X += (
                (1.5 + 0.2 * index)
                * self.snr
                * source_map[None, :, None]
                * (amplitude[:, None, None] * rhythm[:, None, :])
            )
        X *= gains[None, :, None] * 10.0  # microvolt-like scale
        if self.shuffle_labels:  # its own generator: the signal stays as without the option
            labels = np.random.default_rng([self.seed, subject, 1]).permutation(labels)
        return X, labels


def _centres(names: list[str], shift: np.ndarray) -> np.ndarray:
    centres: np.ndarray = montage_positions(names) + shift
    return centres


def _spatial_kernel(points: np.ndarray, centres: np.ndarray, width: float) -> np.ndarray:
    """Gaussian weights (n_points, n_centres) by distance, normalised per centre."""
    distance = np.linalg.norm(points[:, None, :] - centres[None, :, :], axis=-1)
    weights = np.exp(-((distance / width) ** 2))
    normalised: np.ndarray = weights / weights.max(axis=0, keepdims=True)
    return normalised


def _coloured_noise(
    rng: np.random.Generator, shape: tuple[int, ...], exponent: float
) -> np.ndarray:
    """Noise with power spectrum ∝ 1/f^exponent, unit variance."""
    spectrum = np.fft.rfft(rng.standard_normal(shape), axis=-1)
    freqs = np.fft.rfftfreq(shape[-1])
    freqs[0] = freqs[1]
    noise = np.fft.irfft(spectrum / freqs ** (exponent / 2), n=shape[-1], axis=-1)
    unit_variance: np.ndarray = noise / noise.std(axis=-1, keepdims=True)
    return unit_variance


def _narrowband(
    rng: np.random.Generator, n: int, n_times: int, sfreq: float, centre: float, width: float
) -> np.ndarray:
    """Band-limited noise around ``centre`` Hz: an oscillation with a wandering envelope."""
    spectrum = np.fft.rfft(rng.standard_normal((n, n_times)), axis=-1)
    freqs = np.fft.rfftfreq(n_times, d=1.0 / sfreq)
    signal = np.fft.irfft(spectrum * np.exp(-(((freqs - centre) / width) ** 2)), n=n_times)
    unit_variance: np.ndarray = signal / (signal.std(axis=-1, keepdims=True) + 1e-12)
    return unit_variance
