import pytest
import torch

CHANNELS_1020 = [
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3",
    "Cz", "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def chs_info() -> list[dict]:
    import mne

    info = mne.create_info(CHANNELS_1020, 200.0, "eeg")
    info.set_montage(mne.channels.make_standard_montage("colin27_1020"))
    return info["chs"]
