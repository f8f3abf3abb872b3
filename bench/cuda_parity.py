"""The CUDA path against the CPU path: same trials, same seeds, bf16 autocast on the GPU.

For each model and strategy, one trial runs on the CPU (fp32) and one on CUDA (bf16 autocast,
the split copied to the GPU once, batches gathered there). Printed: the test balanced accuracy
of both and the median time per epoch. Target: the GPU's accuracy within 0.05 of the CPU's
(bf16 rounds, so the runs are not bit-identical). Needs a CUDA GPU.

    python bench/cuda_parity.py
"""

import statistics
import warnings

import torch

from probe_core.synthetic import SyntheticData
from probe_core.training import run_trial
from probe_core.trial_config import TrialConfig

warnings.filterwarnings("ignore")
CASES = [
    ("EEGNet", "full_finetune"),
    ("ShallowFBCSPNet", "full_finetune"),
    ("BIOT", "full_finetune"),
    ("BIOT", "lora"),
]


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("cuda_parity: no CUDA device")
    data = SyntheticData(subjects=[0, 1, 2, 3], trials_per_class=60).build()
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}; {len(data.y)} examples")
    worst = 0.0
    for backbone, strategy in CASES:
        scores, times = {}, {}
        for device in ("cpu", "cuda"):
            config = TrialConfig.model_validate(
                {
                    "backbone": {"name": backbone},
                    "strategy": {"kind": strategy},
                    "training": {"max_epochs": 8, "batch_size": 32, "device": device},
                    "optimizer": {"lr": 0.003},
                }
            )
            result = run_trial(config, data, evaluate_test=True)
            scores[device] = result.test_metrics["balanced_accuracy"]
            times[device] = statistics.median(result.epoch_times)
        gap = abs(scores["cuda"] - scores["cpu"])
        worst = max(worst, gap)
        print(
            f"{backbone:16s} {strategy:14s} test bal. acc. CPU {scores['cpu']:.3f}, "
            f"CUDA {scores['cuda']:.3f} (gap {gap:.3f}); epoch CPU {times['cpu']:.2f} s, "
            f"CUDA {times['cuda']:.2f} s"
        )
    print(f"largest gap {worst:.3f} (target <= 0.05): {'PASS' if worst <= 0.05 else 'FAIL'}")


if __name__ == "__main__":
    main()
