"""Every model of braindecode's registry as a backbone (issue 24), at its published size, on the
shapes of two real sets after fitting (19 channels at 128 Hz, 2 s; the SSVEP set's 8 occipital
channels at 256 Hz, 3 s): built, trained one step (full fine-tune), saved and loaded into a
freshly built model that must give the same outputs; or refused in one line. Counts what runs,
what is refused and why, and any traceback (the target: none). Writes a Markdown table with
``--out``.

    python bench/registry.py [--out docs/REGISTRY.md]
"""

import argparse
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import torch
from common import machine
from foundation_models import SHAPES, reve_bank

from probe_core import ConfigError, EEGDataset, SyntheticData, TrialConfig
from probe_core.assembly import build_model
from probe_core.backbone_fitting import fit_to_backbone
from probe_core.backbones import BackboneConfig, model_names, save_state_dict

warnings.filterwarnings("ignore")


def one_step_and_reload(config: TrialConfig, data: EEGDataset, folder: Path) -> str:
    """Train one step, save, rebuild and load: "runs" when the reloaded model agrees."""
    model, _ = build_model(config, data)
    x, y = torch.from_numpy(data.X[:4]), torch.from_numpy(data.y[:4]).long()
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    loss = torch.nn.functional.cross_entropy(model(x, ch_names=data.ch_names), y)
    loss.backward()
    optimiser.step()
    if not torch.isfinite(loss):
        return "loss not finite"
    save_state_dict(model, folder / "trained.safetensors")
    reloaded, _ = build_model(config, data)
    reloaded.load_state_dict(model.state_dict())
    model.eval(), reloaded.eval()
    with torch.no_grad():
        same = torch.allclose(model(x, ch_names=data.ch_names), reloaded(x, ch_names=data.ch_names))
    return "runs" if same else "reloaded model differs"


def outcome(name: str, shape: dict, folder: Path) -> str:
    data = SyntheticData(subjects=[0], trials_per_class=4, **shape).build()
    files = {"positions": str(reve_bank(folder))} if name == "REVE" else {}
    kwargs = {"chan_pos_idx": list(range(data.n_chans))} if name == "STEEGFormer" else {}
    backbone = {"name": name, "files": files, "kwargs": kwargs}  # STEEGFormer: no hub lookup
    try:
        fitted = fit_to_backbone(data, BackboneConfig.model_validate(backbone))
        config = TrialConfig.model_validate(
            {"backbone": backbone, "strategy": {"kind": "full_finetune"}}
        )
        return one_step_and_reload(config, fitted, folder)
    except ConfigError as error:
        return f"refused: {error}"
    except Exception:  # noqa: BLE001 - what the bench counts
        return "TRACEBACK: " + traceback.format_exc().strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    names = model_names()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            row = [name]
            for shape in SHAPES.values():
                start = time.perf_counter()
                row.append(outcome(name, shape, Path(tmp)))
                print(f"{name}: {row[-1][:150]} ({time.perf_counter() - start:.1f} s)", flush=True)
            rows.append(row)
    labels = list(SHAPES)
    lines = [
        f"Written by `bench/registry.py` on {machine()}, {time.strftime('%Y-%m-%d %H:%M')} UTC, "
        "CPU, offline (REVE given a local position bank). Each model at braindecode's default "
        "size, random weights, the data fitted to it; full fine-tune: one step, then saved and "
        "loaded into a fresh build that must give the same outputs.",
        "",
    ]
    for column, label in enumerate(labels, start=1):
        runs = sum(row[column] == "runs" for row in rows)
        crashes = sum(row[column].startswith("TRACEBACK") for row in rows)
        base = [row for row in rows if not row[0].startswith("Interpolated")]
        lines.append(
            f"- **{label}**: {runs} of {len(rows)} entries run "
            f"({sum(row[column] == 'runs' for row in base)} of {len(base)} models, the rest "
            f"`Interpolated` twins); {crashes} tracebacks."
        )
    lines += ["", f"| model | {' | '.join(labels)} |", "| --- |" + " --- |" * len(labels)]
    lines += [
        "| " + " | ".join(cell.replace("|", "/").replace("\n", " ") for cell in row) + " |"
        for row in rows
    ]
    print("\n".join(lines))
    if args.out:
        args.out.write_text("# The registry as backbones\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
