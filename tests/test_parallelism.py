"""How many trials at once, with how many threads each: the options, the choice, the measurement
on a real model, and what a sweep spec's ``resources.cpus: auto`` becomes."""

import math

import pytest
import torch
from sweep_helpers import said, small_spec

from probe_core import SyntheticData, TrialConfig
from probe_core.parallelism import Option, choose, measure_parallelism, options
from sweeps import cpu_plan
from sweeps.cpu_plan import plan_cpus
from sweeps.runtime import connect


def test_options_cover_powers_of_two_and_all_cpus_with_trials_capped() -> None:
    assert options(2, 16) == [Option(2, 1), Option(1, 2)]
    assert options(6, 16) == [Option(6, 1), Option(3, 2), Option(1, 4), Option(1, 6)]
    assert options(8, 2) == [Option(2, 1), Option(2, 2), Option(2, 4), Option(1, 8)]
    assert options(1, 4) == [Option(1, 1)]


@pytest.mark.parametrize(
    ("measured", "expected"),
    [
        # one trial with both threads is clearly faster: the loop's way wins
        ([Option(2, 1, 100.0), Option(1, 2, 150.0)], Option(1, 2, 150.0)),
        # within 10 %: more trials at once (the measurement is a little unfair to them)
        ([Option(2, 1, 100.0), Option(1, 2, 105.0)], Option(2, 1, 100.0)),
        # as many trials either way: the faster
        ([Option(1, 1, 100.0), Option(1, 2, 105.0)], Option(1, 2, 105.0)),
        ([Option(4, 1, 90.0), Option(2, 2, 200.0), Option(1, 4, 210.0)], Option(2, 2, 200.0)),
    ],
)
def test_the_choice_follows_the_measurement(measured, expected) -> None:
    assert choose(measured).chosen == expected


def test_measuring_a_real_model_leaves_torch_as_it_was() -> None:
    data = SyntheticData(subjects=[0, 1], trials_per_class=16).build()
    config = TrialConfig.model_validate(
        {"backbone": {"name": "EEGNet"}, "training": {"batch_size": 8}}
    )
    threads = torch.get_num_threads()
    measured = measure_parallelism(config, data, cpus=2, max_trials=4, window_s=0.1)
    assert torch.get_num_threads() == threads
    assert [(o.trials, o.threads) for o in measured.measured] == [(2, 1), (1, 2)]
    assert all(math.isfinite(o.rate) and o.rate > 0 for o in measured.measured)
    assert measured.describe().startswith(f"{measured.chosen} at a time (")


def test_auto_cpus_are_measured_locally_and_kept(tmp_path, monkeypatch) -> None:
    # a local runtime, also when an earlier test left this process on the shared cluster
    monkeypatch.setattr(cpu_plan, "on_cluster", lambda address: False)
    data = SyntheticData(subjects=[0, 1], trials_per_class=16).build()
    with said("sweeps.cpu_plan") as lines:
        _plans(tmp_path, data, monkeypatch, lines)


def _plans(tmp_path, data, monkeypatch, said: list[str]) -> None:
    local = plan_cpus(small_spec(tmp_path, "local"), data)
    possible = {float(option.threads) for option in options(cpu_plan.local_cpus(), 2)}
    assert local.resources.cpus in possible and "training examples/s" in said[-1]
    assert "measured earlier" not in said[-1]
    # the next sweep of the same model on the same machine uses the measurement kept
    again = plan_cpus(small_spec(tmp_path, "again"), data)
    assert again.resources == local.resources and said[-1].startswith(said[-2])
    assert f"measured earlier: delete {tmp_path / 'sweeps' / 'parallelism.json'}" in said[-1]
    other = small_spec(tmp_path, "other", trial={"training": {"max_epochs": 4, "batch_size": 4}})
    plan_cpus(other, data)
    assert "measured earlier" not in said[-1]  # another batch size is another case
    (tmp_path / "sweeps" / "parallelism.json").write_text("{not json")
    plan_cpus(small_spec(tmp_path, "unreadable"), data)
    assert "measured earlier" not in said[-1]
    # one CPU: nothing to choose, nothing measured
    monkeypatch.setattr(cpu_plan, "local_cpus", lambda: 1)
    single = plan_cpus(small_spec(tmp_path / "one", "single"), data)
    assert single.resources.cpus == 1.0 and "this machine has 1 CPU" in said[-1]
    assert not (tmp_path / "one" / "sweeps" / "parallelism.json").exists()


def test_auto_cpus_are_one_on_a_cluster_or_with_gpus(ray_cluster, tmp_path) -> None:
    data = SyntheticData(subjects=[0, 1], trials_per_class=16).build()
    connect(ray_cluster.address)  # a driver already connected counts as well as an address
    with said("sweeps.cpu_plan") as lines:
        for remote in (
            small_spec(tmp_path, "joined"),
            small_spec(tmp_path, "remote", ray_address="127.0.0.1:6379"),
            small_spec(tmp_path, "gpu", resources={"gpus": 0.5}),
        ):
            assert plan_cpus(remote, data).resources.cpus == 1.0
            assert lines[-1].startswith("resources.cpus auto: 1 CPU per trial")
    assert lines[0].startswith("resources.cpus auto: 1 CPU per trial on a cluster")
    fixed = small_spec(tmp_path, "fixed", resources={"cpus": 2})
    assert plan_cpus(fixed, data) is fixed
