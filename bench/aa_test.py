"""The A/A test (issue 19 (b)): one config entered as both finalists under two names, on fresh
simulated EEG each time. Whatever the verdict says, nothing separates them: "better" beyond
noise should come at most 5 % of the time.

Each repetition draws a new data set (``SyntheticData`` with a new seed) and runs the
evaluation as a sweep does (``evaluation_config`` on each fold × repetition, ``TrialRunner``,
``FoldScore``, ``read``-ready scores, ``recommend``), without Ray. The two names train with
different model seeds on the same folds (with the same seed they would be the same model, and
the test would prove nothing): their difference is the model seed's noise alone.

    python bench/aa_test.py              # 40 repetitions (about 10 minutes on 2 CPUs)
    python bench/aa_test.py --repetitions 10
"""

import argparse
import time
from collections import Counter

from probe_core import SyntheticData, TrialConfig
from probe_core.training import FoldScore, TrialRunner
from sweeps import protocol
from sweeps.confirming_search import evaluation_config
from sweeps.evaluation import Evaluation
from sweeps.recommendation import Recommendation, recommend

FOLDS, REPETITIONS = 3, 2  # the default confirmation
NAMES = ("config", "same_config")
SEED_OFFSET = {"config": 0, "same_config": 1000}
BASE = {
    "backbone": {"name": "ShallowFBCSPNet"},
    "strategy": {"kind": "from_scratch"},
    "split": {"val_fraction": 0.25, "test_fraction": 0.25},
    "training": {"max_epochs": 10, "batch_size": 16},
    "optimizer": {"lr": 0.003},
}


def fold_score(config: TrialConfig, data) -> FoldScore:
    runner = TrialRunner(config, data)
    while not runner.done:
        runner.step()
    return runner.fold_score()


def aa_once(data_seed: int) -> Recommendation:
    """The verdict on one fresh data set: the same config under two names."""
    data = SyntheticData(seed=data_seed, subjects=[0, 1, 2, 3], trials_per_class=20).build()
    scores: dict[str, dict] = {name: {} for name in NAMES}
    chances, shares = [], []
    for fold in range(FOLDS):
        for repetition in range(1, REPETITIONS + 1):
            evaluated = evaluation_config({protocol.TRIAL: BASE}, fold, FOLDS, repetition)
            config = TrialConfig.model_validate(evaluated[protocol.TRIAL])
            for name in NAMES:
                seeded = config.model_copy(update={"seed": repetition + SEED_OFFSET[name]})
                found = fold_score(seeded, data)
                scores[name][(fold, repetition)] = found.metrics["balanced_accuracy"]
                chances.append(found.chance)
                shares.append(found.scored / found.pool)
    evaluation = Evaluation(
        scores,
        {name: {} for name in NAMES},
        FOLDS,
        REPETITIONS,
        chance=sum(chances) / len(chances),
        scored_share=sum(shares) / len(shares),
        equivalence=0.01,
    )
    costs = dict.fromkeys(NAMES, (1000, 0.1))
    return recommend(evaluation, costs, "val_balanced_accuracy", "max")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=40)
    args = parser.parse_args()
    start = time.perf_counter()
    verdicts: Counter = Counter()
    covered = 0
    for repetition in range(args.repetitions):
        found = aa_once(data_seed=100 + repetition)
        verdicts[str(found.verdict)] += 1
        difference = found.difference
        covered += difference is not None and difference.contains(0.0)
        chosen = found.chosen
        print(
            f"{repetition + 1:>3}: {found.verdict:<12} {chosen.score.text() if chosen else '-'}"
            f"  difference {difference.text(signed=True) if difference else '-'}",
            flush=True,
        )
    n = args.repetitions
    print(
        f"\n{n} A/A repetitions in {time.perf_counter() - start:.0f} s: "
        + ", ".join(f"{verdict} {count} ({count / n:.0%})" for verdict, count in verdicts.items())
        + f"; the difference's interval held 0 in {covered} of {n}"
    )


if __name__ == "__main__":
    main()
