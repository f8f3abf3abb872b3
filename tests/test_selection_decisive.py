"""The selection benchmark's test of a decisive task: a lead over another family's best that
is large and consistent over the seeds, not a tie or noise; and the task set's conditions."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.selection.decisive import criteria, text, verdict  # noqa: E402  (not installed)
from bench.selection.ground_truth import DEFAULT_OUT, tuned_runs  # noqa: E402

SELECTION = Path(__file__).resolve().parents[1] / "docs" / "SELECTION.md"
MORE_SEEDS = DEFAULT_OUT.with_name("ground_truth_more_seeds.json")  # the power check

STRATEGIES = ["linear_probe", "lora", "full_finetune", "from_scratch"]


def runs(task: str, means: dict[str, float], noise: list[float], lr: float = 1e-3) -> list[dict]:
    """Five seeds per strategy at one learning rate (and a worse one beside it), each seed's
    test score its strategy's mean plus that seed's ``noise``."""
    table = []
    for kind, mean in means.items():
        for seed, wobble in enumerate(noise):
            table.append({"task": task, "arm": kind, "lr": lr, "seed": seed, "val": mean,
                          "test": mean + wobble})  # fmt: skip
            table.append({"task": task, "arm": kind, "lr": lr * 10, "seed": seed,
                          "val": mean - 0.2, "test": 0.25})  # fmt: skip
    return table


NOISE = [0.01, -0.01, 0.0, 0.005, -0.005]


def test_a_consistent_lead_over_another_family_is_decisive() -> None:
    means = {"linear_probe": 0.70, "lora": 0.66, "full_finetune": 0.60, "from_scratch": 0.50}
    found = verdict(runs("t", means, NOISE), STRATEGIES)
    assert (found.winner, found.family, found.rival) == ("linear_probe", "probe", "lora")
    assert found.lead == 0.04 and found.p_value < 0.001 and found.decisive


def test_a_lead_within_noise_or_within_the_family_is_not_decisive() -> None:
    means = {"linear_probe": 0.70, "lora": 0.69, "full_finetune": 0.60, "from_scratch": 0.50}
    assert not verdict(runs("t", means, NOISE), STRATEGIES).decisive  # 1 point
    rival = {seed: 0.66 + wobble for seed, wobble in enumerate([0.08, -0.08, 0.0, 0.06, -0.06])}
    table = [
        {**r, "test": rival[r["seed"]]} if r["arm"] == "lora" and r["lr"] == 1e-3 else r
        for r in runs("t", {**means, "lora": 0.66}, [0.0] * 5)
    ]
    noisy = verdict(table, STRATEGIES)
    assert noisy.lead == 0.04 and noisy.p_value > 0.05 and not noisy.decisive
    assert noisy.low < 0.0 < noisy.lead < noisy.high  # the seeds cannot tell this lead from none
    # a lead over the same family does not count: the rival is the best of another family
    probes = ["linear_probe", "mlp_probe", "full_finetune"]
    means = {"linear_probe": 0.70, "mlp_probe": 0.60, "full_finetune": 0.69}
    assert verdict(runs("t", means, NOISE), probes).rival == "full_finetune"


def test_the_task_set_needs_decisive_tasks_winners_of_three_families_and_no_safe_default() -> None:
    winners = {
        "a": {"linear_probe": 0.70, "lora": 0.60, "full_finetune": 0.60, "from_scratch": 0.5},
        "b": {"linear_probe": 0.60, "lora": 0.70, "full_finetune": 0.60, "from_scratch": 0.5},
        "c": {"linear_probe": 0.50, "lora": 0.60, "full_finetune": 0.70, "from_scratch": 0.6},
    }
    table = {"tasks": {name: {"strategies": STRATEGIES} for name in winners}, "runs": []}
    for name, means in winners.items():
        table["runs"] += runs(name, means, NOISE)
    found = criteria(table)
    assert found["decisive"] == ["a", "b", "c"]
    assert found["winning_families"] == ["full adaptation", "parameter-efficient", "probe"]
    assert found["met"] == {
        "at least 6 decisive tasks": False,
        "winners span at least 3 families": True,
        "no fixed strategy near the best on more than half": True,
    }


def test_the_published_verdicts_are_those_of_the_stored_ground_truth() -> None:
    for table in (DEFAULT_OUT, MORE_SEEDS):
        assert text(criteria(json.loads(table.read_text()))) in SELECTION.read_text(), table.name


def test_seeds_added_at_one_learning_rate_do_not_change_which_rate_is_tuned() -> None:
    """The rate is chosen on the seeds every rate ran; the added seeds then count in its score
    and in the paired test: here they make decisive a 2-point lead that 5 seeds leave at p 0.054."""
    noise = [0.02, -0.02, 0.0, 0.015, -0.015]

    def seed_run(kind: str, lr: float, seed: int, val: float) -> dict:
        test = 0.70 if kind == "linear_probe" else 0.72 + noise[seed % 5]
        return {"task": "t", "arm": kind, "lr": lr, "seed": seed, "val": val, "test": test}

    kinds = ["linear_probe", "full_finetune"]
    table = [seed_run(kind, lr, seed, 0.8 - lr) for kind in kinds for lr in (1e-3, 1e-2)
             for seed in range(5)]  # fmt: skip
    assert verdict(table, kinds).p_value > 0.05
    table += [seed_run(kind, 1e-3, seed, 0.0) for kind in kinds for seed in range(5, 10)]
    table += [seed_run(kind, 1e-2, 10, 1.0) for kind in kinds]  # one lucky seed at another rate
    tuned = tuned_runs(table, "full_finetune")
    assert {r["lr"] for r in tuned} == {1e-3} and len(tuned) == 10
    found = verdict(table, kinds)
    assert found.seeds == 10 and found.lead == 0.02 and found.p_value < 0.01 and found.decisive
