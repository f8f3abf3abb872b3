"""Whether a task's answer is decisive, and whether a set of tasks needs a choice at all.

A task is decisive when its best strategy leads the best strategy of *another family* (probe,
parameter-efficient, full adaptation, from scratch) by at least ``MARGIN`` in mean test score,
with a paired test over the model seeds below ``ALPHA``: a sweep that picks the wrong family
then loses something real. A set of tasks needs a choice when most of them are decisive, their
winners span several families, and no fixed strategy is near the best on most of them.

    python -m bench.selection.decisive [FILE]     # the criteria on a ground-truth table
"""

import argparse
import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from scipy import stats

from bench.selection.ground_truth import DEFAULT_OUT, tuned_runs
from probe_core.strategies import STRATEGIES

MARGIN = 0.02
"""The winner's least lead over the best of another family (2 points of balanced accuracy)."""
ALPHA = 0.05
NEAR = 0.01
"""A fixed strategy within this of the best on a task would have done as well there."""
MIN_DECISIVE = 6
MIN_WINNING_FAMILIES = 3


@dataclass(frozen=True)
class Verdict:
    """One task's answer: its winner and the runner-up from another family, with the paired
    difference of their test scores over the seeds both ran and its 95 % interval (``low``,
    ``high``: how large a lead the seeds can tell apart)."""

    winner: str
    family: str
    rival: str
    lead: float
    p_value: float
    seeds: int
    low: float
    high: float

    @property
    def decisive(self) -> bool:
        return self.lead >= MARGIN and self.p_value < ALPHA


def scores_by_seed(runs: list[dict], kind: str) -> dict[int, float]:
    """``kind``'s test score per seed at its tuned learning rate (the ground truth's choice)."""
    return {r["seed"]: r["test"] for r in tuned_runs(runs, kind)}


def family(kind: str) -> str:
    found = STRATEGIES[kind].family
    assert found is not None, kind  # every searched strategy has one
    return str(found)


def verdict(runs: list[dict], strategies: list[str]) -> Verdict:
    """The task's winner by mean test score, against the best strategy of another family."""
    scores = {kind: scores_by_seed(runs, kind) for kind in strategies}
    means = {kind: statistics.mean(scores[kind].values()) for kind in strategies}
    winner = max(strategies, key=lambda kind: means[kind])
    others = [kind for kind in strategies if family(kind) != family(winner)]
    rival = max(others, key=lambda kind: means[kind])
    seeds = sorted(scores[winner].keys() & scores[rival].keys())
    differences = [scores[winner][s] - scores[rival][s] for s in seeds]
    lead = means[winner] - means[rival]
    if len(seeds) > 1:
        p_value = float(stats.ttest_1samp(differences, 0.0).pvalue)
        centre = statistics.mean(differences)
        half = (
            stats.t.ppf(0.975, len(seeds) - 1) * statistics.stdev(differences) / len(seeds) ** 0.5
        )
    else:  # no interval from fewer than two seeds
        p_value, centre, half = 1.0, lead, float("inf")
    return Verdict(
        winner=winner,
        family=family(winner),
        rival=rival,
        lead=round(lead, 4),
        p_value=1.0 if p_value != p_value else round(p_value, 4),  # NaN: identical scores
        seeds=len(seeds),
        low=round(centre - half, 4),
        high=round(centre + half, 4),
    )


def near_best(runs: list[dict], strategies: list[str]) -> set[str]:
    """The strategies within ``NEAR`` of the task's best mean test score."""
    means = {kind: statistics.mean(scores_by_seed(runs, kind).values()) for kind in strategies}
    best = max(means.values())
    return {kind for kind, mean in means.items() if best - mean <= NEAR}


def criteria(table: dict) -> dict:
    """The issue's conditions on a ground-truth table: per task its verdict, then how many are
    decisive, the families their winners span, and for each strategy the tasks where always
    using it would have been within ``NEAR`` of the best."""
    tasks = {}
    near: dict[str, list[str]] = {}
    for name, task in table["tasks"].items():
        runs = [r for r in table["runs"] if r["task"] == name]
        ran = [kind for kind in task["strategies"] if any(r["arm"] == kind for r in runs)]
        found = verdict(runs, ran)
        missing = len(task["strategies"]) - len(ran)  # a table still being filled
        tasks[name] = {**asdict(found), "decisive": found.decisive, "strategies_missing": missing}
        for kind in near_best(runs, ran):
            near.setdefault(kind, []).append(name)
    decisive = [name for name, found in tasks.items() if found["decisive"]]
    families = sorted({tasks[name]["family"] for name in decisive})
    most_near = max((len(names) for names in near.values()), default=0)
    return {
        "tasks": tasks,
        "decisive": decisive,
        "winning_families": families,
        "near_best": near,
        "met": {
            f"at least {MIN_DECISIVE} decisive tasks": len(decisive) >= MIN_DECISIVE,
            f"winners span at least {MIN_WINNING_FAMILIES} families": (
                len(families) >= MIN_WINNING_FAMILIES
            ),
            "no fixed strategy near the best on more than half": most_near <= len(tasks) / 2,
        },
    }


def text(found: dict) -> str:
    """``criteria``'s findings, one line each, as published in docs/SELECTION.md."""
    lines = []
    for name, task in found["tasks"].items():
        mark = "decisive" if task["decisive"] else "not decisive"
        if task["strategies_missing"]:
            mark += f" so far ({task['strategies_missing']} strategies not run yet)"
        lines.append(
            f"{name}: {task['winner']} ({task['family']}) ahead of {task['rival']} by "
            f"{task['lead']:+.3f} (95 % CI {task['low']:+.3f} to {task['high']:+.3f}), "
            f"paired p {task['p_value']:.3f} over {task['seeds']} seeds: {mark}"
        )
    for kind, names in sorted(found["near_best"].items()):
        lines.append(
            f"always {kind}: within {NEAR} of the best on {len(names)} of {len(found['tasks'])}"
        )
    lines += [
        f"{'met' if met else 'MISSED'}: {condition}" for condition, met in found["met"].items()
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", nargs="?", type=Path, default=DEFAULT_OUT)
    print(text(criteria(json.loads(parser.parse_args().table.read_text()))))


if __name__ == "__main__":
    main()
