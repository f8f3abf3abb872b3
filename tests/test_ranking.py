"""Ranking trials and strategies, and the searcher that queues confirmation trials, without Ray."""

import pickle

from ray.tune.search import Searcher

from sweeps import protocol
from sweeps.confirming_search import ConfirmingSearcher
from sweeps.ledger import TrialRecord
from sweeps.protocol import Phase, TrialStatus
from sweeps.report import leaderboard, rank_strategies

METRIC = "val_balanced_accuracy"


def _record(trial_id: str, strategy: str, values: list[float], **fields) -> TrialRecord:
    history = [{"epoch": i, METRIC: v, "epoch_time": 0.5} for i, v in enumerate(values, 1)]
    config = {"strategy": {"kind": strategy}, "seed": 0}
    return TrialRecord(trial_id, Phase.SEARCH, config, history=history, **fields)


RECORDS = [
    _record("a1", "linear_probe", [0.6, 0.8], status=TrialStatus.FINISHED),
    _record("a2", "linear_probe", [0.7], status=TrialStatus.PRUNED),
    _record("b1", "lora", [0.5, 0.8, 0.75], status=TrialStatus.FINISHED),
    _record("b2", "lora", [0.78], status=TrialStatus.PRUNED),
    _record("c1", "full_finetune", [0.9], status=TrialStatus.PRUNED),
    _record("d1", "mlp_probe", [], status=TrialStatus.FAILED),
]


def test_leaderboard_lists_trials_that_reported_by_their_best_epoch() -> None:
    board = leaderboard(RECORDS, METRIC, "max")
    assert [row["trial_id"] for row in board] == ["c1", "a1", "b1", "b2", "a2"]
    assert board[1] == {
        "trial_id": "a1",
        "strategy": "linear_probe",
        METRIC: 0.8,
        "epochs": 2,
        "status": TrialStatus.FINISHED,
        "trainable_params": None,
        "epoch_time": 0.5,
    }
    lowest_loss = leaderboard(RECORDS, METRIC, "min")
    assert lowest_loss[0]["trial_id"] == "b1"  # 0.5 is its lowest value


def test_strategies_rank_by_their_best_trial_then_their_top_k_mean() -> None:
    ranks = rank_strategies(RECORDS, METRIC, "max", top_k=2)
    assert [r.strategy for r in ranks] == ["full_finetune", "lora", "linear_probe"]
    lora, linear = ranks[1], ranks[2]
    assert lora.best == linear.best == 0.8  # a tie on the best trial...
    assert lora.top_k_mean == (0.8 + 0.78) / 2 > linear.top_k_mean == (0.8 + 0.7) / 2  # ...broken
    assert lora.best_trial_id == "b1" and lora.n_trials == 2


class Scripted(Searcher):
    """An inner searcher that proposes fixed configs and records what it is told."""

    def __init__(self, configs: list[dict]) -> None:
        super().__init__(metric=protocol.BEST_VALUE, mode="max")
        self.configs = list(configs)
        self.completed: list[str] = []

    def suggest(self, trial_id: str) -> dict | None:
        return self.configs.pop(0) if self.configs else None

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        self.completed.append(trial_id)


def _config(strategy: str, seed: int = 0) -> dict:
    return {protocol.TRIAL: {"strategy": {"kind": strategy}, "seed": seed}, protocol.CPUS: 1}


def test_confirmations_follow_the_search_with_fresh_seeds_of_the_top_two(tmp_path) -> None:
    inner = Scripted([_config("linear_probe"), _config("lora", 4), _config("from_scratch")])
    searcher = ConfirmingSearcher(inner, n_search=3, n_seeds=2, top_k=1, mode="max")
    assert [searcher.suggest(t) is not None for t in ("s1", "s2", "s3")] == [True] * 3
    assert searcher.suggest("early") is None  # waits until the search has ended
    for trial_id, value in (("s1", 0.8), ("s2", 0.9), ("s3", 0.6)):
        searcher.on_trial_complete(trial_id, {protocol.BEST_VALUE: value})
    assert inner.completed == ["s1", "s2", "s3"]

    saved = tmp_path / "searcher.pkl"
    searcher.save(str(saved))  # Tune saves it with the experiment; a resumed sweep restores it
    restored = ConfirmingSearcher(Scripted([]), 3, 2, 1, "max")
    restored.restore(str(saved))
    confirmations = [restored.suggest(f"c{i}") for i in range(4)]
    assert [
        (c[protocol.TRIAL]["strategy"]["kind"], c[protocol.TRIAL]["seed"]) for c in confirmations
    ] == [
        ("lora", 5),
        ("lora", 6),
        ("linear_probe", 1),
        ("linear_probe", 2),
    ]
    assert all(c[protocol.PHASE] == Phase.CONFIRMATION for c in confirmations)
    assert restored.suggest("c4") == Searcher.FINISHED
    restored.on_trial_complete("c0", {protocol.CONFIRMATION_VALUE: 0.9})
    assert restored.inner.completed == ["s1", "s2", "s3"]  # the study never sees "c0"
    assert pickle.loads(pickle.dumps(restored.ended))  # picklable state
