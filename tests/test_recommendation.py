"""The recommendation's statistics and rules on constructed cases: known means and variances, a
clear winner, a tie within noise, a sweep that learnt nothing, and evidence that is missing."""

import math

import pytest
from scipy import stats

from sweeps import protocol
from sweeps.evaluation import Evaluation, read_evaluation
from sweeps.evidence import Interval, corrected_interval, paired_difference, sampling_floor
from sweeps.ledger import TrialRecord
from sweeps.protocol import Phase, TrialStatus
from sweeps.recommendation import (
    Recommendation,
    ReferenceVerdict,
    Verdict,
    judge_reference,
    recommend,
    unevaluated,
)

METRIC = "val_balanced_accuracy"
KEYS = [(fold, repetition) for fold in range(3) for repetition in (1, 2)]
COSTS = {"full_finetune": (36_000, 0.30), "linear_probe": (900, 0.10), "lora": (4_500, 0.28)}
SHARE = 0.25  # a fold scores a quarter of the examples: the correction is 0.25 / 0.75


def _scores(values: list[float]) -> dict[tuple[int, int], float]:
    return dict(zip(KEYS, values, strict=True))


def _recommend(
    scores: dict,
    chance: float,
    metric: str = METRIC,
    mode: str = "max",
    costs: dict = COSTS,
    missing: dict | None = None,
) -> Recommendation:
    lacking = {strategy: {} for strategy in scores} | (missing or {})
    evaluation = Evaluation(scores, lacking, 3, 2, chance, SHARE, equivalence=0.01)
    return recommend(evaluation, costs, metric, mode)


def test_the_interval_is_the_corrected_repeated_k_fold_test_of_the_datas_counts() -> None:
    """Bouckaert & Frank: s² (1/J + ρ/(1-ρ)) with J - 1 degrees of freedom, ρ the share of the
    examples a fold scores, as the evaluation trials counted them (not 1/(k - 1))."""
    values = [0.8, 0.9, 0.7, 0.8, 0.9, 0.7]  # mean 0.8, sample variance 0.008
    found = corrected_interval(values, scored_share=SHARE)
    half = stats.t.ppf(0.975, df=5) * math.sqrt(0.008 * (1 / 6 + 1 / 3))
    assert found.mean == pytest.approx(0.8)
    assert (found.low, found.high) == pytest.approx((0.8 - half, 0.8 + half))
    assert half == pytest.approx(0.1626, abs=1e-4)  # was 0.188 with 1/(k - 1)
    few_shot = corrected_interval(values, scored_share=0.5)  # a fold scores half the examples
    assert few_shot.high - few_shot.mean == pytest.approx(
        stats.t.ppf(0.975, df=5) * math.sqrt(0.008 * (1 / 6 + 1)), abs=1e-9
    )
    assert corrected_interval([0.7], scored_share=SHARE).low == -math.inf  # one score: none


def test_agreeing_folds_are_no_more_evidence_than_their_few_epochs() -> None:
    """Six folds of a few epochs each that all score the same have no spread, so the t-interval
    has no width; the floor is the Wilson interval of the epochs one repetition scores."""
    perfect = corrected_interval([1.0] * 6, scored_share=0.3)
    assert (perfect.low, perfect.high) == (1.0, 1.0)
    floored = sampling_floor(perfect, epochs=7, bounds=(0.0, 1.0))
    assert floored.low == pytest.approx(0.6457, abs=1e-4) and floored.high == pytest.approx(1.0)
    assert floored.mean == 1.0 and floored.n == 6
    wide = Interval(0.6, 0.2, 0.95, 6)  # wider than the floor already: unchanged
    assert sampling_floor(wide, epochs=200, bounds=(0.0, 1.0)) == wide
    assert sampling_floor(perfect, epochs=7, bounds=(0.0, math.inf)) == perfect  # a loss
    kappa = sampling_floor(Interval(0.0, 0.0, 0.0, 6), epochs=7, bounds=(-1.0, 1.0))
    assert kappa.low == pytest.approx(-kappa.high)  # the middle of its range, symmetric

    def judged(value: float) -> Recommendation:
        scores = {"lora": dict.fromkeys(KEYS, value)}
        evaluation = Evaluation(scores, {"lora": {}}, 3, 2, 0.5, 0.3, 0.01, scored_epochs=7)
        return recommend(evaluation, COSTS, METRIC, "max")

    assert judged(1.0).verdict == Verdict.ONLY  # 7 of 7 right: above chance (p 0.008)
    assert judged(0.6).verdict == Verdict.CHANCE  # 0.600 "to 0.600" on 7 epochs is not


def test_an_unbounded_interval_reads_as_no_interval() -> None:
    assert Interval(0.875, -math.inf, math.inf, 1).text() == "0.875 (no interval: 1 score)"
    assert Interval(0.8, 0.7, 0.9, 6).text(signed=True) == "+0.800 (95% CI +0.700 to +0.900)"


def test_paired_differences_use_only_the_pairs_both_have() -> None:
    first = _scores([0.80, 0.82, 0.78, 0.80, 0.81, 0.79])
    second = {key: value - 0.05 for key, value in first.items() if key != (2, 2)}
    difference = paired_difference(first, second, SHARE)
    assert difference.n == 5 and difference.mean == pytest.approx(0.05)
    assert difference.low == pytest.approx(0.05) == pytest.approx(difference.high)
    assert paired_difference(first, {(9, 9): 0.5}, SHARE) is None
    assert paired_difference(first, {(0, 1): 0.5}, SHARE) is None  # one pair: no interval


def test_a_finalist_better_beyond_noise_wins_even_when_it_costs_more() -> None:
    tuned = _scores([0.90, 0.92, 0.88, 0.91, 0.89, 0.90])
    probe = {key: value - 0.10 + 0.01 * (i % 2) for i, (key, value) in enumerate(tuned.items())}
    found = _recommend({"full_finetune": tuned, "linear_probe": probe}, 0.5)
    assert found.verdict == Verdict.BETTER and found.strategy == "full_finetune"
    assert found.runner_up == "linear_probe" and found.difference.low > 0
    assert found.reason == "better than linear_probe beyond noise"
    text = found.text()
    assert text.startswith("Recommended freeze strategy: full_finetune (better than")
    assert "balanced_accuracy on 3 folds × 2 repetitions, chance 0.500" in text
    assert "difference to linear_probe: +0.095 (95% CI" in text


def test_a_tie_within_noise_goes_to_the_cheaper_finalist_and_says_so() -> None:
    tuned = _scores([0.90, 0.86, 0.93, 0.88, 0.91, 0.87])
    probe = _scores([0.89, 0.88, 0.90, 0.89, 0.88, 0.88])  # 0.005 lower on average
    found = _recommend({"full_finetune": tuned, "linear_probe": probe}, 0.5)
    assert found.verdict == Verdict.TIED and found.strategy == "linear_probe"
    assert found.reason == "tied within noise: chose linear_probe, 40× fewer trainable parameters"
    assert found.runner_up == "full_finetune"
    assert found.difference.mean == pytest.approx(-0.005)
    assert found.difference.contains(0.0)


def test_a_large_difference_within_noise_is_not_a_tie() -> None:
    """Six noisy fold scores cannot separate 0.88 from 0.78, but nothing says they are equal:
    the cheaper probe is not chosen on that account."""
    tuned = _scores([0.88, 0.86, 0.90, 0.89, 0.87, 0.90])
    probe = _scores([0.62, 0.95, 0.70, 0.92, 0.66, 0.83])
    found = _recommend({"full_finetune": tuned, "linear_probe": probe}, 0.25)
    assert found.difference.contains(0.0) and found.difference.mean > 0.05
    assert found.verdict == Verdict.UNSEPARATED and found.strategy == "full_finetune"
    assert found.reason.startswith("ahead of linear_probe by +0.103, more than a tie (0.01)")


def test_a_tie_between_equally_cheap_finalists_goes_to_the_better_mean() -> None:
    """Last-k blocks of a one-block CNN is a fine-tune: the same parameters, the same time per
    epoch within timing noise. Nothing is saved by the lower mean."""
    costs = {"full_finetune": (33_284, 0.96), "last_k_blocks": (33_284, 0.95)}
    tuned = _scores([0.90, 0.86, 0.93, 0.88, 0.91, 0.87])
    blocks = _scores([0.89, 0.88, 0.90, 0.89, 0.88, 0.88])
    found = _recommend({"full_finetune": tuned, "last_k_blocks": blocks}, 0.25, costs=costs)
    assert found.verdict == Verdict.TIED and found.strategy == "full_finetune"
    assert found.reason == "tied within noise with last_k_blocks, as cheap: the better mean"


def test_no_finalist_above_chance_means_no_recommendation() -> None:
    near_chance = _scores([0.36, 0.31, 0.33, 0.35, 0.30, 0.34])
    below = _scores([0.33, 0.33, 0.34, 0.32, 0.33, 0.33])
    found = _recommend({"lora": near_chance, "linear_probe": below}, 1 / 3)
    assert found.verdict == Verdict.CHANCE and found.strategy is None and found.chosen is None
    text = found.text()
    assert text.startswith("No strategy beats chance: the best, lora, scores 0.332")
    assert "chance 0.333" in text and "data.unit" in text and "no best config" in text


def test_a_lower_is_better_metric_turns_every_rule_round() -> None:
    """The loss: the lower mean wins, and chance is the prior's entropy, above the scores."""
    low_loss = _scores([0.40, 0.42, 0.41, 0.39, 0.40, 0.41])
    high_loss = _scores([0.60, 0.62, 0.61, 0.59, 0.60, 0.61])
    found = _recommend(
        {"full_finetune": high_loss, "linear_probe": low_loss}, math.log(2), "val_loss", "min"
    )
    assert found.verdict == Verdict.BETTER and found.strategy == "linear_probe"
    assert found.difference.mean == pytest.approx(0.2) and found.difference.low > 0
    worse_than_chance = _recommend({"lora": _scores([0.70] * 6)}, math.log(2), "val_loss", "min")
    assert worse_than_chance.verdict == Verdict.CHANCE


def test_a_single_finalist_and_a_sweep_without_evaluation() -> None:
    only = _recommend({"lora": _scores([0.8, 0.85, 0.82, 0.8, 0.83, 0.81])}, 0.5)
    assert only.verdict == Verdict.ONLY and only.strategy == "lora" and only.difference is None
    bare = unevaluated("lora", 0.9, COSTS["lora"], METRIC, 0.5)
    assert bare.verdict == Verdict.UNEVALUATED and "without an interval" in bare.text()
    header = f"| finalist | {METRIC} (its best trial) | trainable parameters | s per epoch |"
    assert bare.markdown().startswith(f"### {bare.text().splitlines()[0]}\n\n{header}\n")
    assert "| finalist | balanced_accuracy on the folds |" in only.markdown()
    assert f"| **lora** | {only.finalists[0].score.text()} | 4,500 |" in only.markdown()


def test_the_report_round_trip_gives_the_same_text() -> None:
    probe = _scores([0.89, 0.88, 0.90, 0.89, 0.88, 0.88])
    del probe[(2, 2)]
    found = _recommend(
        {"full_finetune": _scores([0.90, 0.86, 0.93, 0.88, 0.91, 0.87]), "linear_probe": probe},
        0.5,
        missing={"linear_probe": {"failed": 1}},
    )
    found.gaps = ["search vs folds: as the report says"]
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
    raw = corrected_interval(list(near_ceiling.values()), SHARE)
    assert raw.high > 1.0
    found = _recommend({"lora": near_ceiling, "linear_probe": lower}, 0.5)
    chosen = found.chosen
    assert (chosen.score.mean, chosen.score.low, chosen.score.high) == (raw.mean, raw.low, 1.0)
    assert found.difference.low < 0.0  # within noise: the difference keeps its sign
    kappa = _recommend({"lora": near_ceiling}, 0.0, "val_cohen_kappa")
    assert kappa.chosen.score.high == 1.0


def test_finalists_that_share_no_fold_are_not_tied() -> None:
    """Their evaluation trials failed on different folds: nothing compares them. A first
    version called them tied and chose the probe 29 points behind, for being cheaper."""
    tuned = {key: 0.90 for key in KEYS[:3]}
    probe = {key: 0.61 for key in KEYS[3:]}
    found = _recommend({"full_finetune": tuned, "linear_probe": probe}, 0.25)
    assert found.verdict == Verdict.INSUFFICIENT and found.strategy == "full_finetune"
    assert found.reason == (
        "not enough evidence against linear_probe: they share 0 (fold, repetition) pairs"
    )
    assert found.difference is None


def _evaluated(strategy: str, key: tuple[int, int], **last) -> TrialRecord:
    fold, repetition = key
    config = {
        "strategy": {"kind": strategy},
        "seed": repetition,
        "split": {"fold": fold, "folds": 3, "repetition": repetition},
    }
    status = last.pop("status", TrialStatus.FINISHED)
    facts = {
        protocol.FOLD_CHANCE: 0.25,
        protocol.FOLD_SCORED: 48,
        protocol.FOLD_POOL: 192,
        protocol.FOLD_TRAINED: 100,
    }
    history = [{METRIC: 0.5}, {METRIC: 0.6, **facts, **last}]
    return TrialRecord(
        f"{strategy}{key}", Phase.CONFIRMATION, config, status=status, history=history
    )


def _read(records: list[TrialRecord], finalists: list[str]) -> Evaluation:
    return read_evaluation(
        records,
        finalists,
        folds=3,
        repetitions=2,
        metric="balanced_accuracy",
        chance=0.25,
        equivalence=0.01,
    )


def test_the_evaluation_reads_the_share_and_chance_the_folds_reported() -> None:
    """The correction's share is the trials' own count (48 of 192 examples scored); a fold
    without one of four classes reports its chance, 1/3, and the mean chance follows."""
    records = [
        _evaluated(
            "lora",
            key,
            fold_balanced_accuracy=0.8,
            **({protocol.FOLD_CHANCE: 1 / 3} if key[0] == 0 else {}),
        )
        for key in KEYS
    ]
    evaluation = _read(records, ["lora"])
    assert evaluation.scored_share == pytest.approx(0.25)
    assert evaluation.scored_epochs == 144  # 48 a fold, 3 folds a repetition
    assert evaluation.chance == pytest.approx((2 / 3 + 4 / 4) / 6)
    assert evaluation.scores["lora"] == {key: 0.8 for key in KEYS}
    assert evaluation.missing == {"lora": {}}


def test_failed_or_nan_fold_scores_are_missing_with_their_reason_never_averaged() -> None:
    """A NaN score (an AUROC of a part with one class) would make the mean NaN, drop the
    finalist from the ranking and call the other one better; failed trials would leave a
    finalist with one score, whose interval is infinite."""
    scores = iter([0.9, 0.92, 0.88, 0.91, 0.89, 0.9])
    records = [_evaluated("lora", key, fold_balanced_accuracy=next(scores)) for key in KEYS]
    records += [
        _evaluated("linear_probe", KEYS[0], fold_balanced_accuracy=0.7),
        _evaluated("linear_probe", KEYS[1], fold_balanced_accuracy=math.nan),
        *(_evaluated("linear_probe", key, status=TrialStatus.FAILED) for key in KEYS[2:5]),
    ]  # and no trial at all for the last key
    evaluation = _read(records, ["lora", "linear_probe"])
    assert evaluation.missing["linear_probe"] == {"no score (NaN)": 1, "failed": 3, "not run": 1}
    assert evaluation.scores["linear_probe"] == {KEYS[0]: 0.7}
    found = recommend(evaluation, COSTS, METRIC, "max")
    assert found.verdict == Verdict.INSUFFICIENT and found.strategy == "lora"
    assert not math.isnan(found.finalists[1].score.mean)
    assert found.reason == (
        "not enough evidence against linear_probe: 5 of 6 fold scores missing "
        "(1 no score (NaN), 3 failed, 1 not run)"
    )
    assert "5 of 6 fold scores missing" in found.text()


def test_no_finalist_with_evidence_recommends_nothing_and_says_why() -> None:
    records = [_evaluated(s, k, status=TrialStatus.FAILED) for s in ("lora", "mlp") for k in KEYS]
    found = recommend(_read(records, ["lora", "mlp"]), COSTS | {"mlp": (1, 1.0)}, METRIC, "max")
    assert found.verdict == Verdict.INSUFFICIENT and found.strategy is None
    assert found.text().startswith(
        "Nothing is recommended: not enough evidence: no finalist with two fold scores; "
        "lora: 6 of 6 fold scores missing (6 failed)"
    )


def test_the_summary_page_says_when_nothing_could_be_judged() -> None:
    from sweeps.report import Conclusion
    from sweeps.spec import SweepSpec
    from sweeps.summary_page import summary_page

    records = [_evaluated("lora", k, status=TrialStatus.FAILED) for k in KEYS]
    found = recommend(_read(records, ["lora"]), COSTS, METRIC, "max")
    spec = SweepSpec(name="s", data={"kind": "synthetic"}, trial={"backbone": {"name": "EEGNet"}})
    counts = dict.fromkeys(protocol.ENDED, 0)
    page = summary_page(spec, Conclusion([], [], counts, 0, found, METRIC), {})
    assert "Not enough evidence: nothing is recommended." in page
    assert "<td>lora</td><td>–</td><td>– to –</td>" in page


def test_repetitions_that_drew_the_same_part_count_once() -> None:
    """Whole-subject folds with as many subjects as folds can be dealt one way only: the second
    repetition scores the same subjects with another seed. Six scores are then three pieces of
    evidence (2 degrees of freedom, not 5)."""
    values = _scores([0.8, 0.82, 0.9, 0.88, 0.7, 0.72])  # (fold, repetition) pairs alike
    same = {(fold, repetition): fold for fold, repetition in KEYS}
    found = _recommend({"lora": values}, 0.25)
    collapsed = recommend(
        Evaluation({"lora": values}, {"lora": {}}, 3, 2, 0.25, SHARE, 0.01, same),
        COSTS,
        METRIC,
        "max",
    )
    assert found.chosen.score.n == 6 and collapsed.chosen.score.n == 3
    assert collapsed.chosen.score.mean == pytest.approx(found.chosen.score.mean)
    expected = corrected_interval([0.81, 0.89, 0.71], SHARE)
    assert collapsed.chosen.score.low == pytest.approx(expected.low)  # the high is cut at 1
    assert paired_difference(values, {k: v - 0.1 for k, v in values.items()}, SHARE, same).n == 3


def test_a_finalist_without_scores_does_not_hide_the_comparison_that_exists() -> None:
    """Three finalists, the third failed every trial: the verdict says the evidence is short,
    and the difference to the second, which is real, is still shown."""
    best = _scores([0.80, 0.84, 0.82, 0.83, 0.81, 0.85])
    second = {key: value - 0.2 for key, value in best.items()}
    found = _recommend(
        {"full_finetune": best, "linear_probe": second, "lora": {}},
        0.25,
        missing={"lora": {"failed": 6}},
    )
    assert found.verdict == Verdict.INSUFFICIENT and found.strategy == "full_finetune"
    assert found.runner_up == "linear_probe" and found.difference.low > 0.1
    assert found.reason == (
        "not enough evidence against lora: 6 of 6 fold scores missing (6 failed); ahead of "
        "linear_probe by +0.200"
    )


def _with_reference(
    scores: dict, reference: dict, chance: float = 0.5, transferred: float | None = None
) -> Recommendation:
    lacking = {strategy: {} for strategy in scores}
    evaluation = Evaluation(scores, lacking, 3, 2, chance, SHARE, equivalence=0.01)
    found = recommend(evaluation, COSTS, METRIC, "max")
    found.reference = judge_reference(
        found,
        evaluation,
        reference,
        kind="tangent_space",
        mode="max",
        test_metrics={"balanced_accuracy": 0.81},
        seconds=2.0,
        transferred=transferred,
    )
    return found


def test_a_reference_better_than_every_deep_finalist_is_the_answer_said_first() -> None:
    tuned = _scores([0.70, 0.72, 0.68, 0.71, 0.69, 0.70])
    probe = _scores([0.60, 0.63, 0.61, 0.60, 0.62, 0.61])
    classical = {key: value + 0.15 + 0.01 * (i % 2) for i, (key, value) in enumerate(tuned.items())}
    found = _with_reference({"full_finetune": tuned, "linear_probe": probe}, classical, 0.5, 0.75)
    assert found.reference.verdict == ReferenceVerdict.BETTER and found.answered_by_reference
    assert found.strategy == "full_finetune"  # best_config still names the best deep one
    lines = found.text().splitlines()
    assert lines[0].startswith("Use the classical reference (tangent_space): better than every")
    assert "by +0.155 (95% CI" in lines[0] and "over full_finetune" in lines[0]
    assert lines[1].startswith("Best deep freeze strategy: full_finetune (")
    assert not any(line.startswith("Recommended") for line in lines)
    assert "    reference on the held-out test: balanced_accuracy 0.810" in lines
    assert (
        "    75% of its models also trained on the pretraining recordings (where a "
        "cross-validation inside the training part preferred them)"
    ) in lines
    assert Recommendation.from_dict(found.as_dict()).text() == found.text()


def test_a_reference_the_evidence_cannot_separate_is_never_claimed() -> None:
    """Ahead of the best deep finalist on average but within noise (or ahead of only one
    finalist beyond noise): the deep recommendation stands and the text says why."""
    tuned = _scores([0.70, 0.80, 0.62, 0.75, 0.66, 0.71])
    probe = _scores([0.50, 0.52, 0.49, 0.51, 0.50, 0.50])
    classical = _scores([0.78, 0.70, 0.80, 0.69, 0.77, 0.74])
    found = _with_reference({"full_finetune": tuned, "linear_probe": probe}, classical)
    assert found.reference.verdict == ReferenceVerdict.UNSEPARATED
    assert found.reference.difference.mean > 0 and found.reference.difference.low < 0
    assert not found.answered_by_reference
    text = found.text()
    assert text.startswith("Recommended freeze strategy: full_finetune")
    assert "reference minus full_finetune: +0.040" in text and "not separated" in text
    worse = _with_reference({"full_finetune": tuned}, {k: v - 0.2 for k, v in tuned.items()}, 0.25)
    assert worse.reference.verdict == ReferenceVerdict.WORSE
    one = _with_reference({"full_finetune": tuned}, {(0, 1): 0.99})  # one score: no interval
    assert one.reference.verdict == ReferenceVerdict.UNJUDGED and one.reference.score is None


def test_deep_strategies_at_chance_beside_a_reference_that_learns_say_where_the_fault_is() -> None:
    flat = _scores([0.50, 0.52, 0.48, 0.51, 0.49, 0.50])
    classical = _scores([0.80, 0.82, 0.78, 0.81, 0.79, 0.80])
    found = _with_reference({"linear_probe": flat}, classical)
    assert found.verdict == Verdict.CHANCE and found.strategy is None
    text = found.text()
    assert text.startswith("Use the classical reference (tangent_space)")
    assert "the data holds what the deep strategies did not learn" in text
    assert "Likely causes: the signal's scale" not in text


def test_a_reference_ahead_of_the_deep_finalists_but_not_of_chance_is_never_the_answer() -> None:
    flat = _scores([0.30, 0.25, 0.20, 0.28, 0.22, 0.26])
    wide = _scores([0.60, 0.20, 0.55, 0.15, 0.58, 0.25])  # ahead on average, chance inside
    found = _with_reference({"linear_probe": flat}, {k: v + 0.1 for k, v in flat.items()}, 0.25)
    assert found.reference.verdict == ReferenceVerdict.BETTER  # ahead and above chance
    found = _with_reference({"linear_probe": flat}, wide, chance=0.25)
    assert found.reference.score.low < 0.25 and not found.reference.beats_chance
    assert found.reference.verdict == ReferenceVerdict.CHANCE
    assert not found.answered_by_reference
    assert not found.text().startswith("Use the classical reference")
