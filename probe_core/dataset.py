"""The in-memory labelled EEG dataset every data source produces and every trial consumes."""

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from probe_core.channel_merger import INVALID_POS_VALUE
from probe_core.errors import DataError


@dataclass(frozen=True)
class EEGDataset:
    """Epochs ``X`` (n, C, T) float32 with integer labels, subject ids and channel metadata.

    Kept as plain numpy arrays so that Ray can share one copy through its object store
    (zero-copy reads) across every trial of a sweep.
    """

    X: np.ndarray
    y: np.ndarray
    subjects: np.ndarray
    ch_names: list[str]
    sfreq: float
    positions: np.ndarray  # (C, 3) metres, NaN where the montage has no position
    class_names: list[str] = field(default_factory=list)
    source: str = "dataset"
    unit_uv: float | None = 1.0
    """Microvolts in one unit of ``X``; ``None`` once whitened or standardised (no unit left).
    A backbone pretrained on another scale gets the data in its own (``backbone_fitting``)."""

    def __post_init__(self) -> None:
        check_dataset(self)

    @property
    def n_chans(self) -> int:
        n_chans: int = self.X.shape[1]
        return n_chans

    @property
    def n_times(self) -> int:
        n_times: int = self.X.shape[2]
        return n_times

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def subset(self, index: np.ndarray, part: str) -> "EEGDataset":
        """The epochs at ``index``; ``part`` names them in error messages ("train split")."""
        return EEGDataset(
            X=self.X[index],
            y=self.y[index],
            subjects=self.subjects[index],
            ch_names=self.ch_names,
            sfreq=self.sfreq,
            positions=self.positions,
            class_names=self.class_names,
            source=f"{self.source} ({part})",
            unit_uv=self.unit_uv,
        )

    def select_subjects(self, subjects: list[int] | None) -> "EEGDataset":
        if subjects is None:
            return self
        missing = sorted(set(subjects) - set(np.unique(self.subjects).tolist()))
        if missing:
            raise DataError(f"{self.source}: subjects {missing} are not in the data")
        return self.subset(np.flatnonzero(np.isin(self.subjects, subjects)), f"subjects {subjects}")

    def select(
        self,
        classes: list[str] | None = None,
        channels: list[str] | None = None,
        samples: tuple[int, int] | None = None,
    ) -> "EEGDataset":
        """Only the epochs of ``classes`` (numbered in the order given), only ``channels`` (in
        the order given) and only the samples from ``samples[0]`` up to ``samples[1]``; each
        name must be in the data."""
        y, keep = self.y, np.arange(len(self.y))
        class_names = self.class_names
        if classes is not None:
            _check_known("classes", classes, self.class_names, self.source)
            renumbered = np.full(len(self.class_names), -1, dtype=np.int64)
            renumbered[[self.class_names.index(name) for name in classes]] = range(len(classes))
            keep = np.flatnonzero(renumbered[y] >= 0)
            y = renumbered[y[keep]]
            class_names = list(classes)
        picks = np.arange(self.n_chans)
        if channels is not None:
            _check_known("channels", channels, self.ch_names, self.source)
            picks = np.array([self.ch_names.index(name) for name in channels])
        start, stop = samples if samples is not None else (0, self.n_times)
        return EEGDataset(
            X=np.ascontiguousarray(self.X[keep][:, picks, start:stop]),
            y=y,
            subjects=self.subjects[keep],
            ch_names=[self.ch_names[i] for i in picks],
            sfreq=self.sfreq,
            positions=self.positions[picks],
            class_names=class_names,
            source=self.source,
            unit_uv=self.unit_uv,
        )

    def filtered(
        self, l_freq: float | None, h_freq: float | None, sfreq: float | None
    ) -> "EEGDataset":
        """Each epoch band-passed from ``l_freq`` to ``h_freq`` Hz (zero-phase FIR, MNE's
        defaults; None on a side: no filter there), then resampled to ``sfreq``."""
        import mne

        X, rate = self.X, self.sfreq
        if l_freq is not None or h_freq is not None:
            if h_freq is not None and h_freq >= rate / 2:
                raise DataError(
                    f"data.h_freq: {h_freq:g} Hz is not below the Nyquist frequency "
                    f"({rate / 2:g} Hz) of {self.source}"
                )
            X = mne.filter.filter_data(X.astype(np.float64), rate, l_freq, h_freq, verbose="error")
        if sfreq is not None and sfreq != rate:
            X = mne.filter.resample(X.astype(np.float64), up=sfreq / rate, verbose="error")
            rate = sfreq
        if X is self.X:
            return self
        return replace(self, X=np.ascontiguousarray(X, dtype=np.float32), sfreq=rate)

    def aligned(self) -> "EEGDataset":
        """Euclidean alignment (He & Wu 2019): each subject's epochs multiplied by the inverse
        square root of that subject's mean spatial covariance, so that every subject's mean
        covariance is the identity. Labels are not used: a new subject's unlabelled epochs
        are enough."""
        X = np.empty_like(self.X, dtype=np.float32)
        for subject in np.unique(self.subjects):
            members = self.subjects == subject
            epochs = self.X[members].astype(np.float64)
            mean = np.einsum("ect,edt->cd", epochs, epochs) / (epochs.shape[0] * epochs.shape[2])
            values, vectors = np.linalg.eigh(mean)
            floor = values.max() * 1e-10  # a flat or duplicated channel: no division by zero
            whitening = (vectors / np.sqrt(np.maximum(values, floor))) @ vectors.T
            X[members] = np.einsum("cd,edt->ect", whitening, epochs)
        return replace(self, X=X, unit_uv=None)

    def standardised(self) -> "EEGDataset":
        """Each channel of each epoch at zero mean and unit variance over time."""
        mean = self.X.mean(axis=2, keepdims=True)
        spread = self.X.std(axis=2, keepdims=True)
        X = (self.X - mean) / np.where(spread > 0, spread, 1.0)
        return replace(self, X=X.astype(np.float32), unit_uv=None)

    def chs_info(self) -> list[dict[str, Any]]:
        """MNE channel info dicts (names and positions), as braindecode models take them."""
        import mne

        info = mne.create_info(self.ch_names, self.sfreq, "eeg")
        for ch, pos in zip(info["chs"], self.positions, strict=True):
            ch["loc"][:3] = pos
        chs: list[dict[str, Any]] = info["chs"]
        return chs

    def normalised_positions(self) -> np.ndarray:
        """Positions as ``(C, 2)`` in ``[0, 1]``: the ``ChannelMerger``'s input.

        The 3-D montage is projected onto the horizontal plane (x, y) and scaled to the unit
        square; channels without a position get ``INVALID_POS_VALUE`` so the merger ignores them.
        """
        xy = self.positions[:, :2].astype(np.float64)
        known = ~np.isnan(xy).any(axis=1)
        out = np.full(xy.shape, INVALID_POS_VALUE, dtype=np.float32)
        if known.any():
            low, high = xy[known].min(axis=0), xy[known].max(axis=0)
            out[known] = (xy[known] - low) / np.where(high > low, high - low, 1.0)
        return out


def _check_known(field: str, names: list[str], known: list[str], source: str) -> None:
    unknown = [name for name in names if name not in known]
    if unknown:
        raise DataError(f"data.{field}: {unknown} not in {source} (it has {', '.join(known)})")


def check_dataset(data: EEGDataset) -> None:
    """Refuse data a trial cannot use, with a message naming the source and the problem."""
    name = data.source
    if data.X.ndim != 3:
        raise DataError(
            f"{name}: X must have shape (n_epochs, n_channels, n_times), got {data.X.shape}"
        )
    if data.X.dtype != np.float32:
        raise DataError(f"{name}: X must be float32, got {data.X.dtype}")
    n = data.X.shape[0]
    if data.y.shape != (n,) or data.subjects.shape != (n,):
        raise DataError(
            f"{name}: y and subjects must have shape ({n},), got {data.y.shape} and "
            f"{data.subjects.shape}"
        )
    if len(data.ch_names) != data.X.shape[1]:
        raise DataError(
            f"{name}: {len(data.ch_names)} channel names for {data.X.shape[1]} channels in X"
        )
    if data.positions.shape != (data.X.shape[1], 3):
        raise DataError(f"{name}: positions must have shape ({data.X.shape[1]}, 3)")
    if not data.sfreq > 0:
        raise DataError(f"{name}: sampling rate must be positive, got {data.sfreq}")
    bad = ~np.isfinite(data.X)
    if bad.any():
        epoch, channel, _ = np.argwhere(bad)[0]
        raise DataError(
            f"{name}: X contains {int(bad.sum())} NaN/Inf values "
            f"(first in epoch {epoch}, channel {data.ch_names[channel]!r})"
        )
    if len(data.y) and (data.y.min() < 0 or data.y.max() >= max(len(data.class_names), 1)):
        raise DataError(f"{name}: labels must lie in [0, {len(data.class_names)})")
    check_classes(data.y, data.class_names, name)


def check_classes(y: np.ndarray, class_names: list[str], name: str) -> None:
    """Refuse labels a classifier cannot learn from or be scored on: none, or a single class."""
    if len(y) == 0:
        raise DataError(f"{name}: no epochs")
    if len(np.unique(y)) < 2:
        raise DataError(f"{name}: a single class ({class_names[y[0]]!r}); need two or more")
