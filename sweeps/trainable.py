"""The Ray Tune trainable: one trial, one epoch per Tune iteration.

A class trainable with ``reset_config`` lets Tune hand the next trial to the same actor
(``reuse_actors``): the process, its imports (braindecode alone takes ~5 s) and its view of the
shared dataset stay alive across trials. The dataset arrives once per actor through the object
store (``tune.with_parameters``), as read-only zero-copy arrays.
"""

import os
from pathlib import Path
from typing import Any, cast

import pyarrow.fs
import ray
import torch
from ray import tune

from probe_core import EEGDataset, TrialConfig
from probe_core.training import TrialRunner
from sweeps import protocol
from sweeps.process import configure_process

CHECKPOINT_FILE = "trial.pt"


class ProbeTrainable(tune.Trainable):
    """Tune config: ``{protocol.TRIAL: <TrialConfig as a dict>, protocol.CPUS: <threads>}``,
    and ``protocol.PHASE`` for a confirmation trial."""

    def setup(self, config: dict[str, Any], data: EEGDataset | None = None) -> None:
        configure_process()
        self.data = data
        self._start(config)

    def _start(self, config: dict[str, Any]) -> None:
        torch.set_num_threads(max(int(config.get(protocol.CPUS, 1)), 1))
        self.evaluating = bool(config.get(protocol.PHASE))
        self.metric_key = protocol.CONFIRMATION_VALUE if self.evaluating else protocol.BEST_VALUE
        self.trial_config = TrialConfig.model_validate(config[protocol.TRIAL])
        self.runner = TrialRunner(self.trial_config, self.data)
        self.restored_from: str | None = None  # said once, in the first result after a restore

    def step(self) -> dict[str, Any]:
        if self.runner.done:
            # restored from the checkpoint of its last epoch (a resumed sweep): nothing left to
            # train; report it as ended, marked so the tracker does not count an extra epoch
            replayed = self._with_fold_scores(self.runner.history[-1])
            return {**self._result(replayed), protocol.REPLAYED: True}
        return self._result(self._with_fold_scores(self.runner.step().metrics))

    def _with_fold_scores(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """An evaluation trial's last result also holds its scores on its fold, at the best
        epoch its validation part picked, with the fold's chance level and counts."""
        if not (self.evaluating and self.runner.done):
            return metrics
        fold = self.runner.fold_score()
        return {
            **metrics,
            **{protocol.FOLD + k: v for k, v in fold.metrics.items()},
            protocol.FOLD_CHANCE: fold.chance,
            protocol.FOLD_SCORED: fold.scored,
            protocol.FOLD_TRAINED: fold.trained,
            protocol.FOLD_POOL: fold.pool,
            protocol.FOLD_PART: fold.part,
        }

    def _result(self, metrics: dict[str, Any]) -> dict[str, Any]:
        context = ray.get_runtime_context()
        restored_from, self.restored_from = self.restored_from, None
        gpus = context.get_accelerator_ids().get("GPU", [])
        return {
            protocol.NODE_ID: context.get_node_id(),
            protocol.PID: os.getpid(),
            protocol.GPU_IDS: ",".join(str(i) for i in gpus),
            protocol.ONEDNN: self.runner.convolution_check.tag,
            # after a restore, the epochs before it as the checkpoint has them: the driver's
            # ledger may have missed them (a killed driver keeps nothing in memory)
            **(
                {
                    protocol.RESTORED_FROM: restored_from,
                    protocol.RESTORED_HISTORY: self.runner.history,
                }
                if restored_from
                else {}
            ),
            **metrics,
            protocol.EPOCH: self.runner.epoch,
            protocol.BEST_EPOCH: self.runner.best_epoch,
            self.metric_key: self.runner.best_value,
            protocol.TRAINABLE_PARAMS: self.runner.sizes.trainable,
            protocol.TOTAL_PARAMS: self.runner.sizes.total,
            protocol.COMPLETED: self.runner.done,
            "done": self.runner.done,  # Tune's own key
        }

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        self.runner.save(Path(checkpoint_dir) / CHECKPOINT_FILE)

    # checkpoint_path: a path, a tune.Checkpoint, or Tune's result holding one
    def restore(self, checkpoint_path: Any) -> None:
        """Continue from the newest complete checkpoint this trial wrote, or from scratch.

        Tune restores the checkpoint its saved state names. A driver killed after a trial
        checkpointed again lags behind it (the trial would train its last epochs again), or,
        once the trial's old checkpoints were rotated away (``num_to_keep``), names one that is
        gone, and Tune would fail the trial. Its newer checkpoints sit next to the named one.
        """
        named = getattr(checkpoint_path, "checkpoint", checkpoint_path)
        if isinstance(named, str):
            named = tune.Checkpoint.from_directory(named)
        newest = newest_checkpoint(named)
        if newest is None:  # the runner set up for this trial starts afresh
            self.restored_from = "scratch: its checkpoints were gone"
            return
        self.restored_from = newest.path.rstrip("/").rsplit("/", 1)[-1]
        super().restore(checkpoint_path if newest.path == named.path else newest)

    # ray's stub says a dict; a class trainable that saves to its directory gets the directory
    def load_checkpoint(self, checkpoint_dir: str) -> None:  # type: ignore[override]
        self.runner.load(Path(checkpoint_dir) / CHECKPOINT_FILE)
        # Tune counts iterations from the named checkpoint's metrics; ours may be newer, and
        # ASHA's rungs count iterations: one epoch is one iteration
        self._iteration = self.runner.epoch

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        self._start(new_config)
        return True


def newest_checkpoint(named: tune.Checkpoint) -> tune.Checkpoint | None:
    """The newest complete checkpoint (one holding ``CHECKPOINT_FILE``) in the trial directory
    of ``named``, on whatever storage it is (a local or shared path, an object store)."""
    # never None: a Checkpoint made without one takes it from its path
    filesystem = cast(pyarrow.fs.FileSystem, named.filesystem)
    trial_dir = named.path.rstrip("/").rsplit("/", 1)[0]
    found = filesystem.get_file_info(pyarrow.fs.FileSelector(trial_dir, allow_not_found=True))
    complete = sorted(
        info.path
        for info in found
        if info.type == pyarrow.fs.FileType.Directory
        and info.base_name.startswith("checkpoint_")
        and filesystem.get_file_info(f"{info.path}/{CHECKPOINT_FILE}").type
        == pyarrow.fs.FileType.File
    )
    return tune.Checkpoint(complete[-1], filesystem=filesystem) if complete else None
