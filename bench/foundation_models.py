"""Foundation models at their published sizes, on data fitted to them (issue 24): per model and
freeze strategy, the trainable parameters and the training throughput (forward, backward and
an optimiser step on batches of 16), on the shapes of two real sets: 19 channels at 128 Hz
(2 s) and the SSVEP set's 8 occipital channels at 256 Hz (3 s). Writes a table to stdout and,
with ``--out``, a Markdown file.

    python bench/foundation_models.py [--steps 10] [--out docs/FOUNDATION_MODELS_BENCH.md]
"""

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import torch
from common import machine

from probe_core import ConfigError, EEGDataset, SyntheticData, TrialConfig
from probe_core.assembly import build_model
from probe_core.backbone_fitting import fit_to_backbone
from probe_core.backbones import BackboneConfig
from probe_core.introspection import parameter_summary

warnings.filterwarnings("ignore")
MODELS = ["Labram", "CBraMod", "LUNA", "EEGPT", "BIOT", "EEGDINO", "BENDR", "REVE", "SignalJEPA"]
STRATEGIES = ["linear_probe", "lora", "attention_only", "full_finetune"]
SSVEP_CHANNELS = ["Oz", "O1", "O2", "PO3", "POz", "PO7", "PO8", "PO4"]
SHAPES = {
    "19 ch, 128 Hz, 2 s": {"sfreq": 128.0, "duration": 2.0},
    "8 ch, 256 Hz, 3 s": {"sfreq": 256.0, "duration": 3.0, "channels": SSVEP_CHANNELS},
}


def reve_bank(folder: Path) -> Path:
    """REVE's position bank, written from MNE's montage (the published one is downloaded)."""
    import mne

    positions = mne.channels.make_standard_montage("colin27_1005").get_positions()["ch_pos"]
    bank = folder / "positions.json"
    bank.write_text(json.dumps({name: [float(v) for v in p] for name, p in positions.items()}))
    return bank


def examples_per_second(model: torch.nn.Module, data: EEGDataset, steps: int) -> float:
    """Batches of 16 (with the channel names, as the training loop passes them): forward,
    loss, backward, AdamW step; the first step is not timed."""
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    x, target = torch.from_numpy(data.X[:16]), torch.from_numpy(data.y[:16]).long()
    model.train()
    start = 0.0
    for step in range(steps + 1):
        if step == 1:
            start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x, ch_names=data.ch_names), target)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return 16 * steps / (time.perf_counter() - start)


def measure(name: str, shape: dict, files: dict, steps: int) -> list[dict]:
    data = SyntheticData(subjects=[0], trials_per_class=8, **shape).build()
    fitted = fit_to_backbone(data, BackboneConfig(name=name))
    rows = []
    for strategy in STRATEGIES:
        config = TrialConfig.model_validate(
            {
                "backbone": {"name": name, "files": files.get(name, {})},
                "strategy": {"kind": strategy},
            }
        )
        try:
            model, _ = build_model(config, fitted)
        except ConfigError as error:
            rows.append({"model": name, "strategy": strategy, "refused": str(error)})
            continue
        summary = parameter_summary(model)
        rows.append(
            {
                "model": name,
                "strategy": strategy,
                "input": f"{fitted.n_chans} × {fitted.n_times} at {fitted.sfreq:g} Hz",
                "total": summary.total,
                "trainable": summary.trainable,
                "per_second": examples_per_second(model, fitted, steps),
            }
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = [
        f"Written by `bench/foundation_models.py` (`--steps {args.steps}`) on {machine()}, "
        f"{time.strftime('%Y-%m-%d')}, {torch.get_num_threads()} threads, CPU. Published sizes "
        "(braindecode's defaults), random weights; the data fitted to each model first.",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        files = {"REVE": {"positions": str(reve_bank(Path(tmp)))}}
        for label, shape in SHAPES.items():
            lines += [
                "",
                f"### {label}",
                "",
                "| model | fitted input | strategy | trainable / total parameters | "
                "training examples/s |",
                "| --- | --- | --- | --- | --- |",
            ]
            for name in args.models:
                for row in measure(name, shape, files, args.steps):
                    if "refused" in row:
                        lines.append(f"| {name} | – | {row['strategy']} | {row['refused']} | – |")
                        continue
                    lines.append(
                        f"| {name} | {row['input']} | {row['strategy']} | "
                        f"{row['trainable']:,} / {row['total']:,} | {row['per_second']:.1f} |"
                    )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
