"""Write a small lab's recordings as MNE epochs files, the way MNE saves them (volts), so that
the "Your own data" walk-through in the README runs offline: eight subjects, three imagined
movements, 19 channels of the 10-20 montage. With your own recordings, skip this script.

    python make_files.py            # → files/sub-01-epo.fif … files/sub-08-epo.fif
"""

from pathlib import Path

import mne
import numpy as np
import pandas as pd

from probe_core import SyntheticData

FOLDER = Path(__file__).parent / "files"
SUBJECTS = range(1, 9)


def main() -> None:
    FOLDER.mkdir(exist_ok=True)
    simulated = SyntheticData(subjects=list(SUBJECTS), n_classes=3, trials_per_class=20).build()
    info = mne.create_info(simulated.ch_names, simulated.sfreq, "eeg")
    info.set_montage("colin27_1020")  # electrode positions travel with the file
    event_id = {name: code + 1 for code, name in enumerate(simulated.class_names)}
    for subject in SUBJECTS:
        mine = simulated.subjects == subject
        labels = simulated.y[mine]
        events = np.column_stack(
            [np.arange(len(labels)) * 512, np.zeros(len(labels), int), labels + 1]
        )
        epochs = mne.EpochsArray(
            simulated.X[mine] * 1e-6,  # the simulator's microvolts, stored as MNE does: volts
            info,
            events,
            event_id=event_id,
            metadata=pd.DataFrame({"subject": [subject] * len(labels)}),
            verbose="error",
        )
        epochs.save(FOLDER / f"sub-{subject:02d}-epo.fif", overwrite=True, verbose="error")
    print(f"wrote {len(SUBJECTS)} epochs files to {FOLDER}")


if __name__ == "__main__":
    main()
