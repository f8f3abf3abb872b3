"""Training throughput of probe_core's loop against a minimal hand-written PyTorch loop.

Target (issue 3): ours reaches at least 0.95 of the hand-written loop's training samples/s, on
the same model, the same batches and the same optimiser (EEGNet and ShallowFBCSPNet, CPU).
Only the training part of each epoch is timed on both sides (ours reports it as
``train_time``); the rounds alternate so that machine noise hits both alike.

    .venv/bin/python bench/trial_throughput.py [--rounds 5] [--epochs 3]
"""

import argparse
import statistics
import time
import warnings

import torch
from torch import nn

from probe_core.synthetic import SyntheticData
from probe_core.training import build_model, run_trial, seed_everything
from probe_core.trial_config import TrialConfig

warnings.filterwarnings("ignore")


def hand_written_loop(config: TrialConfig, data, epochs: int) -> float:
    """Samples/s of the plainest loop: shuffle, slice, forward, loss, backward, clip, step."""
    seed_everything(config.seed)
    model, _ = build_model(config, data)
    splits = config.split.split(data)
    X, y = torch.from_numpy(data.X[splits.train]), torch.from_numpy(data.y[splits.train])
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
        order = torch.randperm(len(y))
        for step in range(steps):
            index = order[step * batch : (step + 1) * batch]
            loss = nn.functional.cross_entropy(model(X[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
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
    args = parser.parse_args()
    data = SyntheticData(subjects=[0, 1, 2, 3], trials_per_class=80).build()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; "
        f"{len(data.y)} epochs of {data.n_chans}x{data.n_times}"
    )
    worst = float("inf")
    for name in ("EEGNet", "ShallowFBCSPNet"):
        config = TrialConfig.model_validate(
            {
                "backbone": {"name": name},
                "strategy": {"kind": "full_finetune"},
                "training": {"max_epochs": args.epochs, "batch_size": 64},
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
