"""Standard electrode positions from MNE's montages."""

from functools import cache

import numpy as np

CHANNELS_1020 = [
    "Fp1",
    "Fp2",
    "F7",
    "F3",
    "Fz",
    "F4",
    "F8",
    "T7",
    "C3",
    "Cz",
    "C4",
    "T8",
    "P7",
    "P3",
    "Pz",
    "P4",
    "P8",
    "O1",
    "O2",
]

MONTAGE = "colin27_1005"


@cache
def _montage_positions() -> dict[str, np.ndarray]:
    import mne

    montage = mne.channels.make_standard_montage(MONTAGE)
    return {name.upper(): pos for name, pos in montage.get_positions()["ch_pos"].items()}


def montage_positions(ch_names: list[str]) -> np.ndarray:
    """``(C, 3)`` positions in metres (case-insensitive names); NaN rows for unknown channels."""
    table = _montage_positions()
    nan = np.full(3, np.nan)
    return np.stack([table.get(name.upper(), nan) for name in ch_names]).astype(np.float32)
