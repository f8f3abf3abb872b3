"""Run one trial: build the wrapped model, train it epoch by epoch, evaluate, checkpoint.

Plain PyTorch: the data sits in memory as tensors and batches are index selections, so the loop
adds almost nothing to the model's own forward and backward (see bench/trial_throughput.py).
"""

import copy
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from probe_core.channel_merger import ChannelMerger
from probe_core.dataset import EEGDataset
from probe_core.introspection import BackboneFacts, inspect_backbone, parameter_summary
from probe_core.metrics import classification_metrics, is_better
from probe_core.splits import Splits
from probe_core.trial_config import TrialConfig
from probe_core.wrapper import DownstreamWrapperModel, accepted_keywords


class TrialDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class EpochReport:
    """What a trial reports after each epoch (a sweep forwards it to its scheduler)."""

    epoch: int  # 1-based: the number of epochs done
    metrics: dict[str, float]  # train_loss, val_<metric> for each metric, lr, train/epoch_time
    best_epoch: int
    best_value: float
    checkpoint_path: Path | None


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


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("training.device: 'cuda' requested but CUDA is not available")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def model_inputs(config: TrialConfig, data: EEGDataset, device: torch.device) -> dict:
    """Keyword inputs besides the signal: what the adapter or the backbone may need."""
    extras: dict = {}
    if isinstance(config.wrapper.channel_adapter_config, ChannelMerger):
        positions = torch.from_numpy(data.normalised_positions()).to(device)
        extras["channel_positions"] = positions
    elif config.wrapper.channel_adapter_config is None:
        extras["ch_names"] = data.ch_names  # Labram-style models map channels by name
    return extras


def _batch_extras(extras: dict, subjects: torch.Tensor) -> dict:
    if "channel_positions" not in extras:
        return extras
    positions = extras["channel_positions"].expand(len(subjects), -1, -1)
    return {"channel_positions": positions, "subject_ids": subjects}


def example_batch(config: TrialConfig, data: EEGDataset, n: int = 8) -> dict:
    """A few examples as the wrapper is called: the signal ``x`` and the extra inputs."""
    n = min(len(data.y), n)
    extras = model_inputs(config, data, torch.device("cpu"))
    x = torch.from_numpy(np.ascontiguousarray(data.X[:n]))
    return {"x": x, **_batch_extras(extras, torch.from_numpy(data.subjects[:n]))}


def backbone_with_facts(
    config: TrialConfig, data: EEGDataset, pretrained: bool = True
) -> tuple[nn.Module, BackboneFacts]:
    """The backbone for ``data`` and its facts from a dry run (as the wrapper will call it)."""
    n_chans = config.wrapper.n_adapter_target_channels
    backbone = config.backbone.build(
        data, n_outputs=data.n_classes, n_chans=n_chans,
        pretrained=pretrained and config.strategy.uses_pretrained,
    )  # fmt: skip
    batch = example_batch(config, data)
    x = batch["x"] if n_chans is None else torch.zeros(len(batch["x"]), n_chans, data.n_times)
    accepted = accepted_keywords(backbone)
    names = {k: v for k, v in batch.items() if k == "ch_names"}
    names = {k: v for k, v in names.items() if accepted is None or k in accepted}
    return backbone, inspect_backbone(backbone, x, **names)


def build_model(
    config: TrialConfig, data: EEGDataset
) -> tuple[DownstreamWrapperModel, BackboneFacts]:
    """The wrapped, strategy-prepared model for ``data`` (on the CPU), and its backbone's facts."""
    backbone, facts = backbone_with_facts(config, data)
    wrapper = config.strategy.configure_wrapper(config.wrapper, facts)
    model = wrapper.build(backbone, example_batch(config, data), data.n_classes, data.ch_names)
    config.strategy.prepare(model, facts)
    return model, facts


class _Tensors:
    """One split as tensors on the training device (read-only numpy shared, not copied, on CPU)."""

    def __init__(self, data: EEGDataset, device: torch.device) -> None:
        with warnings.catch_warnings():  # arrays from Ray's object store are read-only
            warnings.simplefilter("ignore", UserWarning)
            self.X = torch.from_numpy(data.X).to(device)
            self.y = torch.from_numpy(data.y).to(device)
            self.subjects = torch.from_numpy(data.subjects).to(device)

    def __len__(self) -> int:
        return len(self.y)


def _param_groups(
    config: TrialConfig, model: DownstreamWrapperModel, facts: BackboneFacts
) -> list[dict]:
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
    model: nn.Module, split: _Tensors, extras: dict, batch_size: int, autocast: bool
) -> torch.Tensor:
    model.eval()
    logits = []
    for start in range(0, len(split), batch_size):
        index = slice(start, start + batch_size)
        with torch.autocast(split.X.device.type, torch.bfloat16, enabled=autocast):
            out = model(split.X[index], **_batch_extras(extras, split.subjects[index]))
        logits.append(out.float().cpu())
    return torch.cat(logits)


def evaluate(model, split: _Tensors, extras, config: TrialConfig, n_classes, autocast) -> dict:
    logits = predict(model, split, extras, config.training.eval_batch_size, autocast)
    return classification_metrics(logits, split.y.cpu(), n_classes)


def _save_atomically(state: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def run_trial(
    config: TrialConfig,
    dataset: EEGDataset | None = None,
    on_epoch: EpochCallback | None = None,
    evaluate_test: bool = False,
    checkpoint_path: Path | None = None,
) -> TrialResult:
    """Train ``config`` on ``dataset`` (default: ``config.data``) and return its result.

    With ``checkpoint_path``, the model, optimiser, scheduler, RNG state and history are saved
    there after every epoch, and a trial finding a checkpoint there resumes from it exactly.
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
    if dataset is None:
        if config.data is None:
            raise ValueError("trial config has no data section and no dataset was given")
        dataset = config.data.build()
    splits: Splits = config.split.split(dataset)
    if evaluate_test and splits.test is None:
        raise ValueError("split: no test split (test_fraction is 0 and no test_subjects)")
    device = resolve_device(config.training.device)
    autocast = device.type == "cuda" and config.training.precision != "fp32"
    seed_everything(config.seed)
    model, facts = build_model(config, dataset)
    model = model.to(device)
    sizes = parameter_summary(model)
    train_split, val_split = _Tensors(splits.train, device), _Tensors(splits.val, device)
    extras = model_inputs(config, dataset, device)
    n_classes = dataset.n_classes
    batch_size = min(config.training.batch_size, len(train_split))
    steps_per_epoch = max(len(train_split) // batch_size, 1)  # the last partial batch is dropped
    optimizer = torch.optim.AdamW(_param_groups(config, model, facts), betas=config.optimizer.betas)
    scheduler = _scheduler(config, optimizer, steps_per_epoch)
    weights = None
    if config.training.class_weights:
        counts = torch.bincount(train_split.y, minlength=n_classes).float()
        weights = (counts.sum() / (n_classes * counts.clamp(min=1))).to(device)
    metric = config.training.metric
    state = {"epoch": 0, "history": [], "best_epoch": 0, "best_value": None, "best_model": None}
    if checkpoint_path is not None and Path(checkpoint_path).exists():
        saved = torch.load(checkpoint_path, map_location=device, weights_only=True)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["rng"])
        state = saved["state"]
    stopped_by = "max_epochs"
    for epoch in range(state["epoch"], config.training.max_epochs):
        start = time.perf_counter()
        config.strategy.on_epoch_start(model, epoch)
        model.train()
        if not any(p.requires_grad for p in model.wrapped_model.parameters()):
            model.wrapped_model.eval()  # a frozen backbone: no dropout, fixed norm statistics
        order = torch.randperm(
            len(train_split), generator=torch.Generator().manual_seed(config.seed * 100_003 + epoch)
        ).to(device)
        total_loss = 0.0
        for step in range(steps_per_epoch):
            index = order[step * batch_size : (step + 1) * batch_size]
            with torch.autocast(device.type, torch.bfloat16, enabled=autocast):
                logits = model(
                    train_split.X[index], **_batch_extras(extras, train_split.subjects[index])
                )
                loss = nn.functional.cross_entropy(logits.float(), train_split.y[index], weights)
            if not torch.isfinite(loss):
                raise TrialDiverged(f"training loss is {loss.item()} at epoch {epoch + 1}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.training.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), config.training.grad_clip)
            optimizer.step()
            scheduler.step()
            total_loss += loss.item()
        train_time = time.perf_counter() - start
        val = evaluate(model, val_split, extras, config, n_classes, autocast)
        epoch_time = time.perf_counter() - start
        metrics = {
            "train_loss": total_loss / steps_per_epoch,
            **{f"val_{k}": v for k, v in val.items()},
            "lr": optimizer.param_groups[0]["lr"],
            "train_time": train_time,
            "epoch_time": epoch_time,
        }
        state["history"].append(metrics)
        state["epoch"] = epoch + 1
        if is_better(metric, val[metric], state["best_value"]):
            state["best_value"], state["best_epoch"] = val[metric], epoch + 1
            state["best_model"] = copy.deepcopy(model.state_dict())
        if checkpoint_path is not None:
            _save_atomically(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "rng": torch.get_rng_state(),
                    "state": state,
                },
                Path(checkpoint_path),
            )
        report = EpochReport(
            epoch=epoch + 1,
            metrics=metrics,
            best_epoch=state["best_epoch"],
            best_value=state["best_value"] if state["best_value"] is not None else float("nan"),
            checkpoint_path=checkpoint_path,
        )
        if on_epoch is not None and on_epoch(report):
            stopped_by = "callback"
            break
        patience = config.training.patience
        if patience is not None and epoch + 1 - state["best_epoch"] >= patience:
            stopped_by = "patience"
            break
    if state["best_model"] is not None:
        model.load_state_dict(state["best_model"])
    best_index = max(state["best_epoch"] - 1, 0)
    val_metrics = {
        k.removeprefix("val_"): v for k, v in state["history"][best_index].items()
        if k.startswith("val_")
    }  # fmt: skip
    test_metrics = None
    if evaluate_test:
        test_split = _Tensors(splits.test, device)
        test_metrics = evaluate(model, test_split, extras, config, n_classes, autocast)
    result = TrialResult(
        best_epoch=state["best_epoch"],
        val_metrics=val_metrics,
        test_metrics=test_metrics,
        total_params=sizes.total,
        trainable_params=sizes.trainable,
        epoch_times=[h["epoch_time"] for h in state["history"]],
        history=state["history"],
        stopped_by=stopped_by,
    )
    return model, result
