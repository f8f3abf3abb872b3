"""Run one trial: build the wrapped model, train it epoch by epoch, evaluate, checkpoint.

Plain PyTorch: the data sits in memory as tensors and batches are index selections, so the loop
adds almost nothing to the model's own forward and backward (see bench/trial_throughput.py).
"""

import copy
import math
import os
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from probe_core.assembly import batch_extras, build_model, model_inputs, shared_tensor
from probe_core.backbone_fitting import fit_to_backbone
from probe_core.dataset import EEGDataset
from probe_core.errors import ConfigError
from probe_core.introspection import BackboneFacts, ParameterSummary, parameter_summary
from probe_core.metrics import chance_level, classification_metrics, is_better
from probe_core.numerics import guard_convolutions
from probe_core.splits import Splits
from probe_core.trial_config import TrialConfig
from probe_core.wrapper import DownstreamWrapperModel


class TrialDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class EpochReport:
    """What a trial reports after each epoch (a sweep forwards it to its scheduler)."""

    epoch: int  # 1-based: the number of epochs done
    metrics: dict[str, float]  # train_loss, val_<metric> for each metric, lr, train/epoch_time,
    # time (when the epoch ended)
    best_epoch: int
    best_value: float


@dataclass
class TrialResult:
    best_epoch: int
    val_metrics: dict[str, float]
    test_metrics: dict[str, float] | None
    total_params: int
    trainable_params: int
    epoch_times: list[float]
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_by: str = "max_epochs"  # max_epochs | patience | callback

    def summary(self) -> dict[str, float]:
        """Flat numbers for logging: best-epoch validation and test metrics, sizes, times."""
        out = {f"val_{k}": v for k, v in self.val_metrics.items()}
        out.update({f"test_{k}": v for k, v in (self.test_metrics or {}).items()})
        out.update(
            best_epoch=self.best_epoch,
            total_params=self.total_params,
            trainable_params=self.trainable_params,
            mean_epoch_time=float(np.mean(self.epoch_times)) if self.epoch_times else 0.0,
        )
        return out


EpochCallback = Callable[[EpochReport], bool | None]
"""Called after every epoch; returning True stops the trial."""


@dataclass(frozen=True)
class FoldScore:
    """A cross-validation fold's evidence (``split.folds``): the scored part's metrics at the
    best epoch its validation part picked, the metric's chance level on the scored part's
    classes, and the counts the interval's correction reads (``sweeps/evidence.py``)."""

    metrics: dict[str, float]
    chance: float
    scored: int  # epochs scored
    trained: int  # epochs trained on (after any cap)
    pool: int  # epochs the folds are cut from (the search's training and validation parts)
    part: int  # a fingerprint of the scored epochs: two repetitions can draw the same part

    @classmethod
    def of(cls, splits: Splits, metrics: dict[str, float], metric: str) -> "FoldScore":
        """The evidence of ``metrics`` scored on the scored part of ``splits`` (with folds)."""
        if splits.pool is None or splits.test is None:
            raise ConfigError("split: a fold score needs split.folds")
        counts = np.bincount(splits.data.y[splits.test], minlength=splits.data.n_classes)
        return cls(
            metrics=metrics,
            chance=chance_level(metric, counts),
            scored=len(splits.test),
            trained=len(splits.train),
            pool=len(splits.pool),
            part=zlib.crc32(np.sort(splits.test).astype(np.int64).tobytes()),
        )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("training.device: 'cuda' requested but CUDA is not available")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class _Tensors:
    """One split on the training device. On the CPU the dataset's array is used in place (zero
    copy: from Ray's object store, read-only and shared by every trial on the node) and batches
    are gathered by index; on a GPU the split's epochs are copied to the device once."""

    def __init__(self, data: EEGDataset, index: np.ndarray, device: torch.device) -> None:
        X = shared_tensor(data.X)
        positions = torch.from_numpy(np.asarray(index, dtype=np.int64))
        self.y = torch.from_numpy(data.y[index]).to(device)
        self.subjects = torch.from_numpy(data.subjects[index]).to(device)
        # _rows: where this split's epochs are in _X; None when _X holds only them
        self._rows: torch.Tensor | None
        if device.type == "cpu":
            self._X, self._rows = X, positions
        else:
            self._X, self._rows = X[positions].to(device, non_blocking=True), None

    def __len__(self) -> int:
        return len(self.y)

    def batch(
        self, index: torch.Tensor | slice, extras: dict[str, Any]
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """The epochs at positions ``index`` of this split, and the model's extra inputs for
        them."""
        x = self._X[index] if self._rows is None else self._X[self._rows[index]]
        return x, batch_extras(extras, self.subjects, index)


def _param_groups(
    config: TrialConfig, model: DownstreamWrapperModel, facts: BackboneFacts
) -> list[dict[str, Any]]:
    groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
    for name, param in config.strategy.optimised_parameters(model):
        scale = config.strategy.lr_scale(model, name, facts)
        groups.setdefault((scale, param.ndim >= 2), []).append(param)
    return [
        {
            "params": params,
            "lr": config.optimizer.lr * scale,
            "weight_decay": config.optimizer.weight_decay if decays else 0.0,
        }
        for (scale, decays), params in groups.items()
    ]


def _scheduler(
    config: TrialConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    total = config.training.max_epochs * steps_per_epoch
    warmup = round(config.schedule.warmup_epochs * steps_per_epoch)
    if config.schedule.kind == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=[group["lr"] for group in optimizer.param_groups],
            total_steps=total,
            pct_start=warmup / total if warmup else 0.3,
        )

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if config.schedule.kind == "constant":
            return 1.0
        progress = (step - warmup) / max(total - warmup, 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@torch.no_grad()
def predict(
    model: nn.Module, split: _Tensors, extras: dict[str, Any], batch_size: int, autocast: bool
) -> torch.Tensor:
    model.eval()
    logits = []
    for start in range(0, len(split), batch_size):
        index = slice(start, start + batch_size)
        with torch.autocast(split.y.device.type, torch.bfloat16, enabled=autocast):
            x, inputs = split.batch(index, extras)
            out = model(x, **inputs)
        logits.append(out.float().cpu())
    return torch.cat(logits)


def evaluate(
    model: nn.Module,
    split: _Tensors,
    extras: dict[str, Any],
    config: TrialConfig,
    n_classes: int,
    autocast: bool,
) -> dict[str, float]:
    logits = predict(model, split, extras, config.training.eval_batch_size, autocast)
    return classification_metrics(logits, split.y.cpu(), n_classes)


def save_atomically(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` that never leaves a half-written file behind (write, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_dataset(config: TrialConfig, dataset: EEGDataset | None) -> EEGDataset:
    """The trial's data (``dataset``, else its data section's), fitted to its backbone."""
    if dataset is None:
        if config.data is None:
            raise ConfigError("trial config has no data section and no dataset was given")
        dataset = config.data.build()
    return fit_to_backbone(dataset, config.backbone)


class TrialRunner:
    """One trial, one epoch per ``step()``: what ``run_trial`` loops over and what a sweep's
    trainable drives (reporting, checkpointing and stopping between steps).

    ``state_dict()`` holds everything needed to continue exactly: model, optimiser, scheduler,
    RNG state, history and the best epoch's weights.
    """

    def __init__(self, config: TrialConfig, dataset: EEGDataset | None = None) -> None:
        dataset = load_dataset(config, dataset)
        self.config = config
        self.convolution_check = guard_convolutions()  # before any gradient is computed
        self.splits: Splits = config.split.split(dataset)
        self.device = resolve_device(config.training.device)
        self.autocast = self.device.type == "cuda" and config.training.precision != "fp32"
        seed_everything(config.seed)
        model, facts = build_model(config, dataset)
        self.model = model.to(self.device)
        self.train_split = _Tensors(dataset, self.splits.train, self.device)
        self.val_split = _Tensors(dataset, self.splits.val, self.device)
        self.extras = model_inputs(config, dataset, self.device)
        self.n_classes = dataset.n_classes
        self.batch_size = min(config.training.batch_size, len(self.train_split))
        # the last partial batch is dropped: every step sees a full batch
        self.steps_per_epoch = max(len(self.train_split) // self.batch_size, 1)
        self.optimizer = torch.optim.AdamW(
            _param_groups(config, self.model, facts),
            betas=config.optimizer.betas,
            fused=self.device.type == "cuda",  # one kernel per step, not one per tensor
        )
        self.scheduler = _scheduler(config, self.optimizer, self.steps_per_epoch)
        # what trains at some point: LP-FT's backbone is frozen only for its first epochs
        trained = sum(p.numel() for group in self.optimizer.param_groups for p in group["params"])
        self.sizes = ParameterSummary(parameter_summary(self.model).total, trained)
        self.class_weights = None
        if config.training.class_weights:
            counts = torch.bincount(self.train_split.y, minlength=self.n_classes).float()
            weights = counts.sum() / (self.n_classes * counts.clamp(min=1))
            self.class_weights = weights.to(self.device)
        self.epoch = 0
        self.history: list[dict[str, float]] = []
        self.best_epoch = 0
        self.best_value: float | None = None
        self.best_model: dict[str, Any] | None = None
        self.stopped_by: str | None = None

    @property
    def done(self) -> bool:
        return self.stopped_by is not None

    def step(self) -> EpochReport:
        """Train one epoch, evaluate on the validation split, and report."""
        config, model = self.config, self.model
        start = time.perf_counter()
        config.strategy.on_epoch_start(model, self.epoch)
        model.train()
        if not any(p.requires_grad for p in model.wrapped_model.parameters()):
            model.wrapped_model.eval()  # a frozen backbone: no dropout, fixed norm statistics
        generator = torch.Generator().manual_seed(config.seed * 100_003 + self.epoch)
        order = torch.randperm(len(self.train_split), generator=generator).to(self.device)
        # kept on the device and read once: reading each step's loss would make the CPU wait
        # for the GPU at every step
        losses = []
        for step in range(self.steps_per_epoch):
            index = order[step * self.batch_size : (step + 1) * self.batch_size]
            losses.append(self._train_step(index))
        train_loss = torch.stack(losses).mean().item()
        if not math.isfinite(train_loss):
            raise TrialDiverged(f"training loss is {train_loss} at epoch {self.epoch + 1}")
        train_time = time.perf_counter() - start
        val = evaluate(model, self.val_split, self.extras, config, self.n_classes, self.autocast)
        metrics = {
            "train_loss": train_loss,
            **{f"val_{k}": v for k, v in val.items()},
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_time": train_time,
            "epoch_time": time.perf_counter() - start,
            "time": time.time(),  # when the epoch ended (a restored trial's ledger replays it)
        }
        self.history.append(metrics)
        self.epoch += 1
        metric = config.training.metric
        if is_better(metric, val[metric], self.best_value):
            self.best_value, self.best_epoch = val[metric], self.epoch
            self.best_model = copy.deepcopy(model.state_dict())
        patience = config.training.patience
        if self.epoch >= config.training.max_epochs:
            self.stopped_by = "max_epochs"
        elif patience is not None and self.epoch - self.best_epoch >= patience:
            self.stopped_by = "patience"
        return EpochReport(
            epoch=self.epoch,
            metrics=metrics,
            best_epoch=self.best_epoch,
            best_value=self.best_value if self.best_value is not None else float("nan"),
        )

    def _train_step(self, index: torch.Tensor) -> torch.Tensor:
        split, device = self.train_split, self.device
        with torch.autocast(device.type, torch.bfloat16, enabled=self.autocast):
            x, inputs = split.batch(index, self.extras)
            logits = self.model(x, **inputs)
            loss = nn.functional.cross_entropy(logits.float(), split.y[index], self.class_weights)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        if self.config.training.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.training.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        return loss.detach()

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": torch.get_rng_state(),
            "epoch": self.epoch,
            "history": self.history,
            "best_epoch": self.best_epoch,
            "best_value": self.best_value,
            "best_model": self.best_model,
            "stopped_by": self.stopped_by,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        self.epoch, self.history = state["epoch"], state["history"]
        self.best_epoch, self.best_value = state["best_epoch"], state["best_value"]
        self.best_model, self.stopped_by = state["best_model"], state["stopped_by"]

    def save(self, path: Path) -> None:
        save_atomically(self.state_dict(), path)

    def load(self, path: Path) -> None:
        self.load_state_dict(torch.load(path, map_location=self.device, weights_only=True))

    def require_test_split(self) -> np.ndarray:
        """The test split's indices; a config without one cannot be tested."""
        if self.splits.test is None:
            raise ConfigError("split: no test split (test_fraction is 0 and no test_subjects)")
        return self.splits.test

    def test_predictions(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and labels of the test split, with the model's current weights."""
        test_split = _Tensors(self.splits.data, self.require_test_split(), self.device)
        batch_size = self.config.training.eval_batch_size
        logits = predict(self.model, test_split, self.extras, batch_size, self.autocast)
        return logits, test_split.y.cpu()

    def fold_score(self) -> FoldScore:
        """The fold's evidence, with the best epoch's weights (``finish``)."""
        if self.splits.pool is None:
            raise ConfigError("split: a fold score needs split.folds")
        metrics = self.finish(evaluate_test=True).test_metrics
        assert metrics is not None  # finish(evaluate_test=True) has scored the test split
        return FoldScore.of(self.splits, metrics, self.config.training.metric)

    def finish(self, evaluate_test: bool = False) -> TrialResult:
        """Restore the best epoch's weights and summarise (with the test split when asked)."""
        if self.best_model is not None:
            self.model.load_state_dict(self.best_model)
        best = self.history[max(self.best_epoch - 1, 0)] if self.history else {}
        val_metrics = {k.removeprefix("val_"): v for k, v in best.items() if k.startswith("val_")}
        test_metrics = None
        if evaluate_test:
            logits, labels = self.test_predictions()
            test_metrics = classification_metrics(logits, labels, self.n_classes)
        return TrialResult(
            best_epoch=self.best_epoch,
            val_metrics=val_metrics,
            test_metrics=test_metrics,
            total_params=self.sizes.total,
            trainable_params=self.sizes.trainable,
            epoch_times=[h["epoch_time"] for h in self.history],
            history=self.history,
            stopped_by=self.stopped_by or "callback",
        )


def run_trial(
    config: TrialConfig,
    dataset: EEGDataset | None = None,
    on_epoch: EpochCallback | None = None,
    evaluate_test: bool = False,
    checkpoint_path: Path | None = None,
) -> TrialResult:
    """Train ``config`` on ``dataset`` (default: ``config.data``) and return its result.

    With ``checkpoint_path``, the trial's state is saved there after every epoch, and a trial
    finding a checkpoint there resumes from it exactly.
    """
    return train(config, dataset, on_epoch, evaluate_test, checkpoint_path)[1]


def train(
    config: TrialConfig,
    dataset: EEGDataset | None = None,
    on_epoch: EpochCallback | None = None,
    evaluate_test: bool = False,
    checkpoint_path: Path | None = None,
) -> tuple[DownstreamWrapperModel, TrialResult]:
    """``run_trial`` that also returns the model, with the weights of its best epoch."""
    runner = TrialRunner(config, dataset)
    if evaluate_test:
        runner.require_test_split()  # before training, not after
    if checkpoint_path is not None and Path(checkpoint_path).exists():
        runner.load(Path(checkpoint_path))
    while not runner.done:
        report = runner.step()
        if checkpoint_path is not None:
            runner.save(Path(checkpoint_path))
        if on_epoch is not None and on_epoch(report):
            break
    return runner.model, runner.finish(evaluate_test)
