"""What a published backbone was made for, as far as the data must follow it.

A foundation model fixes its input when it is pretrained: LaBraM and CBraMod read 200 Hz
signals in patches of 200 samples, EEGPT 256 Hz in patches of 64, LUNA patches of 40. Users'
data comes at 128, 160, 250 or 256 Hz in windows of any length, and the model then fails with a
shape error deep inside (docs/FOUNDATION_MODELS.md). LaBraM, CBraMod and EEG-DINO were
pretrained on signals in units of 100 µV, and LaBraM and EEGPT embed each patch's position with
weights sized to the pretraining window. A profile says what the model needs;
``probe_core.backbone_fitting`` fits the data to it. Backbones without a profile take the data
as it is.

braindecode states patch lengths as constructor defaults but a pretraining rate and scale only
in its docstrings, so the profiles are declared here, once per model, in ``PROFILES``.

Some models download a file when they are built (REVE its bank of channel positions): offline,
as on most cluster nodes, the user gives a local copy (``backbone.files``), put where the model
looks first.
"""

import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from probe_core.errors import ConfigError
from probe_core.registry import Registry


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
    ``fixed_window``: its weights fix the window it reads (a positional embedding per patch):
    a checkpoint's window is kept; ``unit_uv``: the microvolts in one unit of the input it was
    pretrained on (the data is scaled to it); ``kwargs``: constructor arguments that let it
    read any EEG montage (the user's ``backbone.kwargs`` win);
    ``files``: what it downloads, by the name ``backbone.files`` gives a local copy under;
    ``any_montage``: the braindecode model that maps any montage onto its channels, with its
    weights, built when it refuses the data's channels; ``made_for``: what it reads, said
    when it refuses the data."""

    sfreq: float | None = None
    patch: int | None = None
    min_times: int | None = None
    fixed_window: bool = False
    unit_uv: float | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    files: dict[str, DownloadedFile] = field(default_factory=dict)
    any_montage: str | None = None
    made_for: str | None = None


PROFILES: Registry[BackboneProfile] = Registry("backbone profile")
for _name, _profile in {
    "Labram": BackboneProfile(sfreq=200.0, patch=200, fixed_window=True, unit_uv=100.0),
    "CBraMod": BackboneProfile(sfreq=200.0, patch=200, unit_uv=100.0),
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
    "EEGDINO": BackboneProfile(sfreq=200.0, patch=200, unit_uv=100.0),
    "BIOT": BackboneProfile(sfreq=200.0, min_times=200),
    "EEGPT": BackboneProfile(sfreq=256.0, min_times=64, fixed_window=True),
    "LUNA": BackboneProfile(patch=40),
    "BENDR": BackboneProfile(sfreq=256.0, min_times=384, any_montage="InterpolatedBENDR"),
    **{
        name: BackboneProfile(sfreq=128.0, min_times=152, unit_uv=1.0)
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
    "AttnSleep": BackboneProfile(made_for="sleep staging: 30 s windows of 1 channel at 100 Hz"),
    "SleepStagerChambon2018": BackboneProfile(  # its filters and pools sized at 128 Hz
        sfreq=128.0, made_for="sleep staging: 30 s windows at 128 Hz"
    ),
    "USleep": BackboneProfile(  # braindecode's fix for rates other than 128 or 100 Hz
        kwargs={"ensure_odd_conv_size": True}, made_for="sleep staging at 128 Hz"
    ),
    "SleepStagerBlanco2020": BackboneProfile(  # its two groups: EEG and EOG; one reads any
        min_times=450, kwargs={"n_groups": 1}, made_for="sleep staging: 30 s windows at 100 Hz"
    ),
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


def profile(backbone: str) -> BackboneProfile:
    """``backbone``'s profile; one that asks nothing of the data where it has none."""
    return PROFILES[backbone] if backbone in PROFILES else BackboneProfile()


def pretraining_rate(backbone: str) -> float | None:
    """The rate ``backbone`` was pretrained at, where its profile says (the data is fitted
    to it)."""
    return profile(backbone).sfreq


def made_for(backbone: str) -> str:
    """``"; it was made for …"`` for a refusal, where the profile says ("" else)."""
    reads = profile(backbone).made_for
    return f"; it was made for {reads}" if reads else ""


def montage_mapper(backbone: str) -> str | None:
    """The model that maps any montage onto ``backbone``'s channels, if there is one."""
    return profile(backbone).any_montage


def downloads(backbone: str) -> dict[str, DownloadedFile]:
    """The files ``backbone`` downloads when it is built (none without a profile)."""
    return profile(backbone).files


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
