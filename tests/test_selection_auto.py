"""``--auto`` on the selection benchmark (``bench/selection/auto_race.py``): the published block
recomputed from its stored rows, and the report's arithmetic on rows made up here."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.selection.auto_race import OUT, RACES, report  # noqa: E402  (not installed)
from bench.selection.compare import RESULTS  # noqa: E402

SELECTION = Path(__file__).resolve().parents[1] / "docs" / "SELECTION.md"


def _row(seed: int, factors: list[float], strategy: str, config_regret: float) -> dict:
    return {
        "task": "t",
        "sweep_seed": seed,
        "race_lr_factors": factors,
        "strategy": strategy,
        "regret": 0.0 if strategy == "lora" else 0.05,
        "config_regret": config_regret,
        "delivered": {"strategy": strategy, "lr": 0.001, "test_scores": []},
        "compute": 0.2 + seed / 100,
    }


def test_the_report_gives_each_race_and_the_default_search_in_points() -> None:
    rows = [
        _row(0, [1.0], "linear_probe", 0.06),
        _row(1, [1.0], "linear_probe", 0.04),
        _row(0, [1.0, 10.0], "lora", 0.0),
        _row(1, [1.0, 10.0], "lora", 0.012),
    ]
    default = [
        {"task": "t", "sweep_seed": seed, "probe-sweep": _row(seed, [], "lora", 0.002)}
        for seed in (0, 1, 2)  # seed 2 has no --auto row: left out
    ]
    text = report(rows, default)
    assert (
        "race at [1.0]: 2 runs, config-level regret mean 5.0 worst 6.0 points, within a "
        "point in 0; strategy-level mean 5.0; compute at most 21% of the grid" in text
    )
    assert (
        "race at [1.0, 10.0]: 2 runs, config-level regret mean 0.6 worst 1.2 points, "
        "within a point in 1; strategy-level mean 0.0" in text
    )
    assert "the default search, no race: 2 runs, config-level regret mean 0.2" in text
    assert "  t seed 1, race at [1.0, 10.0]: lora at 0.001, 1.2" in text


def test_the_published_auto_block_is_the_report_of_the_stored_rows() -> None:
    """Each (task, sweep seed) swept with both races, and the block in docs/SELECTION.md the
    report of those rows beside the default search's rows of the same runs."""
    rows = json.loads(OUT.read_text())
    runs: dict[tuple[str, int], list[list[float]]] = {}
    for row in rows:
        runs.setdefault((row["task"], row["sweep_seed"]), []).append(row["race_lr_factors"])
    assert all(sorted(found) == sorted(RACES) for found in runs.values()), runs
    assert report(rows, json.loads(RESULTS.read_text())) in SELECTION.read_text()
