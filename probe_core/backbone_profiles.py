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

Some models download a file when they are built (REVE its bank of channel positions): offline,
as on most cluster nodes, the user gives a local copy (``backbone.files``), put where the model
looks first.
"""

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from probe_core.dataset import EEGDataset
from probe_core.errors import ConfigError
from probe_core.registry import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DownloadedFile:
    """A file a model downloads from ``url`` when it is built, unless a copy named ``name`` is
    in the folder its ``setting`` (an environment variable or MNE config key) names."""

    url: str
    setting: str
    name: str


@dataclass(frozen=True)
class BackboneProfile:
    """``sfreq``: the rate it was pretrained at (the data is resampled to it); ``patch``: it
    reads whole patches of this many samples (the window is cut to a multiple, or padded to
    one patch); ``min_times``: the fewest samples it can read (the window is padded to it);
    ``files``: what it downloads, by the name ``backbone.files`` gives a local copy under;
    ``any_montage``: the braindecode model that maps any montage onto its channels, with its
    weights, built when it refuses the data's channels; ``made_for``: what it reads, said
    when it refuses the data."""

    sfreq: float | None = None
    patch: int | None = None
    min_times: int | None = None
    files: dict[str, DownloadedFile] = field(default_factory=dict)
    any_montage: str | None = None
    made_for: str | None = None


PROFILES: Registry[BackboneProfile] = Registry("backbone profile")
for _name, _profile in {
    "Labram": BackboneProfile(sfreq=200.0, patch=200),
    "CBraMod": BackboneProfile(sfreq=200.0, patch=200),
    "REVE": BackboneProfile(
        sfreq=200.0,
        min_times=200,
        files={
            "positions": DownloadedFile(
                "https://huggingface.co/brain-bzh/reve-positions/resolve/main/positions.json",
                "REVE_POSITIONS_PATH",
                "reve_positions.json",
            )
        },
    ),
    "EEGDINO": BackboneProfile(sfreq=200.0, patch=200),
    "BIOT": BackboneProfile(sfreq=200.0, min_times=200),
    "EEGPT": BackboneProfile(sfreq=256.0, min_times=64),
    "LUNA": BackboneProfile(patch=40),
    "BENDR": BackboneProfile(sfreq=256.0, min_times=384, any_montage="InterpolatedBENDR"),
    **{
        name: BackboneProfile(sfreq=128.0, min_times=152)
        for name in (
            "SignalJEPA",
            "SignalJEPA_Contextual",
            "SignalJEPA_PostLocal",
            "SignalJEPA_PreLocal",
        )
    },
    **{
        name: BackboneProfile(made_for="surface EMG at 2000 Hz, not EEG")
        for name in (
            "NeuroPose",
            "MetaNeuromotorHand",
            "VEMG2Pose",
            "SensingDynamics",
            "EMG2QwertyNet",
        )
    },
    **{
        name: BackboneProfile(made_for="sleep staging: 30 s windows of 1-2 channels at 100 Hz")
        for name in ("AttnSleep", "SleepStagerBlanco2020")
    },
}.items():
    PROFILES.register(_name, _profile)
for _twin, _base in {  # braindecode's: the same model (and weights) behind a montage mapping
    "InterpolatedLaBraM": "Labram",
    "InterpolatedBIOT": "BIOT",
    "InterpolatedEEGPT": "EEGPT",
    "InterpolatedBENDR": "BENDR",
    "InterpolatedSignalJEPA": "SignalJEPA",
}.items():
    PROFILES.register(_twin, replace(PROFILES[_base], any_montage=None))


def fit_to_backbone(data: EEGDataset, backbone: str) -> EEGDataset:
    """``data`` as ``backbone`` reads it (see the module), said in one log line; unchanged
    for a backbone without a profile, or data that fits already."""
    fitted, said = fitting(data, backbone)
    if said:
        log.info(said)
    return fitted


def fitting(data: EEGDataset, backbone: str) -> tuple[EEGDataset, str | None]:
    """``fit_to_backbone``'s data and what it did (None: nothing)."""
    if backbone not in PROFILES:
        return data, None
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
    return fitted, f"the data fitted to {backbone}: {'; '.join(steps)}" if steps else None


def pretraining_rate(backbone: str) -> float | None:
    """The rate ``backbone`` was pretrained at, where its profile says (the data is fitted
    to it)."""
    return PROFILES[backbone].sfreq if backbone in PROFILES else None


def made_for(backbone: str) -> str:
    """``"; it was made for …"`` for a refusal, where the profile says ("" else)."""
    reads = PROFILES[backbone].made_for if backbone in PROFILES else None
    return f"; it was made for {reads}" if reads else ""


def montage_mapper(backbone: str) -> str | None:
    """The model that maps any montage onto ``backbone``'s channels, if there is one."""
    return PROFILES[backbone].any_montage if backbone in PROFILES else None


def downloads(backbone: str) -> dict[str, DownloadedFile]:
    """The files ``backbone`` downloads when it is built (none without a profile)."""
    return PROFILES[backbone].files if backbone in PROFILES else {}


def check_files(backbone: str, files: dict[str, Path]) -> None:
    """``ConfigError`` unless ``files`` are local copies of what ``backbone`` downloads."""
    known = downloads(backbone)
    for key, path in files.items():
        if key not in known:
            takes = f"takes {', '.join(known)}" if known else "downloads nothing"
            raise ConfigError(f"backbone.files.{key}: {backbone} {takes}")
        if not path.is_file():
            raise ConfigError(f"backbone.files.{key}: {path} is not a file")


def provide_files(backbone: str, files: dict[str, Path]) -> None:
    """Put the local copies where ``backbone`` looks before it downloads (in this process:
    each node's trial builds its own model)."""
    for key, path in files.items():
        wanted = downloads(backbone)[key]
        folder = Path(tempfile.gettempdir()) / "probe_sweep_files" / backbone / key
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / wanted.name)
        os.environ[wanted.setting] = str(folder)


def missing_files_hint(backbone: str, files: dict[str, Path]) -> str:
    """What to give for the files ``backbone`` downloads that ``files`` lacks ("" if none)."""
    missing = {k: f for k, f in downloads(backbone).items() if k not in files}
    return "".join(
        f"; offline, give backbone.files.{key}: a local copy of {wanted.url}"
        for key, wanted in missing.items()
    )


def _with_samples(data: EEGDataset, n_times: int) -> EEGDataset:
    """The first ``n_times`` samples of each epoch, zeros after its end."""
    X = np.zeros((*data.X.shape[:2], n_times), dtype=data.X.dtype)
    kept = min(n_times, data.n_times)
    X[..., :kept] = data.X[..., :kept]
    return replace(data, X=X)
