"""The learning rate delivered with the recommended strategy: the search's, or one that scored
better on the same folds (``Confirmation.learning_rate_factors``)."""

import json

import pytest

from sweeps import protocol
from sweeps.evaluation import Evaluation
from sweeps.evidence import paired_difference
from sweeps.learning_rate_choice import LearningRateChoice, choose_learning_rate
from sweeps.ledger import TrialRecord
from sweeps.protocol import Phase, TrialStatus
from sweeps.spec import Confirmation

KEYS = [(fold, repetition) for fold in range(3) for repetition in (1, 2)]
SHARE = 0.25
SEARCHED = [0.80, 0.78, 0.83, 0.79, 0.81, 0.80]  # the finalist at the search's rate, 1e-3


def _at(strategy: str, lr: float, scores: list[float | None]) -> list[TrialRecord]:
    """The evaluation trials of ``strategy``'s config at ``lr`` (None: a failed trial)."""
    records = []
    for (fold, repetition), score in zip(KEYS, scores, strict=True):
        config = {
            "strategy": {"kind": strategy},
            "seed": repetition,
            "optimizer": {"lr": lr},
            "split": {"fold": fold, "folds": 3, "repetition": repetition},
        }
        failed = score is None
        records.append(
            TrialRecord(
                f"{strategy}{lr}{fold}{repetition}",
                Phase.LEARNING_RATE,
                config,
                status=TrialStatus.FAILED if failed else TrialStatus.FINISHED,
                history=[] if failed else [{protocol.FOLD + "balanced_accuracy": score}],
            )
        )
    return records


def _choose(trials: list[TrialRecord], mode: str = "max") -> LearningRateChoice | None:
    scores = {"full_finetune": dict(zip(KEYS, SEARCHED, strict=True))}
    evaluation = Evaluation(scores, {"full_finetune": {}}, 3, 2, 0.25, SHARE, 0.01)
    return choose_learning_rate(
        "full_finetune", 1e-3, evaluation, trials, "balanced_accuracy", mode
    )


def test_the_rate_that_scored_best_on_the_same_folds_is_delivered() -> None:
    higher = [0.88, 0.86, 0.90, 0.87, 0.89, 0.88]  # +0.078 on every fold
    lower = [0.60, 0.62, 0.58, 0.61, 0.59, 0.60]
    choice = _choose(_at("full_finetune", 3e-3, higher) + _at("full_finetune", 3e-4, lower))
    assert choice is not None and (choice.searched, choice.chosen) == (1e-3, 3e-3)
    assert choice.learning_rates == [3e-4, 3e-3]
    gain = choice.differences[1]
    assert gain is not None and gain.mean == pytest.approx(0.0783, abs=1e-4)
    assert gain == paired_difference(
        dict(zip(KEYS, higher, strict=True)), dict(zip(KEYS, SEARCHED, strict=True)), SHARE
    )
    assert choice.text().startswith(
        "learning rate 0.003 delivered instead of the search's 0.001; on the same folds "
        "against the search's: 0.0003: -0.202 (95% CI"
    )
    assert "(the best of these is chosen, so its gain is optimistic)" in choice.text()
    again = LearningRateChoice.from_dict(json.loads(json.dumps(choice.__dict__, default=vars)))
    assert again == choice  # as report.json holds it


def test_the_searchs_rate_stays_unless_another_does_better() -> None:
    worse = [0.79, 0.77, 0.80, 0.78, 0.80, 0.79]
    choice = _choose(_at("full_finetune", 3e-3, worse))
    assert choice is not None and choice.chosen == choice.searched == 1e-3
    assert choice.text().startswith("learning rate 0.001 delivered (the search's); ")
    # for a loss, lower is better: the same scores now favour 3e-3
    assert _choose(_at("full_finetune", 3e-3, worse), mode="min").chosen == 3e-3


def test_a_rate_with_fewer_than_two_scores_cannot_be_chosen() -> None:
    failed = [0.99, None, None, None, None, None]  # one high score is no evidence
    choice = _choose(_at("full_finetune", 1e-2, failed))
    assert choice is not None and choice.chosen == 1e-3 and choice.differences == [None]
    assert "0.01: not enough fold scores" in choice.text()


def test_nothing_is_chosen_when_the_verdict_picked_another_finalist() -> None:
    """Another finalist's rates (a sweep before 2026-12-03 evaluated the leader's): the
    recommended one keeps its own."""
    assert _choose(_at("linear_probe", 3e-3, [0.9] * 6)) is None
    assert _choose([]) is None


def test_a_factor_of_one_or_a_repeated_factor_is_refused() -> None:
    for factors in ([1.0], [3.0, 3.0]):
        with pytest.raises(ValueError, match="distinct factors other than 1"):
            Confirmation(learning_rate_factors=factors)
    with pytest.raises(ValueError, match="greater than 0"):
        Confirmation(learning_rate_factors=[0.0])
    assert Confirmation(learning_rate_factors=[0.3]).trials == (2 + 1) * 3 * 2
