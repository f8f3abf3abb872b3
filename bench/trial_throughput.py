"""Training throughput of probe_core's loop against a minimal hand-written PyTorch loop.

Target (issue 3): ours reaches at least 0.95 of the hand-written loop's training samples/s, on
the same model, the same batches and the same optimiser. Only the training part of each epoch
is timed on both sides (ours reports it as ``train_time``); the rounds alternate so that machine
noise hits both alike. On CUDA both sides keep the data on the GPU and train under bf16
autocast, as ours does by default there.

    .venv/bin/python bench/trial_throughput.py [--rounds 5] [--epochs 3] [--device auto]
        [--models EEGNet ShallowFBCSPNet] [--batch-size 64]
"""

import argparse
import statistics
import time
import warnings

import torch
from torch import nn

from probe_core.assembly import build_model
from probe_core.synthetic import SyntheticData
from probe_core.training import resolve_device, run_trial, seed_everything
from probe_core.trial_config import TrialConfig

warnings.filterwarnings("ignore")


def hand_written_loop(config: TrialConfig, data, epochs: int) -> float:
    """Samples/s of the plainest loop: shuffle, slice, forward, loss, backward, clip, step."""
    seed_everything(config.seed)
    device = resolve_device(config.training.device)
    model, _ = build_model(config, data)
    model.to(device)
    splits = config.split.split(data)
    X = torch.from_numpy(data.X[splits.train]).to(device)
    y = torch.from_numpy(data.y[splits.train]).to(device)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.optimizer.lr,
        weight_decay=config.optimizer.weight_decay,
    )
    batch = config.training.batch_size
    steps = len(y) // batch
    model.train()
    seconds = 0.0
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(y), device=device)
        for step in range(steps):
            index = order[step * batch : (step + 1) * batch]
            with torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
                logits = model(X[index])
            loss = nn.functional.cross_entropy(logits.float(), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds += time.perf_counter() - start
    return steps * batch * epochs / seconds


def our_loop(config: TrialConfig, data, epochs: int) -> float:
    result = run_trial(config, data)
    steps = len(config.split.split(data).train) // config.training.batch_size
    return (
        steps * config.training.batch_size * epochs / sum(h["train_time"] for h in result.history)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--models", nargs="+", default=["EEGNet", "ShallowFBCSPNet"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--trials-per-class", type=int, default=80)
    args = parser.parse_args()
    data = SyntheticData(subjects=[0, 1, 2, 3], trials_per_class=args.trials_per_class).build()
    device = resolve_device(args.device)
    where = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {where}; "
        f"{len(data.y)} epochs of {data.n_chans}x{data.n_times}, batch {args.batch_size}"
    )
    worst = float("inf")
    for name in args.models:
        config = TrialConfig.model_validate(
            {
                "backbone": {"name": name},
                "strategy": {"kind": "full_finetune"},
                "training": {
                    "max_epochs": args.epochs,
                    "batch_size": args.batch_size,
                    "device": args.device,
                },
                "schedule": {"kind": "constant"},
            }
        )
        hand_written_loop(config, data, 1)  # warm-up
        ratios, ours_rates, hand_rates = [], [], []
        for round_ in range(args.rounds):
            if round_ % 2:  # alternate which side runs first
                ours = our_loop(config, data, args.epochs)
                hand = hand_written_loop(config, data, args.epochs)
            else:
                hand = hand_written_loop(config, data, args.epochs)
                ours = our_loop(config, data, args.epochs)
            ratios.append(ours / hand)
            ours_rates.append(ours)
            hand_rates.append(hand)
        ratio = statistics.median(ratios)
        worst = min(worst, ratio)
        print(
            f"{name:16s} ours {statistics.median(ours_rates):7.1f} samples/s, hand-written "
            f"{statistics.median(hand_rates):7.1f} samples/s, ratio {ratio:.3f}"
        )
    print(f"worst ratio {worst:.3f} (target >= 0.95): {'PASS' if worst >= 0.95 else 'FAIL'}")


if __name__ == "__main__":
    main()
