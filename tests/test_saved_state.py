"""What a sweep saves for its resume is data, not our classes: a sweep directory written by the
previous layout resumes, and the searchers' state round-trips through JSON."""

import json
import pickle
import sqlite3
import sys
import tarfile
import types
from pathlib import Path

import optuna
import pytest
import yaml
from sweep_helpers import saved_states_naming_us, small_spec

from probe_core import EEGDataset
from search_spaces import applicable_strategies, make_context
from search_spaces.config_paths import with_values
from sweeps.cli import EXIT_NOTHING_LEARNT, main
from sweeps.errors import SweepError
from sweeps.ledger import Ledger
from sweeps.protocol import TRIAL, Phase
from sweeps.saved_state import check_restorable
from sweeps.spec import load_sweep_spec
from sweeps.sweep_dir import RACE, SEARCH
from sweeps.tune_run import race_spec, study_searcher

PREVIOUS_LAYOUT = Path(__file__).parent / "data" / "previous_layout_sweep.tar.xz"
"""``probe-sweep run --auto`` of EEGNet on synthetic data (6 strategies raced, then 3 trials of
the winner's search, then 2 folds x 2 finalists), stopped with Ctrl-C after the race and one
search trial, by commit ded0f95: searchers pickled whole into Tune's state, ``tuner.pkl``, and
a function of ours in Tune's trial states. Its MLflow store (``mlflow.db``) lies beside it. It
was made in ``/tmp/legacy``: unpacked anywhere else, its resume also checks that the trials it
starts are stored where it lies now."""


def _unpack_previous_layout(tmp_path: Path, ray_address: str) -> Path:
    with tarfile.open(PREVIOUS_LAYOUT) as archive:
        archive.extractall(tmp_path, filter="data")
    sweep_dir = tmp_path / "sweeps" / "legacy"
    spec = yaml.safe_load((sweep_dir / "spec.yaml").read_text())
    spec["tracking"]["uri"] = f"sqlite:///{tmp_path / 'mlflow.db'}"  # where it lies now
    spec["ray_address"] = ray_address
    (sweep_dir / "spec.yaml").write_text(yaml.safe_dump(spec))
    with sqlite3.connect(tmp_path / "mlflow.db") as store:  # its artifacts too, not /tmp/legacy
        for table, column in (("experiments", "artifact_location"), ("runs", "artifact_uri")):
            store.execute(
                f"UPDATE {table} SET {column} = replace({column}, ?, ?)",
                ("file:///tmp/legacy/", tmp_path.as_uri() + "/"),
            )
    return sweep_dir


def test_a_sweep_interrupted_under_the_previous_layout_resumes(ray_cluster, tmp_path) -> None:
    sweep_dir = _unpack_previous_layout(tmp_path, ray_cluster.address)
    before = Ledger(sweep_dir / "trials.jsonl").trials
    finished_before = {tid for tid, r in before.items() if r.status == "FINISHED"}
    assert len(finished_before) == 7 and len(before) == 8  # the race, one search trial, one running

    assert main(["resume", str(sweep_dir)]) in (0, EXIT_NOTHING_LEARNT)

    trials = Ledger(sweep_dir / "trials.jsonl").trials
    searched = [r for r in trials.values() if r.phase == Phase.SEARCH]
    assert len(searched) == 6 + 3 and all(r.status == "FINISHED" for r in searched)
    assert all(trials[tid].restarts == 0 for tid in finished_before)  # none trained again
    after_race = [r for r in searched if r.trial_id not in finished_before]
    assert len(after_race) == 2  # the one interrupted (continued) and the last one
    assert {r.strategy for r in after_race} == {"from_scratch"}  # the race's winner, still
    evaluated = [r for r in trials.values() if r.phase == Phase.CONFIRMATION]
    assert len(evaluated) == 2 * 2 and {r.strategy for r in evaluated} == {
        "from_scratch",
        "mlp_probe",
    }
    # started before the learning-rate step was on by default: resumed without it
    assert not [r for r in trials.values() if r.phase == Phase.LEARNING_RATE]
    assert json.loads((sweep_dir / "report.json").read_text())["recommendation"]["verdict"]
    assert saved_states_naming_us(sweep_dir / "search") == []  # converted, and saved after


def test_a_sweep_resumes_with_the_plan_it_started_with(tmp_path) -> None:
    """A field its spec.yaml lacks did not exist when it started: read as it ran then."""
    spec = small_spec(tmp_path, "planned", confirmation={"seeds": 1, "folds": 2})
    assert spec.confirmation.learning_rate_factors == [0.3, 3.0]  # today's default
    directory = spec.sweep_dir()
    directory.path.mkdir(parents=True)
    written = yaml.safe_load(spec.to_yaml())
    directory.spec.write_text(yaml.safe_dump(written))
    assert load_sweep_spec(directory).confirmation.learning_rate_factors == [0.3, 3.0]
    del written["confirmation"]["learning_rate_factors"]  # as written before 2026-12-03
    directory.spec.write_text(yaml.safe_dump(written))
    assert load_sweep_spec(directory).confirmation.learning_rate_factors == []


def _two_subjects(tmp_path: Path) -> tuple:
    spec = small_spec(tmp_path, "study", num_samples=6)
    spec = spec.model_copy(update={"sampler": spec.sampler.model_copy(update={"name": "random"})})
    data: EEGDataset = spec.data.build()
    return spec, make_context(spec.base_trial(), data)


def test_the_study_searcher_saves_data_and_a_resumed_one_goes_on_without_repeating(
    tmp_path,
) -> None:
    """Asked and told trials survive a save as JSON; the rebuilt searcher's study holds them, is
    not warm-started again, and samples afresh instead of repeating the first trials."""
    spec, context = _two_subjects(tmp_path)
    directory = spec.sweep_dir()
    directory.path.mkdir(parents=True)
    searcher = study_searcher(spec, context, directory, SEARCH)
    warm = len(searcher.study.trials)
    assert warm >= 2  # one enqueued trial per applicable strategy
    first = [searcher.suggest(f"t{i}") for i in range(warm + 2)]
    searcher.on_trial_complete("t0", {"best_value": 0.75})
    searcher.on_trial_complete("t1", error=True)
    searcher.save(str(tmp_path / "searcher-state.pkl"))
    saved = json.loads((tmp_path / "searcher-state.pkl").read_text())
    assert sorted(saved["told"]) == ["t0", "t1"] and len(saved["asked"]) == warm + 2

    resumed = study_searcher(spec, context, directory, SEARCH)
    resumed.restore(str(tmp_path / "searcher-state.pkl"))
    assert len(resumed.study.trials) == warm + 2  # nothing enqueued again
    resumed.on_trial_complete("t2", {"best_value": 0.5})  # a trial running at the interruption
    states = [t.state for t in resumed.study.trials[:3]]
    assert states == [
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.FAIL,
        optuna.trial.TrialState.COMPLETE,
    ]
    resumed.on_trial_complete("t0", {"best_value": 0.1})  # told twice: the first value stays
    assert resumed.study.trials[0].value == 0.75
    later = resumed.suggest("t9")
    sampled_after_warm = first[warm:]
    assert all(later["trial"] != config["trial"] for config in sampled_after_warm)


def test_a_warm_start_at_two_learning_rates_enqueues_the_base_rate_first(tmp_path) -> None:
    """The sweep's study holds every strategy at the base rate, then as many at twice it as the
    sweep's trials leave room for."""
    spec, context = _two_subjects(tmp_path)
    kinds = applicable_strategies(context.facts)
    spec = spec.model_copy(
        update={"warm_start_lr_factors": [1.0, 2.0], "num_samples": len(kinds) + 1}
    )
    directory = spec.sweep_dir()
    directory.path.mkdir(parents=True)
    enqueued = [
        t.system_attrs["fixed_params"]
        for t in study_searcher(spec, context, directory, SEARCH).study.trials
    ]
    base = context.base.optimizer.lr
    assert [(p["strategy"], p["lr"]) for p in enqueued] == [(k, base) for k in kinds] + [
        (kinds[0], 2 * base)
    ]


def test_the_auto_race_is_enqueued_whole_so_a_resumed_race_keeps_its_length(tmp_path) -> None:
    """``--auto``'s race: every strategy at its defaults, at the base learning rate and ten
    times it, all in the race study from its start; a resumed sweep counts its race from there
    (a race saved before the second rate existed held one trial per strategy, and stays so)."""
    spec, context = _two_subjects(tmp_path)
    kinds = applicable_strategies(context.facts)
    directory = spec.sweep_dir()
    directory.path.mkdir(parents=True)
    race = study_searcher(race_spec(spec, context), context, directory, RACE)
    assert len(race.study.trials) == 2 * len(kinds)
    proposed = [race.suggest(f"t{i}")[TRIAL] for i in range(2 * len(kinds))]
    base, rates = context.base, (0.003, 0.01)  # 10 × 0.003 clipped to the space's 1e-2
    assert proposed == [
        with_values(base, {"strategy": {"kind": k}, "optimizer.lr": lr}).model_dump(mode="json")
        for lr in rates
        for k in kinds
    ]
    resumed = study_searcher(race_spec(spec, context), context, directory, RACE)
    assert len(resumed.study.trials) == 2 * len(kinds)  # nothing enqueued again


def test_a_saved_state_tune_could_not_read_back_stops_the_resume_in_one_line(tmp_path) -> None:
    """Tune would start the whole run again (its trials rerun, the ledger doubled): a trial
    state that names a function no longer importable is refused first, naming the file."""
    vanishing = types.ModuleType("vanishing_module")
    exec("def name_trial(trial): return trial.trial_id", vanishing.__dict__)
    sys.modules["vanishing_module"] = vanishing
    try:
        pickled = pickle.dumps(vanishing.name_trial)
    finally:
        del sys.modules["vanishing_module"]
    fallback = {"_type": "CLOUDPICKLE_FALLBACK", "value": pickled.hex()}
    state = tmp_path / "experiment_state-2026-12-02_00-00-00.json"
    state.write_text(json.dumps({"trial_data": [[json.dumps({"creator": fallback}), "{}"]]}))
    with pytest.raises(SweepError, match=r"experiment_state-.*cannot read the sweep's saved run"):
        check_restorable(tmp_path)
    state.write_text(json.dumps({"trial_data": [[json.dumps({"trial_id": "a"}), "{}"]]}))
    check_restorable(tmp_path)  # readable: nothing said
