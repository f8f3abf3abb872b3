"""Forward+backward time of a DownstreamWrapperModel against the bare backbone plus the same probe.

Target (issue 2): the wrapper costs at most 3 % extra. Both variants run the same modules on the
same batch, interleaved, so machine noise hits both alike; the median ratio is reported.

    .venv/bin/python bench/wrapper_overhead.py [--repeats 30]
"""

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import torch
from braindecode import models
from torch import nn

from probe_core import DownstreamWrapper

warnings.filterwarnings("ignore")
BATCH = 64


def _step_time(step: Callable[[], torch.Tensor]) -> float:
    start = time.perf_counter()
    step().square().mean().backward()
    return time.perf_counter() - start


def compare(name: str, backbone: nn.Module, wrapper: DownstreamWrapper, bare_features, x, repeats):
    wrapped = wrapper.build(backbone, {"x": x}, n_outputs=4)
    probe = wrapped.probe  # the bare path reuses the very same probe module

    def bare() -> torch.Tensor:
        return probe(bare_features(backbone, x))

    def with_wrapper() -> torch.Tensor:
        return wrapped(x)

    wrapped.eval()  # no dropout: both variants must compute the same
    assert torch.allclose(bare(), with_wrapper(), atol=1e-5), "variants differ"
    wrapped.train()
    for _ in range(3):  # warm-up
        _step_time(bare), _step_time(with_wrapper)
    ratios, bare_times = [], []
    for _ in range(repeats):
        t_bare, t_wrapped = _step_time(bare), _step_time(with_wrapper)
        t_wrapped2, t_bare2 = _step_time(with_wrapper), _step_time(bare)  # alternate the order
        ratios.append((t_wrapped + t_wrapped2) / (t_bare + t_bare2))
        bare_times.append((t_bare + t_bare2) / 2)
    ratio = statistics.median(ratios)
    print(
        f"{name:8s} batch {BATCH}: bare {statistics.median(bare_times) * 1e3:7.1f} ms/step, "
        f"wrapper/bare = {ratio:.4f} ({(ratio - 1) * 100:+.2f} %)"
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")

    x = torch.randn(BATCH, 22, 512)
    eegnet = models.EEGNet(n_chans=22, n_outputs=16, n_times=512)
    ratios = [
        compare(
            "EEGNet",
            eegnet,
            DownstreamWrapper(aggregation="flatten"),
            lambda model, batch: model(batch).flatten(1),
            x,
            args.repeats,
        )
    ]
    x = torch.randn(BATCH, 18, 400)
    biot = models.BIOT(n_chans=18, n_outputs=4, n_times=400, sfreq=200.0, num_layers=2)
    ratios.append(
        compare(
            "BIOT",
            biot,
            DownstreamWrapper(probe_layer="encoder", aggregation="flatten"),
            lambda model, batch: model.encoder(batch),
            x,
            args.repeats,
        )
    )
    worst = max(ratios)
    print(
        f"worst overhead {(worst - 1) * 100:+.2f} % (target <= +3 %): "
        f"{'PASS' if worst <= 1.03 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
