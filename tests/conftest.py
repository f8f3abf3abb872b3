import pytest
import torch

from probe_core.montage import CHANNELS_1020


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def chs_info() -> list[dict]:
    import mne

    info = mne.create_info(CHANNELS_1020, 200.0, "eeg")
    info.set_montage(mne.channels.make_standard_montage("colin27_1020"))
    return info["chs"]


@pytest.fixture(scope="session")
def small_data():
    """Two synthetic subjects, 2 classes, 19 channels × 256 samples at 128 Hz."""
    from probe_core.synthetic import SyntheticData

    return SyntheticData(subjects=[0, 1], trials_per_class=16).build()


@pytest.fixture(scope="session")
def patch_data():
    """Like ``small_data`` with 400 samples at 200 Hz: patch-based foundation models fit it."""
    from probe_core.synthetic import SyntheticData

    return SyntheticData(subjects=[0, 1], trials_per_class=12, sfreq=200.0).build()


@pytest.fixture(scope="session")
def pretrained_shallow(tmp_path_factory):
    """ShallowFBCSPNet pretrained on four synthetic subjects (the source task is learnt): a
    backbone whose probes work on other subjects of the same population."""
    from probe_core.pretraining import PretrainConfig, pretrain
    from probe_core.synthetic import SyntheticData

    path = tmp_path_factory.mktemp("pretrained") / "shallow.safetensors"
    config = PretrainConfig(
        backbone={"name": "ShallowFBCSPNet"},
        data=SyntheticData(subjects=[0, 1, 2, 3], trials_per_class=40),
        output=path,
        training={"max_epochs": 8},
        optimizer={"lr": 3e-3},
    )
    result = pretrain(config)
    assert result.val_metrics["balanced_accuracy"] > 0.9  # the source task is learnt
    return path


@pytest.fixture(scope="session")
def ray_cluster():
    """A real two-node Ray cluster on this machine, shared by every test that needs Ray.

    The head and the worker have 2 CPUs each, the worker 2 logical GPUs too (no CUDA: trials
    fall back to the CPU). Tests reach it through its address, as a user reaches a cluster.
    """
    import ray
    from ray.cluster_utils import Cluster

    ray.shutdown()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 2, "include_dashboard": False},
    )
    cluster.add_node(num_cpus=2, num_gpus=2)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture(scope="session")
def finished_sweep(ray_cluster, tmp_path_factory, pretrained_shallow):
    """An 8-trial ASHA sweep run one trial at a time (a deterministic order, so the pruning
    is too), with the finalists' evaluation (the recommended one's also at other learning rates),
    through the CLI and the cluster's address: a pretrained backbone adapted to new subjects
    of its population, which it can learn. The sweep tests read it; the browser test opens it."""
    from sweep_helpers import small_spec

    from sweeps.cli import main

    tmp = tmp_path_factory.mktemp("sweep")
    spec = small_spec(
        tmp,
        "main",
        data={"kind": "synthetic", "subjects": [20, 21], "trials_per_class": 24},
        trial={
            "backbone": {"name": "ShallowFBCSPNet", "checkpoint": str(pretrained_shallow)},
            "split": {"val_fraction": 0.25, "test_fraction": 0.25},
            "training": {"max_epochs": 4, "batch_size": 8},
            "optimizer": {"lr": 0.003},
        },
        num_samples=8,
        max_concurrent=1,
        scheduler={"kind": "asha", "grace_period": 1, "reduction_factor": 2},
        confirmation={"seeds": 1, "folds": 3, "learning_rate_factors": [0.1, 3]},
        tracking={"register_model": "probe-sweep-test"},
        checkpoints={"every_epochs": 2},
    )
    path = tmp / "spec.yaml"
    path.write_text(spec.to_yaml())
    code = main(["run", str(path), "--address", ray_cluster.address])
    assert code == 0
    return spec, tmp / "sweeps" / "main"
