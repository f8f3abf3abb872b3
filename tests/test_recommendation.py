"""The recommendation's statistics and rules on constructed cases: known means and variances, a
clear winner, a tie within noise, a sweep that learnt nothing."""

import math

import pytest
from scipy import stats

from sweeps.evidence import corrected_interval, paired_difference
from sweeps.recommendation import (
    BETTER,
    CHANCE,
    ONLY,
    TIED,
    UNEVALUATED,
    UNSEPARATED,
    Recommendation,
    recommend,
    unevaluated,
)

METRIC = "val_balanced_accuracy"
KEYS = [(fold, seed) for fold in range(3) for seed in (1, 2)]
COSTS = {"full_finetune": (36_000, 0.30), "linear_probe": (900, 0.10), "lora": (4_500, 0.28)}


def _scores(values: list[float]) -> dict[tuple[int, int], float]:
    return dict(zip(KEYS, values, strict=True))


def test_the_interval_widens_for_overlapping_folds_as_nadeau_and_bengio_say() -> None:
    values = [0.8, 0.9, 0.7, 0.8, 0.9, 0.7]  # mean 0.8, sample variance 0.008
    found = corrected_interval(values, folds=3)
    variance_of_mean = 0.008 * (1 / 6 + 1 / 2)  # n_val / n_train = 1 / (3 - 1)
    half = stats.t.ppf(0.975, df=5) * math.sqrt(variance_of_mean)
    assert found.mean == pytest.approx(0.8)
    assert (found.low, found.high) == pytest.approx((0.8 - half, 0.8 + half))
    assert half == pytest.approx(0.1877, abs=1e-4)  # twice the naive t-interval's 0.094
    assert corrected_interval([0.7], folds=3).low == -math.inf  # one score: no interval


def test_paired_differences_use_only_the_pairs_both_have() -> None:
    first = _scores([0.80, 0.82, 0.78, 0.80, 0.81, 0.79])
    second = {key: value - 0.05 for key, value in first.items() if key != (2, 2)}
    difference = paired_difference(first, second, folds=3)
    assert difference.n == 5 and difference.mean == pytest.approx(0.05)
    assert difference.low == pytest.approx(0.05) == pytest.approx(difference.high)
    assert paired_difference(first, {(9, 9): 0.5}, folds=3) is None


def test_a_finalist_better_beyond_noise_wins_even_when_it_costs_more() -> None:
    tuned = _scores([0.90, 0.92, 0.88, 0.91, 0.89, 0.90])
    probe = {key: value - 0.10 + 0.01 * (i % 2) for i, (key, value) in enumerate(tuned.items())}
    found = recommend(
        {"full_finetune": tuned, "linear_probe": probe}, COSTS, METRIC, "max", 0.5, 3, 2
    )
    assert found.verdict == BETTER and found.strategy == "full_finetune"
    assert found.runner_up == "linear_probe" and found.difference.low > 0
    assert found.reason == "better than linear_probe beyond noise"
    text = found.text()
    assert text.startswith("Recommended freeze strategy: full_finetune (better than")
    assert "balanced_accuracy on 3 folds × 2 seeds, chance 0.500" in text
    assert "difference to linear_probe: +0.095 (95% CI" in text


def test_a_tie_within_noise_goes_to_the_cheaper_finalist_and_says_so() -> None:
    tuned = _scores([0.90, 0.86, 0.93, 0.88, 0.91, 0.87])
    probe = _scores([0.89, 0.88, 0.90, 0.89, 0.88, 0.88])  # 0.005 lower on average
    found = recommend(
        {"full_finetune": tuned, "linear_probe": probe}, COSTS, METRIC, "max", 0.5, 3, 2
    )
    assert found.verdict == TIED and found.strategy == "linear_probe"
    assert found.reason == "tied within noise: chose linear_probe, 40× fewer trainable parameters"
    assert found.runner_up == "full_finetune"
    assert found.difference.mean == pytest.approx(-0.005)
    assert found.difference.contains(0.0)


def test_a_large_difference_within_noise_is_not_a_tie() -> None:
    """Six noisy fold scores cannot separate 0.88 from 0.78, but nothing says they are equal:
    the cheaper probe is not chosen on that account."""
    tuned = _scores([0.88, 0.86, 0.90, 0.89, 0.87, 0.90])
    probe = _scores([0.62, 0.95, 0.70, 0.92, 0.66, 0.83])
    found = recommend(
        {"full_finetune": tuned, "linear_probe": probe}, COSTS, METRIC, "max", 0.25, 3, 2
    )
    assert found.difference.contains(0.0) and found.difference.mean > 0.05
    assert found.verdict == UNSEPARATED and found.strategy == "full_finetune"
    assert found.reason.startswith("ahead of linear_probe by +0.103, more than a tie (0.01)")


def test_a_tie_between_equally_cheap_finalists_goes_to_the_better_mean() -> None:
    """Last-k blocks of a one-block CNN is a fine-tune: the same parameters, the same time per
    epoch within timing noise. Nothing is saved by the lower mean."""
    costs = {"full_finetune": (33_284, 0.96), "last_k_blocks": (33_284, 0.95)}
    tuned = _scores([0.90, 0.86, 0.93, 0.88, 0.91, 0.87])
    blocks = _scores([0.89, 0.88, 0.90, 0.89, 0.88, 0.88])
    found = recommend(
        {"full_finetune": tuned, "last_k_blocks": blocks}, costs, METRIC, "max", 0.25, 3, 2
    )
    assert found.verdict == TIED and found.strategy == "full_finetune"
    assert found.reason == "tied within noise with last_k_blocks, as cheap: the better mean"


def test_no_finalist_above_chance_means_no_recommendation() -> None:
    near_chance = _scores([0.36, 0.31, 0.33, 0.35, 0.30, 0.34])
    below = _scores([0.33, 0.33, 0.34, 0.32, 0.33, 0.33])
    found = recommend(
        {"lora": near_chance, "linear_probe": below}, COSTS, METRIC, "max", 1 / 3, 3, 2
    )
    assert found.verdict == CHANCE and found.strategy is None and found.chosen is None
    text = found.text()
    assert text.startswith("No strategy beats chance: the best, lora, scores 0.332")
    assert "chance 0.333" in text and "data.unit" in text and "no best config" in text


def test_a_lower_is_better_metric_turns_every_rule_round() -> None:
    """The loss: the lower mean wins, and chance is the prior's entropy, above the scores."""
    low_loss = _scores([0.40, 0.42, 0.41, 0.39, 0.40, 0.41])
    high_loss = _scores([0.60, 0.62, 0.61, 0.59, 0.60, 0.61])
    found = recommend(
        {"full_finetune": high_loss, "linear_probe": low_loss},
        COSTS,
        "val_loss",
        "min",
        math.log(2),
        3,
        2,
    )
    assert found.verdict == BETTER and found.strategy == "linear_probe"
    assert found.difference.mean == pytest.approx(0.2) and found.difference.low > 0
    worse_than_chance = recommend(
        {"lora": _scores([0.70] * 6)}, COSTS, "val_loss", "min", math.log(2), 3, 2
    )
    assert worse_than_chance.verdict == CHANCE


def test_a_single_finalist_and_a_sweep_without_evaluation() -> None:
    only = recommend(
        {"lora": _scores([0.8, 0.85, 0.82, 0.8, 0.83, 0.81])}, COSTS, METRIC, "max", 0.5, 3, 2
    )
    assert only.verdict == ONLY and only.strategy == "lora" and only.difference is None
    bare = unevaluated("lora", 0.9, COSTS["lora"], METRIC, 0.5)
    assert bare.verdict == UNEVALUATED and "without an interval" in bare.text()


def test_the_report_round_trip_gives_the_same_text() -> None:
    found = recommend(
        {
            "full_finetune": _scores([0.90, 0.86, 0.93, 0.88, 0.91, 0.87]),
            "linear_probe": _scores([0.89, 0.88, 0.90, 0.89, 0.88, 0.88]),
        },
        COSTS,
        METRIC,
        "max",
        0.5,
        3,
        2,
    )
    found.test_metrics = {"balanced_accuracy": 0.875, "accuracy": 0.88}
    import json

    again = Recommendation.from_dict(json.loads(json.dumps(found.as_dict())))
    assert again.text() == found.text()
    assert "held-out test: balanced_accuracy 0.875, accuracy 0.880" in again.text()


def test_a_finalists_interval_stays_within_what_the_metric_can_take() -> None:
    """Near the ceiling the symmetric t-interval reaches past 1; the reported one stops there,
    and the paired difference (which may be negative) is left as it is."""
    near_ceiling = _scores([1.0, 0.9, 1.0, 0.95, 1.0, 0.9])
    lower = _scores([0.9, 0.9, 0.95, 0.9, 0.9, 0.85])
    raw = corrected_interval(list(near_ceiling.values()), folds=3)
    assert raw.high > 1.0
    found = recommend(
        {"lora": near_ceiling, "linear_probe": lower}, COSTS, METRIC, "max", 0.5, 3, 2
    )
    chosen = found.chosen
    assert (chosen.score.mean, chosen.score.low, chosen.score.high) == (raw.mean, raw.low, 1.0)
    assert found.difference.low < 0.0  # within noise: the difference keeps its sign
    kappa = recommend({"lora": near_ceiling}, COSTS, "val_cohen_kappa", "max", 0.0, 3, 2)
    assert kappa.chosen.score.high == 1.0
