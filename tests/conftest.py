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
