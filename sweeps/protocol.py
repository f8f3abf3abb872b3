"""The trial-result protocol: what the driver gives a trial (its Tune config), what a trial
reports after each epoch, and the statuses a trial ends in.

The trainable writes these names, the tracker, ledger, report, CLI and benches read them; a
name lives here once.
"""

from enum import StrEnum


class TrialStatus(StrEnum):
    """A trial's status in the ledger (``trials.jsonl`` stores the value)."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"  # ran its course (max epochs or patience)
    PRUNED = "PRUNED"  # stopped early by the scheduler
    FAILED = "FAILED"  # its own error, after the allowed restarts
    LOST = "LOST"  # started by a driver killed before it saved the trial; run again instead


ENDED = (TrialStatus.FINISHED, TrialStatus.PRUNED, TrialStatus.FAILED)


class Phase(StrEnum):
    """Why a trial ran: the search, evaluating a finalist on one fold × repetition, or
    evaluating the recommended finalist at another learning rate on the same fold × repetition."""

    SEARCH = "search"
    CONFIRMATION = "confirmation"
    LEARNING_RATE = "learning_rate"


# --- the Tune config of a trial ---------------------------------------------------------------
TRIAL = "trial"  # the TrialConfig as a dict
CPUS = "cpus"  # torch threads of the trial process
PHASE = "phase"  # absent for search trials

# --- what a trial reports after each epoch ----------------------------------------------------
BEST_VALUE = "best_value"
"""The best validation value so far: what the searcher and the scheduler optimise."""
CONFIRMATION_VALUE = "confirmation_value"
"""A confirmation trial's ``best_value``, under another name: neither the scheduler nor the
study sees it."""
EPOCH = "epoch"  # epochs done (Tune's own iteration count lags after a restore)
BEST_EPOCH = "best_epoch"
TRAINABLE_PARAMS = "trainable_params"
TOTAL_PARAMS = "total_params"
COMPLETED = "completed"
"""True once the trial ran its course; Tune's own ``done`` is also set when it was pruned."""
REPLAYED = "replayed"
"""The trial was restored from the checkpoint of its last epoch and had nothing left to train."""
RESTORED_FROM = "restored_from"
"""In the first result after a restore: the checkpoint continued from, or why from scratch."""
RESTORED_HISTORY = "restored_history"
"""In the first result after a restore: the epochs before it, as the checkpoint holds them."""
NODE_ID, GPU_IDS, PID = "node_id", "gpu_ids", "pid"
ONEDNN = "onednn"  # "on", or why oneDNN is off in the trial's process (probe_core.numerics)
PLACEMENT = (NODE_ID, GPU_IDS, PID, ONEDNN)
"""Where a trial ran, as run tags: its node, GPUs and process, and whether oneDNN was on."""
DATA_FITTED = "data_fitted"
"""A parent run's tag: how the data was fitted to the backbone for every trial, or "as loaded"
(``probe_core.backbone_fitting``)."""
FOLD = "fold_"
"""An evaluation trial's scores on its fold (``fold_<metric>``), reported with its last epoch:
its best epoch's, picked on its validation part. With them, the fold's facts:"""
FOLD_CHANCE = "fold_chance"  # the metric's chance level on the scored part's classes
FOLD_SCORED = "fold_scored_examples"
FOLD_TRAINED = "fold_trained_examples"
FOLD_POOL = "fold_pool_examples"  # the epochs the folds are cut from
FOLD_PART = "fold_part"  # a fingerprint of the scored epochs
LOGGED_METRICS = ("train_loss", "lr", "train_time", "epoch_time")
"""Per-epoch metrics logged besides every ``val_*`` (and ``fold_*``) metric."""
