"""Ranking trials and strategies, and the searcher that queues confirmation trials, without Ray."""

import json

import pytest
from ray.tune.search import Searcher
from sweep_helpers import said

from sweeps import protocol
from sweeps.confirming_search import ConfirmingSearcher, evaluation_config
from sweeps.ledger import TrialRecord
from sweeps.protocol import Phase, TrialStatus
from sweeps.racing_search import RacingSearcher
from sweeps.ranking import leaderboard, rank_strategies
from sweeps.saved_state import SavedAsData
from sweeps.spec import Confirmation

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


class Scripted(SavedAsData):
    """An inner searcher that proposes fixed configs and records what it is told (the study's
    searcher's stand-in)."""

    def __init__(self, configs: list[dict]) -> None:
        super().__init__(metric=protocol.BEST_VALUE, mode="max")
        self.configs = list(configs)
        self.completed: list[str] = []

    def state(self) -> dict:
        return {"configs": self.configs, "completed": self.completed}

    def load(self, state: dict) -> None:
        self.configs, self.completed = state["configs"], state["completed"]

    def suggest(self, trial_id: str) -> dict | None:
        return self.configs.pop(0) if self.configs else None

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        self.completed.append(trial_id)


def _config(strategy: str, seed: int = 0) -> dict:
    trial = {
        "strategy": {"kind": strategy},
        "seed": seed,
        "split": {"seed": 0},
        "training": {"max_epochs": 20, "patience": 5},
    }
    return {protocol.TRIAL: trial, protocol.CPUS: 1}


def _ended(value: float) -> dict:
    return {protocol.BEST_VALUE: value}


def confirming(inner: SavedAsData, n_search: int, plan: Confirmation) -> ConfirmingSearcher:
    return ConfirmingSearcher(inner, n_search, plan, metric=METRIC, mode="max", chance=0.25)


def _fold_result(value: float) -> dict:
    return {protocol.CONFIRMATION_VALUE: value, protocol.FOLD + "balanced_accuracy": value}


def test_the_finalists_are_evaluated_on_every_fold_and_repetition_after_the_search(
    tmp_path,
) -> None:
    """The best config of each of the two best strategies, per fold and repetition (fresh
    folds and a fresh model seed each)."""
    inner = Scripted(
        [_config("mlp_probe"), _config("linear_probe"), _config("lora", 4), _config("from_scratch")]
    )
    plan = Confirmation(folds=3, seeds=2, finalists=2, learning_rate_factors=[])
    searcher = confirming(inner, 4, plan)
    assert [searcher.suggest(t) is not None for t in ("r1", "s1", "s2", "s3")] == [True] * 4
    assert searcher.suggest("early") is None  # waits until the search has ended
    for trial_id, value in (("r1", 0.85), ("s1", 0.8), ("s2", 0.9), ("s3", 0.6)):
        searcher.on_trial_complete(trial_id, _ended(value))
    assert inner.completed == ["r1", "s1", "s2", "s3"]

    saved = tmp_path / "searcher.pkl"
    searcher.save(str(saved))  # Tune saves it with the experiment; a resumed sweep restores it
    assert json.loads(saved.read_text())["inner"]["completed"] == ["r1", "s1", "s2", "s3"]
    restored = confirming(Scripted([]), 4, plan)
    restored.restore(str(saved))
    evaluations = [restored.suggest(f"e{i}") for i in range(12)]
    assert restored.suggest("e12") == Searcher.FINISHED
    planned = [
        (
            c[protocol.TRIAL]["strategy"]["kind"],
            c[protocol.TRIAL]["split"]["fold"],
            c[protocol.TRIAL]["split"]["repetition"],
        )
        for c in evaluations
    ]
    assert all(
        c[protocol.TRIAL]["seed"] == c[protocol.TRIAL]["split"]["repetition"] for c in evaluations
    )
    assert planned[:4] == [("lora", 0, 1), ("mlp_probe", 0, 1), ("lora", 0, 2), ("mlp_probe", 0, 2)]
    assert sorted(planned) == sorted(
        (s, f, seed) for s in ("lora", "mlp_probe") for f in range(3) for seed in (1, 2)
    )
    for config in evaluations:
        trial = config[protocol.TRIAL]
        assert type(config[protocol.PHASE]) is str and config[protocol.PHASE] == "confirmation"
        assert trial["split"]["folds"] == 3 and trial["training"] == {
            "max_epochs": 20,
            "patience": 5,
        }
    restored.on_trial_complete("e0", {protocol.CONFIRMATION_VALUE: 0.9})
    assert restored.inner.completed == ["r1", "s1", "s2", "s3"]  # the study never sees "e0"


@pytest.mark.parametrize(
    ("probe_scores", "recommended"),
    [
        ([0.80, 0.81, 0.81, 0.80, 0.80, 0.80], "mlp_probe"),  # tied with lora, and cheaper
        ([0.60, 0.62, 0.58, 0.61, 0.60, 0.59], "lora"),
    ],
)
def test_the_recommended_finalist_alone_is_evaluated_at_each_other_learning_rate(
    tmp_path, probe_scores: list[float], recommended: str
) -> None:
    """Once the finalists' evaluation has ended, by the verdict the report gives on it: on a
    tie the cheaper runner-up is recommended, and it gets the other learning rates."""
    configs = [_config(s) for s in ("lora", "mlp_probe", "linear_probe")]
    for config in configs:
        config[protocol.TRIAL]["optimizer"] = {"lr": 1e-3}
    plan = Confirmation(folds=3, seeds=2, finalists=2, learning_rate_factors=[0.3, 3])
    searcher = confirming(Scripted(configs), 3, plan)
    costs = {"a": 10_000, "b": 100, "c": 40}  # trainable parameters
    for trial_id, value in (("a", 0.9), ("b", 0.8), ("c", 0.7)):
        searcher.suggest(trial_id)
        for _ in range(2):
            epoch = {protocol.TRAINABLE_PARAMS: costs[trial_id], "epoch_time": 0.5}
            searcher.on_trial_result(trial_id, {**epoch, protocol.BEST_VALUE: value})
        searcher.on_trial_complete(trial_id, _ended(value))
    evaluations = {f"e{i}": searcher.suggest(f"e{i}") for i in range(12)}
    assert {c[protocol.PHASE] for c in evaluations.values()} == {"confirmation"}
    assert searcher.suggest("early") is None  # the verdict waits for every fold score
    scores = {"lora": iter([0.80, 0.82, 0.81, 0.79, 0.80, 0.81]), "mlp_probe": iter(probe_scores)}
    for trial_id, config in evaluations.items():
        if trial_id == "e11":  # a failed trial ends the evaluation too, without a score
            searcher.on_trial_complete(trial_id, error=True)
        else:
            kind = config[protocol.TRIAL]["strategy"]["kind"]
            searcher.on_trial_complete(trial_id, _fold_result(next(scores[kind])))
    saved = tmp_path / "searcher.pkl"
    searcher.save(str(saved))  # an interrupted sweep plans the other rates after its resume
    restored = confirming(Scripted([]), 3, plan)
    restored.restore(str(saved))
    rates = [restored.suggest(f"lr{i}") for i in range(12)]
    assert restored.suggest("last") == Searcher.FINISHED and plan.trials == (2 + 2) * 3 * 2
    planned = [
        (
            c[protocol.PHASE],
            c[protocol.TRIAL]["strategy"]["kind"],
            round(c[protocol.TRIAL]["optimizer"]["lr"], 12),
            c[protocol.TRIAL]["split"]["fold"],
            c[protocol.TRIAL]["split"]["repetition"],
        )
        for c in rates
    ]
    assert planned[:2] == [
        ("learning_rate", recommended, 3e-4, 0, 1),
        ("learning_rate", recommended, 3e-3, 0, 1),
    ]
    assert sorted(p[1:] for p in planned) == sorted(
        (recommended, lr, f, r) for lr in (3e-4, 3e-3) for f in range(3) for r in (1, 2)
    )


def test_nothing_recommended_means_no_other_learning_rates() -> None:
    """Every finalist at chance: the sweep ends after its evaluation."""
    configs = [_config(s) for s in ("lora", "mlp_probe")]
    plan = Confirmation(folds=3, seeds=1, finalists=2, learning_rate_factors=[3])
    searcher = confirming(Scripted(configs), 2, plan)
    for trial_id, value in (("a", 0.3), ("b", 0.28)):
        searcher.suggest(trial_id)
        searcher.on_trial_complete(trial_id, _ended(value))
    for i in range(6):
        searcher.suggest(f"e{i}")
        searcher.on_trial_complete(f"e{i}", _fold_result(0.25))
    assert searcher.suggest("last") == Searcher.FINISHED


def test_a_state_saved_when_every_evaluation_trial_was_planned_at_once_resumes_as_is() -> None:
    """Before 2026-12-03 the leader's other learning rates were queued with the finalists':
    a sweep saved then proposes its queue and ends, without waiting for a verdict."""
    plan = Confirmation(folds=3, seeds=1, learning_rate_factors=[3])
    queued = evaluation_config(_config("lora"), fold=0, folds=3, repetition=1)
    searcher = confirming(Scripted([]), 0, plan)
    inner = {"configs": [], "completed": []}
    searcher.load({"configs": {}, "ended": {}, "inner": inner, "queue": [queued]})
    assert searcher.suggest("e0") == queued and searcher.suggest("e1") == Searcher.FINISHED


def test_an_evaluation_without_patience_of_its_own_stops_after_a_quarter_of_its_epochs() -> None:
    config = _config("lora")
    config[protocol.TRIAL]["training"] = {"max_epochs": 20, "patience": None}
    evaluated = evaluation_config(config, fold=2, folds=3, repetition=1)[protocol.TRIAL]
    assert evaluated["training"] == {"max_epochs": 20, "patience": 5}
    assert evaluated["split"] == {"seed": 0, "folds": 3, "fold": 2, "repetition": 1}
    assert evaluated["seed"] == 1
    assert config[protocol.TRIAL]["training"]["patience"] is None  # the search trial's is kept


class SearchOfScripted:
    """The winner's search: two configs of that strategy."""

    def __call__(self, winner: str) -> Scripted:
        return Scripted([_config(winner, 1), _config(winner, 2)])


def test_the_race_ends_before_the_winner_is_searched_in_the_same_run(tmp_path) -> None:
    race = Scripted([_config("linear_probe"), _config("lora"), _config("full_finetune")])
    searcher = RacingSearcher(race, 3, SearchOfScripted(), "max")
    assert all(searcher.suggest(t) is not None for t in ("r1", "r2", "r3"))
    searcher.on_trial_complete("r1", _ended(0.7))
    searcher.on_trial_complete("r3", error=True)
    assert searcher.suggest("early") is None  # r2 still runs: the race has not ended
    searcher.on_trial_complete("r2", _ended(0.9))
    assert race.completed == ["r1", "r3", "r2"]

    saved = tmp_path / "racing.pkl"
    searcher.save(str(saved))  # a sweep interrupted at the end of its race resumes from here
    restored = RacingSearcher(Scripted([]), 3, SearchOfScripted(), "max")
    restored.restore(str(saved))
    tuned = [restored.suggest(t) for t in ("s1", "s2")]
    assert [c[protocol.TRIAL]["strategy"]["kind"] for c in tuned] == ["lora", "lora"]
    assert [c[protocol.TRIAL]["seed"] for c in tuned] == [1, 2]
    restored.on_trial_complete("s1", _ended(0.95))
    assert restored.search.completed == ["s1"] and restored.inner.completed == ["r1", "r3", "r2"]
    with said("sweeps.racing_search") as lines:
        searcher.suggest("s1")
    assert lines == ["the race is won by lora: tuning it"]
    # Tune saves the searcher every second, inside the finalists' one
    wrapped = confirming(searcher, 5, Confirmation())
    wrapped.save(str(tmp_path / "confirming.pkl"))
    rebuilt = RacingSearcher(Scripted([]), 3, SearchOfScripted(), "max")  # as from the spec
    resumed = confirming(rebuilt, 5, Confirmation())
    resumed.restore(str(tmp_path / "confirming.pkl"))
    assert resumed.inner.search is not None
    assert resumed.suggest("s2")[protocol.TRIAL]["seed"] == 2  # the winner's search goes on


def test_a_race_where_every_trial_failed_searches_nothing() -> None:
    searcher = RacingSearcher(Scripted([_config("lora")]), 1, SearchOfScripted(), "max")
    searcher.suggest("r1")
    searcher.on_trial_complete("r1", error=True)
    assert searcher.suggest("s1") == Searcher.FINISHED
