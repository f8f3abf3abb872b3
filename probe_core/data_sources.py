"""Data configs: where a trial's epochs come from. Each ``build()`` returns an ``EEGDataset``."""

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pydantic

from probe_core.dataset import EEGDataset
from probe_core.errors import DataError
from probe_core.montage import montage_positions
from probe_core.synthetic import SyntheticData
from probe_core.units import MICROVOLTS, SignalUnits, Unit


class _Source(SignalUnits):
    """What to keep of the files, as MNE users pick ``epochs[["hands", "feet"]]``,
    ``epochs.pick(channels)`` and ``epochs.crop(tmin, tmax)``; everything when omitted."""

    subjects: list[int] | None = None
    """Keep only these subject ids."""
    classes: list[str] | None = pydantic.Field(None, min_length=2)
    """Keep only the epochs of these classes (event names), numbered in this order."""
    channels: list[str] | None = pydantic.Field(None, min_length=1)
    """Keep only these channels, in this order."""
    window: tuple[float, float] | None = None
    """Keep the samples from ``window[0]`` up to ``window[1]`` seconds, in the file's own
    times: relative to the event for MNE epochs and MOABB windows (their ``tmin`` included),
    from the first sample for npz."""
    l_freq: pydantic.PositiveFloat | None = None
    h_freq: pydantic.PositiveFloat | None = None
    """Band-pass from ``l_freq`` to ``h_freq`` Hz (zero-phase FIR; either alone: a high- or a
    low-pass), after the window is cut."""
    resample: pydantic.PositiveFloat | None = None
    """Resample to this rate (Hz), after the band-pass."""
    align: bool = False
    """Euclidean alignment per subject (He & Wu 2019), after resampling: every subject's mean
    spatial covariance made the identity, for transfer across subjects (labels unused)."""
    standardise: bool = False
    """Each channel of each epoch at zero mean and unit variance, last."""

    @pydantic.field_validator("classes", "channels")
    @classmethod
    def _distinct(cls, names: list[str] | None) -> list[str] | None:
        if names is not None and len(set(names)) < len(names):
            raise ValueError("each name once")
        return names

    def kept(
        self, dataset: EEGDataset, first_time: float = 0.0, filtered: bool = False
    ) -> EEGDataset:
        """``dataset`` with only the subjects, classes, channels and window this source keeps,
        band-passed and resampled (unless it was ``filtered`` already), aligned and
        standardised when asked; ``first_time``: the time of its first sample, in seconds."""
        samples = None
        if self.window is not None:
            start, stop = (round((t - first_time) * dataset.sfreq) for t in self.window)
            if not 0 <= start < stop <= dataset.n_times:
                end = first_time + dataset.n_times / dataset.sfreq
                raise DataError(
                    f"data.window: {list(self.window)} s is not within {dataset.source}'s epochs "
                    f"({first_time:g} to {end:g} s)"
                )
            samples = (start, stop)
        kept = dataset.select_subjects(self.subjects).select(self.classes, self.channels, samples)
        if not filtered:
            kept = kept.filtered(self.l_freq, self.h_freq, self.resample)
        if self.align:
            kept = kept.aligned()
        return kept.standardised() if self.standardise else kept


class EpochsData(_Source):
    """MNE ``-epo.fif`` files. Classes are the event names (sorted); the subject of an epoch is
    the ``subject`` column of the epochs' metadata when present, else its file's position.
    MNE stores volts: the signal is read in ``unit`` (µV by default)."""

    kind: Literal["epochs"] = "epochs"
    stored_unit: ClassVar[Unit | None] = "V"
    paths: list[Path] = pydantic.Field(min_length=1)

    def build(self) -> EEGDataset:
        import mne

        parts = []
        for index, path in enumerate(self.paths):
            if not path.is_file():
                raise DataError(f"epochs file {path}: not found")
            try:
                epochs = mne.read_epochs(path, preload=True, verbose="error")
            except Exception as error:  # MNE raises many types for unreadable files
                raise DataError(
                    f"epochs file {path}: cannot be read as MNE epochs ({error})"
                ) from None
            parts.append((path, epochs.pick("data", exclude="bads"), index))
        names = sorted({name for _, epochs, _ in parts for name in epochs.event_id})
        reference = parts[0][1]
        X, y, subjects = [], [], []
        for path, epochs, index in parts:
            if (
                epochs.ch_names != reference.ch_names
                or epochs.info["sfreq"] != reference.info["sfreq"]
            ):
                raise DataError(
                    f"epochs file {path}: channels or sampling rate differ from {parts[0][0]}"
                )
            code_to_class = {code: names.index(name) for name, code in epochs.event_id.items()}
            X.append(epochs.get_data(copy=False).astype(np.float32))
            y.append(np.array([code_to_class[code] for code in epochs.events[:, 2]]))
            metadata = epochs.metadata
            if metadata is not None and "subject" in metadata:
                subjects.append(metadata["subject"].to_numpy(dtype=np.int64))
            else:
                subjects.append(np.full(len(epochs), index, dtype=np.int64))
        source = f"epochs file {self.paths[0]}" if len(self.paths) == 1 else "epochs files"
        eeg = set(reference.get_channel_types()) == {"eeg"}
        dataset = EEGDataset(
            X=self.in_unit(np.concatenate(X), source, eeg),
            y=np.concatenate(y),
            subjects=np.concatenate(subjects),
            ch_names=list(reference.ch_names),
            sfreq=float(reference.info["sfreq"]),
            positions=_positions(reference.info),
            class_names=names,
            source=source,
            unit_uv=MICROVOLTS[self.unit] if eeg else None,
        )
        return self.kept(dataset, first_time=float(reference.tmin))


class NpzData(_Source):
    """A NumPy ``.npz`` with arrays ``X`` (n, C, T), ``y`` (n,), ``ch_names`` (C,), ``sfreq``
    and optionally ``subjects`` (n,) and ``class_names``. Positions come from the standard
    10-05 montage by channel name. The file has no unit: ``X`` is taken to be in ``unit``
    (µV by default), or converted by ``scaling``."""

    kind: Literal["npz"] = "npz"
    path: Path

    def build(self) -> EEGDataset:
        if not self.path.is_file():
            raise DataError(f"npz file {self.path}: not found")
        try:
            arrays = dict(np.load(self.path, allow_pickle=False))
        except Exception as error:
            raise DataError(f"npz file {self.path}: cannot be read ({error})") from None
        missing = [key for key in ("X", "y", "ch_names", "sfreq") if key not in arrays]
        if missing:
            raise DataError(f"npz file {self.path}: missing arrays {missing}")
        y_raw: np.ndarray = arrays["y"]
        class_names = (
            [str(c) for c in arrays["class_names"]]
            if "class_names" in arrays
            else [str(c) for c in np.unique(y_raw)]
        )
        values = np.unique(y_raw) if "class_names" not in arrays else np.arange(len(class_names))
        ch_names = [str(c) for c in arrays["ch_names"]]
        source = f"npz file {self.path}"
        dataset = EEGDataset(
            X=self.in_unit(np.asarray(arrays["X"], dtype=np.float32), source),
            y=np.searchsorted(values, y_raw).astype(np.int64),
            subjects=np.asarray(arrays.get("subjects", np.zeros(len(y_raw))), dtype=np.int64),
            ch_names=ch_names,
            sfreq=float(arrays["sfreq"]),
            positions=montage_positions(ch_names),
            class_names=class_names,
            source=source,
            unit_uv=MICROVOLTS[self.unit],
        )
        return self.kept(dataset)


class MoabbData(_Source):
    """A MOABB dataset through braindecode (downloaded on first use), windowed around its events
    from ``tmin`` to ``tmax`` seconds, read in ``unit`` (µV by default) from MNE's volts. Its
    band-pass and resampling apply to the continuous recordings, before they are windowed."""

    kind: Literal["moabb"] = "moabb"
    stored_unit: ClassVar[Unit | None] = "V"
    dataset: str
    tmin: float = 0.0
    tmax: float | None = None

    def build(self) -> EEGDataset:
        from braindecode.datasets import MOABBDataset

        try:
            raws = MOABBDataset(self.dataset, subject_ids=self.subjects)
        except ImportError:
            raise DataError(
                "moabb data needs the moabb package: pip install 'probe-sweep[moabb]'"
            ) from None
        except (ValueError, KeyError) as error:
            raise DataError(f"moabb dataset {self.dataset!r}: {error}") from None
        windows = windows_from_raws(
            raws,
            f"moabb {self.dataset}",
            self,
            self.tmin,
            self.tmax,
            self.resample,
            self.l_freq,
            self.h_freq,
        )
        return self.kept(windows, first_time=self.tmin, filtered=True)  # the raws were


def windows_from_raws(
    raws: Any,
    source: str,
    units: SignalUnits,
    tmin: float = 0.0,
    tmax: float | None = None,
    resample: float | None = None,
    l_freq: float | None = None,
    h_freq: float | None = None,
) -> EEGDataset:
    """Cut a braindecode ``BaseConcatDataset`` of annotated EEG raws into labelled epochs, in
    ``units``. The subject of each recording comes from its ``description["subject"]``."""
    from braindecode.preprocessing import Preprocessor, create_windows_from_events, preprocess

    steps = [Preprocessor("pick", picks="eeg")]
    if l_freq is not None or h_freq is not None:
        steps.append(Preprocessor("filter", l_freq=l_freq, h_freq=h_freq, verbose="error"))
    if resample is not None:
        steps.append(Preprocessor("resample", sfreq=resample, verbose="error"))
    preprocess(raws, steps)
    sfreq = raws.datasets[0].raw.info["sfreq"]
    size = None if tmax is None else round((tmax - tmin) * sfreq)
    class_names = sorted(
        {str(d) for part in raws.datasets for d in part.raw.annotations.description}
    )
    windows = create_windows_from_events(
        raws,
        trial_start_offset_samples=round(tmin * sfreq),
        trial_stop_offset_samples=0,
        window_size_samples=size,
        window_stride_samples=size,
        drop_last_window=size is not None,
        mapping={name: code for code, name in enumerate(class_names)},
        preload=True,
    )
    X, y, subjects = [], [], []
    for part in windows.datasets:
        first = np.flatnonzero(part.metadata["i_window_in_trial"].to_numpy() == 0)  # one per event
        X.append(np.stack([part[i][0] for i in first]).astype(np.float32))
        y.append(part.metadata["target"].to_numpy(dtype=np.int64)[first])
        subjects.append(np.full(len(first), int(part.description["subject"])))
    info = windows.datasets[0].raw.info
    return EEGDataset(
        X=units.in_unit(np.concatenate(X), source),
        y=np.concatenate(y),
        subjects=np.concatenate(subjects).astype(np.int64),
        ch_names=list(info.ch_names),
        sfreq=float(info["sfreq"]),
        positions=_positions(info),
        class_names=class_names,
        source=source,
        unit_uv=MICROVOLTS[units.unit],
    )


def _positions(info: Any) -> np.ndarray:
    """``(C, 3)`` electrode positions from MNE's info; NaN where the montage has none."""
    positions = np.array([ch["loc"][:3] for ch in info["chs"]], dtype=np.float32)
    positions[~np.isfinite(positions).all(axis=1) | (np.abs(positions).sum(axis=1) == 0)] = np.nan
    return positions


DataConfig = Annotated[
    SyntheticData | EpochsData | NpzData | MoabbData, pydantic.Field(discriminator="kind")
]
