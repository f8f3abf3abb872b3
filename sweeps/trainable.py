"""The Ray Tune trainable: one trial, one epoch per Tune iteration.

A class trainable with ``reset_config`` lets Tune hand the next trial to the same actor
(``reuse_actors``): the process, its imports (braindecode alone takes ~5 s) and its view of the
shared dataset stay alive across trials. The dataset arrives once per actor through the object
store (``tune.with_parameters``), as read-only zero-copy arrays.
"""

import os
from pathlib import Path

import ray
import torch
from ray import tune

from probe_core import EEGDataset, TrialConfig
from probe_core.training import TrialRunner

CHECKPOINT_FILE = "trial.pt"


class ProbeTrainable(tune.Trainable):
    """Tune config: ``{"trial": <TrialConfig as a dict>, "cpus": <threads for torch>}``."""

    def setup(self, config: dict, data: EEGDataset | None = None) -> None:
        self.data = data
        self._start(config)

    def _start(self, config: dict) -> None:
        torch.set_num_threads(max(int(config.get("cpus", 1)), 1))
        self.metric_key = "confirmation_value" if config.get("phase") else "best_value"
        self.trial_config = TrialConfig.model_validate(config["trial"])
        self.runner = TrialRunner(self.trial_config, self.data)

    def step(self) -> dict:
        if self.runner.done:
            # restored from the checkpoint of its last epoch (a resumed sweep): nothing left to
            # train; report it as ended, marked so the tracker does not count an extra epoch
            return {**self._result(self.runner.history[-1]), "replayed": True}
        return self._result(self.runner.step().metrics)

    def _result(self, metrics: dict) -> dict:
        context = ray.get_runtime_context()
        return {
            "node_id": context.get_node_id(),
            "pid": os.getpid(),
            "gpu_ids": ",".join(str(i) for i in context.get_accelerator_ids().get("GPU", [])),
            **metrics,
            "epoch": self.runner.epoch,
            "best_epoch": self.runner.best_epoch,
            self.metric_key: self.runner.best_value,
            "trainable_params": self.runner.sizes.trainable,
            "total_params": self.runner.sizes.total,
            # Tune sets "done" itself, also when its scheduler stops the trial: our own flag
            # tells a trial that ran its course from one that was pruned.
            "completed": self.runner.done,
            "done": self.runner.done,
        }

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        self.runner.save(Path(checkpoint_dir) / CHECKPOINT_FILE)

    def load_checkpoint(self, checkpoint_dir: str) -> None:
        self.runner.load(newest_checkpoint(Path(checkpoint_dir)))

    def reset_config(self, new_config: dict) -> bool:
        self._start(new_config)
        return True


def newest_checkpoint(checkpoint_dir: Path) -> Path:
    """The newest complete checkpoint this trial wrote, at ``checkpoint_dir`` or after it.

    Tune restores a trial from the last checkpoint its experiment state recorded, which lags
    behind the trial when the driver was killed: a trial that finished just before would train
    its last epochs again. Its newer checkpoints are still on disk, next to the one Tune picked.
    """
    written = sorted(checkpoint_dir.parent.glob("checkpoint_*/" + CHECKPOINT_FILE))
    newer = [path for path in written if path.parent.name >= checkpoint_dir.name]
    return newer[-1] if newer else checkpoint_dir / CHECKPOINT_FILE
