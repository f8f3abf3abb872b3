"""End-to-end sweeps on a real two-node Ray cluster with real MLflow stores."""

import json
import math
import signal
import urllib.request

import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient
from sweep_helpers import MlflowServer, eventually, runs_by_kind, small_spec, write_spec

from probe_core import TrialConfig, run_trial
from sweeps import protocol
from sweeps.cli import main
from sweeps.ledger import Ledger
from sweeps.trainable import CHECKPOINT_FILE


def test_every_trial_is_one_child_run_under_one_parent(finished_sweep) -> None:
    spec, sweep_dir = finished_sweep
    parents, children = runs_by_kind(spec.tracking.uri, "main")
    assert len(parents) == 1
    assert parents[0].data.tags["data_fitted"] == "as loaded"  # ShallowFBCSPNet: no profile
    parent_id = parents[0].info.run_id
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent_id}
    search = [c for c in children if c.data.tags["phase"] == "search"]
    confirmation = [c for c in children if c.data.tags["phase"] == "confirmation"]
    assert len(search) == 8 and len(confirmation) == 2 * 3  # two finalists × 3 folds × 1 seed
    rates = [c for c in children if c.data.tags["phase"] == "learning_rate"]
    assert len(rates) == 2 * 3  # the recommended at 2 other learning rates × 3 folds × 1 seed
    (reference,) = [c for c in children if c.data.tags["phase"] == "classical_reference"]
    assert len(children) == 8 + 6 + 6 + 1
    folds = MlflowClient(spec.tracking.uri).get_metric_history(
        reference.info.run_id, "fold_balanced_accuracy"
    )
    assert sorted(m.step for m in folds) == [0, 1, 2]  # the finalists' 3 folds × 1 repetition
    ledger = Ledger(sweep_dir / "trials.jsonl")
    assert {r.run_id for r in ledger.of_phase("search")} == {c.info.run_id for c in search}


def test_child_runs_carry_params_epoch_metrics_tags_and_status(finished_sweep) -> None:

    spec, sweep_dir = finished_sweep
    client = MlflowClient(spec.tracking.uri)
    ledger = Ledger(sweep_dir / "trials.jsonl")
    statuses = set()
    for record in ledger.of_phase("search"):
        run = client.get_run(record.run_id)
        assert run.data.params["backbone.name"] == "ShallowFBCSPNet"
        assert run.data.params["strategy.kind"] == record.strategy == run.data.tags["strategy"]
        assert float(run.data.params["optimizer.lr"]) == record.config["optimizer"]["lr"]
        history = client.get_metric_history(record.run_id, "val_balanced_accuracy")
        assert [m.step for m in history] == list(range(1, len(record.history) + 1))
        assert [m.value for m in history] == [h["val_balanced_accuracy"] for h in record.history]
        assert run.data.metrics["best_value"] == record.best("val_balanced_accuracy", "max")
        pruned = len(record.history) < 4
        assert record.status == ("PRUNED" if pruned else "FINISHED")
        assert run.info.status == ("KILLED" if pruned else "FINISHED")
        assert run.data.tags["pruned"] == str(pruned)
        statuses.add(record.status)
    assert statuses == {"PRUNED", "FINISHED"}  # ASHA stopped some trials early


def test_report_recommendation_and_best_config(finished_sweep) -> None:
    import json

    spec, sweep_dir = finished_sweep
    report = json.loads((sweep_dir / "report.json").read_text())
    recommendation = report["recommendation"]
    board = report["leaderboard"]
    assert (
        len(board) == 8 and board[0]["val_balanced_accuracy"] >= board[-1]["val_balanced_accuracy"]
    )
    ranked = [s["strategy"] for s in report["strategies"]]
    assert recommendation["verdict"] in ("better", "unseparated", "tied")  # something learnt
    finalists = {f["strategy"]: f for f in recommendation["finalists"]}
    assert set(finalists) == set(ranked[:2]) and recommendation["strategy"] in finalists
    chosen = finalists[recommendation["strategy"]]
    if recommendation["verdict"] != "tied":  # only a tie may give up the better mean
        assert chosen["score"]["mean"] == max(f["score"]["mean"] for f in finalists.values())
    assert chosen["score"]["n"] == 3 and chosen["score"]["low"] > recommendation["chance"] == 0.5
    assert 0.0 <= recommendation["test_metrics"]["balanced_accuracy"] <= 1.0
    assert (sweep_dir / "best_config.yaml").is_file()
    parents, _ = runs_by_kind(spec.tracking.uri, "main")
    parent = parents[0]
    assert parent.data.tags["recommended_strategy"] == recommendation["strategy"]
    assert parent.data.tags["verdict"] == recommendation["verdict"]
    assert math.isclose(parent.data.metrics["recommended_mean"], chosen["score"]["mean"])
    assert math.isclose(parent.data.metrics["recommended_ci_low"], chosen["score"]["low"])
    text = (sweep_dir / "recommendation.txt").read_text()
    assert f"{chosen['score']['mean']:.3f} (95% CI {chosen['score']['low']:.3f}" in text
    reference = recommendation["reference"]  # on the same folds, held against the finalists
    assert reference["kind"] == "tangent_space" and reference["score"]["n"] == 3
    assert reference["against"] == recommendation["strategy"]
    assert reference["verdict"] != "unjudged" and reference["difference"]["n"] == 3
    assert reference["beats_chance"] == (reference["score"]["low"] > 0.5)  # its verdict's basis
    assert math.isclose(parent.data.metrics["reference_mean"], reference["score"]["mean"])
    assert parent.data.tags["reference_verdict"] == reference["verdict"]
    assert f"classical reference (tangent_space): {reference['score']['mean']:.3f}" in text
    # the answer where MLflow opens: the parent's description, and the experiment's
    description = parent.data.tags["mlflow.note.content"]
    first = text.splitlines()[0]
    assert description.startswith(f"### {first}\n") and "8 trials: " in description
    score = f"{chosen['score']['mean']:.3f} (95% CI {chosen['score']['low']:.3f}"
    assert f"| **{recommendation['strategy']}** | {score}" in description
    assert f"- classical reference (tangent_space): {reference['score']['mean']:.3f}" in description
    experiment = MlflowClient(spec.tracking.uri).get_experiment(parent.info.experiment_id)
    assert "Each top-level run is one sweep" in experiment.tags["mlflow.note.content"]

    artifacts = {a.path for a in MlflowClient(spec.tracking.uri).list_artifacts(parent.info.run_id)}
    assert {"spec.yaml", "best_config.yaml", "leaderboard.json", "recommendation.txt"} <= artifacts
    assert "summary.html" in artifacts
    page = (sweep_dir / "summary.html").read_text()
    assert f"Recommended freeze strategy: {recommendation['strategy']}" in page
    assert page.count("data:image/png;base64,") >= 3  # strategies, curves, confusion matrix
    client = MlflowClient(spec.tracking.uri)
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert "model" in artifacts and "model/MLmodel" in {
        a.path for a in client.list_artifacts(parent.info.run_id, "model")
    }
    versions = client.search_model_versions("name = 'probe-sweep-test'")
    assert len(versions) == 1 and versions[0].run_id == parent.info.run_id
    records = Ledger(sweep_dir / "trials.jsonl").of_phase("search")
    reported = {r.strategy for r in records if r.best(spec.metric, spec.mode) is not None}
    assert plots == {
        "plots/strategies.png",
        "plots/learning_curves.png",
        "plots/optimization_history.png",
        "plots/param_importances.png",
        "plots/confusion_matrix.png",
        *(f"plots/parameters_{strategy}.png" for strategy in reported),
    }
    # pictures side by side only in pairs: none beside an empty cell
    for section in page.split("<h2>")[1:]:
        assert section.count("<img class=half") in (0, 2), section[:80]


def test_the_recommended_ones_other_learning_rates_choose_the_delivered_one(
    finished_sweep,
) -> None:
    """Recomputed from the ledger: the recommended finalist's best config at each other
    learning rate, paired with its fold scores at the search's; the best gain (if above 0) is
    the learning rate of best_config.yaml and of the test, and the text says which."""
    _, sweep_dir = finished_sweep
    recommendation = json.loads((sweep_dir / "report.json").read_text())["recommendation"]
    ledger = Ledger(sweep_dir / "trials.jsonl")
    others = ledger.of_phase("learning_rate")
    assert {r.strategy for r in others} == {recommendation["strategy"]}
    best = TrialConfig.load(sweep_dir / "best_config.yaml")
    choice = recommendation["learning_rate"]
    searched = choice["searched"]
    assert choice["learning_rates"] == pytest.approx([searched * 0.1, searched * 3])

    def scores(records) -> dict:
        return {
            (r.config["split"]["fold"], r.config["seed"]): r.history[-1]["fold_balanced_accuracy"]
            for r in records
            if r.strategy == recommendation["strategy"] and r.status == "FINISHED"
        }

    at_search = scores(ledger.of_phase("confirmation"))
    gains = {}
    for lr, found in zip(choice["learning_rates"], choice["differences"], strict=True):
        mine = scores(r for r in others if r.config["optimizer"]["lr"] == lr)
        shared = set(mine) & set(at_search)
        assert found["n"] == len(shared) == 3
        gains[lr] = sum(mine[k] - at_search[k] for k in shared) / len(shared)
        assert found["mean"] == pytest.approx(gains[lr])
    top = max(gains, key=gains.get)
    assert choice["chosen"] == (top if gains[top] > 0 else searched)
    assert best.optimizer.lr == choice["chosen"]
    # the delivered config learnt: its held-out test is above chance (2 classes)
    assert recommendation["test_metrics"]["balanced_accuracy"] > recommendation["chance"] == 0.5
    text = (sweep_dir / "recommendation.txt").read_text()
    assert f"  learning rate {choice['chosen']:.2g} delivered" in text


def test_a_task_with_nothing_to_learn_recommends_nothing(ray_cluster, tmp_path, capsys) -> None:
    """Every epoch the same signal: no strategy can beat chance, and the sweep says so, exits
    3 and writes no best config or model."""

    from probe_core.data_sources import NpzData
    from probe_core.synthetic import SyntheticData

    one = SyntheticData(subjects=[0], trials_per_class=1).build()
    path = tmp_path / "blank.npz"
    np.savez(
        path,
        X=np.repeat(one.X[:1], 48, axis=0),
        y=np.tile([0, 1], 24),
        subjects=np.repeat([0, 1], 24),
        ch_names=np.array(one.ch_names),
        sfreq=one.sfreq,
    )
    spec = small_spec(
        tmp_path,
        "blank",
        ray_address=ray_cluster.address,
        trial={"training": {"max_epochs": 2, "batch_size": 8}},
        num_samples=2,
        confirmation={"seeds": 1, "folds": 3},
    ).model_copy(update={"data": NpzData(path=path)})
    assert main(["run", str(write_spec(tmp_path, spec))]) == 3
    out = capsys.readouterr().out
    assert "No strategy beats chance: the best, " in out and "chance 0.500" in out
    sweep_dir = spec.sweep_dir()
    report = json.loads(sweep_dir.report.read_text())
    assert report["recommendation"]["verdict"] == "chance"
    assert report["recommendation"]["strategy"] is None
    assert not sweep_dir.best_config.exists() and not sweep_dir.model.exists()
    parents, _ = runs_by_kind(spec.tracking.uri, "blank")
    assert parents[0].data.tags["verdict"] == "chance"
    assert parents[0].data.metrics["chance_level"] == 0.5
    artifacts = {
        a.path for a in MlflowClient(spec.tracking.uri).list_artifacts(parents[0].info.run_id)
    }
    assert "model" not in artifacts and "recommendation.txt" in artifacts


def test_trials_checkpoint_every_n_epochs_and_at_their_end(finished_sweep) -> None:
    """Every 2nd epoch, as the spec asks, and the epoch ASHA stopped a trial at; 2 kept."""
    _, sweep_dir = finished_sweep
    for record in Ledger(sweep_dir / "trials.jsonl").of_phase("search"):
        trial_dir = sweep_dir / "search" / record.trial_id
        saved = {
            torch.load(path, weights_only=True)["epoch"]
            for path in trial_dir.glob(f"checkpoint_*/{CHECKPOINT_FILE}")
        }
        epochs = len(record.history)
        written = sorted({*range(2, epochs + 1, 2), epochs})
        assert saved == set(written[-2:]), record.trial_id


def test_train_best_config_reproduces_the_best_trial(finished_sweep, capsys) -> None:
    """The search's config trains as its trial did; ``probe-sweep train`` trains the delivered
    one (at another learning rate where the evaluation chose one) as ``run_trial`` does."""
    spec, sweep_dir = finished_sweep
    delivered = TrialConfig.load(sweep_dir / "best_config.yaml")
    choice = json.loads((sweep_dir / "report.json").read_text())["recommendation"]["learning_rate"]
    lr = choice["searched"] if choice else delivered.optimizer.lr
    best = delivered.model_copy(
        update={"optimizer": delivered.optimizer.model_copy(update={"lr": lr})}
    )
    ledger = Ledger(sweep_dir / "trials.jsonl")
    record = next(r for r in ledger.of_phase("search") if r.config == best.model_dump(mode="json"))
    expected = record.best("val_balanced_accuracy", "max")
    result = run_trial(best)
    if len(record.history) == best.training.max_epochs:
        assert result.val_metrics["balanced_accuracy"] == expected
    if best != delivered:
        result = run_trial(delivered)
    capsys.readouterr()
    assert main(["train", str(sweep_dir / "best_config.yaml")]) == 0
    out = capsys.readouterr().out
    printed = json.loads(out[out.index("{") :])
    assert printed["val_balanced_accuracy"] == pytest.approx(
        result.val_metrics["balanced_accuracy"]
    )


def test_status_and_report_commands(finished_sweep, capsys) -> None:
    _, sweep_dir = finished_sweep
    assert main(["status", str(sweep_dir)]) == 0
    out = capsys.readouterr().out
    assert "8/8 trials started" in out and "pruned" in out
    assert main(["report", str(sweep_dir)]) == 0
    assert "Recommended freeze strategy:" in capsys.readouterr().out


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_ui_serves_the_sweep_on_loopback_and_its_servers_end_with_it(finished_sweep, stop):
    """Ctrl-C, SIGTERM (a process manager, a background job) or SIGKILL: MLflow's UI with its
    workers and the Optuna dashboard end with ``probe-sweep ui``."""
    from sweep_helpers import cli, descendants, running, wait_for

    spec, sweep_dir = finished_sweep
    ui = cli("ui", str(sweep_dir))
    try:
        mlflow_line, dashboard_line = ui.stdout.readline(), ui.stdout.readline()
        assert mlflow_line.startswith("MLflow UI: http://127.0.0.1:"), mlflow_line
        url = mlflow_line.split(": ", 1)[1].strip()
        page, options = url.split("?")
        # the runs table, with the view saved with the experiment (the browser test shows it)
        assert options == "workflowType=machine_learning&viewStateShareKey=probe-sweep", options
        base, experiment_id = page.removesuffix("/runs").split("/#/experiments/")
        query = f"{base}/api/2.0/mlflow/experiments/get?experiment_id={experiment_id}"
        experiment = json.loads(urllib.request.urlopen(query, timeout=10).read())["experiment"]
        assert experiment["name"] == "main"
        tags = {t["key"]: t["value"] for t in experiment["tags"]}
        assert tags["mlflow.experimentKind"] == "custom_model_development"
        view = json.loads(tags["mlflow.sharedViewState.probe-sweep"])
        assert "selectedColumns" in json.loads(view["state"])
        assert dashboard_line.startswith("Optuna dashboard: http://127.0.0.1:"), dashboard_line
        dashboard = dashboard_line.split(": ", 1)[1].strip()
        studies = json.loads(urllib.request.urlopen(f"{dashboard}/api/studies", timeout=10).read())
        assert {study["study_name"] for study in studies["study_summaries"]} == {"main.search"}
        servers = descendants(ui.pid)
        assert len(servers) >= 4  # a guard and a server each, and MLflow's workers

        ui.send_signal(stop)
        assert ui.wait(timeout=60) == (-stop if stop == signal.SIGKILL else 0)
        wait_for(lambda: not running(servers), timeout_s=30)
        for address in (base, dashboard):
            with pytest.raises(OSError):
                urllib.request.urlopen(address, timeout=5)
    finally:
        ui.kill()


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real ``mlflow server`` process on 127.0.0.1."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow_server"))
    server.start()
    yield server.uri
    server.stop()


def _wait_until_idle(timeout_s: float = 60.0) -> None:
    """Actors of a finished sweep release their resources asynchronously."""
    import ray

    def idle() -> bool:
        total, free = ray.cluster_resources(), ray.available_resources()
        return all(free.get(k, 0) >= v for k, v in total.items() if k in ("CPU", "GPU"))

    if ray.is_initialized():
        eventually(idle, timeout_s)


def test_sweep_logs_to_a_tracking_server_from_trials_on_both_nodes(
    ray_cluster, mlflow_server, tmp_path, capsys
) -> None:
    from sweeps.sweep import run_sweep

    _wait_until_idle()
    spec = small_spec(
        tmp_path,
        "served",
        ray_address=ray_cluster.address,
        tracking={"uri": mlflow_server},
        num_samples=3,
        max_concurrent=3,
        resources={"cpus": 2},
        reuse_actors=False,
    )
    outcome = run_sweep(spec)
    assert "View run" not in capsys.readouterr().out  # MLflow's two lines per run, silenced
    parents, runs = runs_by_kind(mlflow_server, "served")
    children = [c for c in runs if c.data.tags["phase"] != "classical_reference"]
    (reference,) = [c for c in runs if c.data.tags["phase"] == "classical_reference"]
    assert len(parents) == 1 and len(children) == 3
    assert all(c.info.status == "FINISHED" for c in runs)
    # no evaluation planned (confirmation.seeds 0): the reference is scored on the test split
    assert reference.info.run_name == "classical reference (tangent_space)"
    assert reference.data.metrics["test_balanced_accuracy"] >= 0.5
    assert reference.data.params["banks"].startswith("[[[8.0, 30.0]]")
    assert outcome.recommendation is not None
    assert parents[0].data.tags["recommended_strategy"] == outcome.recommendation.strategy
    # a 2-CPU trial fills a node, and without actor reuse a trial cannot wait for the warm
    # actor of another: the placement groups Tune requests together land on both nodes
    assert len({c.data.tags["node_id"] for c in children}) == 2


def test_half_gpu_trials_pack_two_per_gpu(ray_cluster, tmp_path) -> None:
    from sweeps.sweep import run_sweep

    _wait_until_idle()
    spec = small_spec(
        tmp_path,
        "gpus",
        ray_address=ray_cluster.address,
        num_samples=4,
        max_concurrent=4,
        resources={"cpus": 0.5, "gpus": 0.5},
        reuse_actors=False,  # four actors at once, each holding its half GPU
        trial={"training": {"max_epochs": 15, "batch_size": 8}},
    )
    run_sweep(spec)
    records = Ledger(tmp_path / "sweeps" / "gpus" / "trials.jsonl").of_phase("search")
    assert {r.placement["gpu_ids"] for r in records} <= {"0", "1"}  # one GPU id each
    assert len({r.placement["node_id"] for r in records}) == 1  # only the worker has GPUs
    # who held which GPU when: never more than two 0.5-GPU trials on one GPU at a time; two
    # did share one; when more than two ran at once, both GPUs were in use
    spans = [
        (
            r.history[0]["time"] - r.history[0]["epoch_time"],
            r.history[-1]["time"],
            r.placement["gpu_ids"],
        )
        for r in records
    ]
    shared = False
    for start, _, _ in spans:
        running = [gpu for s, e, gpu in spans if s <= start <= e]
        assert max(running.count("0"), running.count("1")) <= 2
        shared = shared or max(running.count("0"), running.count("1")) == 2
        if len(running) > 2:
            assert set(running) == {"0", "1"}
    assert shared


def test_auto_races_each_strategy_at_two_rates_then_tunes_the_winner(ray_cluster, tmp_path) -> None:
    import optuna

    from probe_core.assembly import backbone_with_facts
    from search_spaces import applicable_strategies

    spec = small_spec(
        tmp_path,
        "auto",
        ray_address=ray_cluster.address,
        num_samples=2,
        scheduler={"kind": "asha", "grace_period": 1, "reduction_factor": 2},
        trial={"training": {"max_epochs": 3, "batch_size": 8}},
    )
    assert main(["run", str(write_spec(tmp_path, spec)), "--auto", "--quiet"]) == 0
    sweep_dir = tmp_path / "sweeps" / "auto"
    storage = f"sqlite:///{sweep_dir / 'optuna.db'}"
    race = optuna.load_study(study_name="auto.race", storage=storage).trials
    tuning = optuna.load_study(study_name="auto.search", storage=storage).trials
    _, facts = backbone_with_facts(spec.base_trial(), spec.data.build(), pretrained=False)
    offered = applicable_strategies(facts)
    # each strategy once at the base rate (0.003) and once at ten times it, clipped to 1e-2
    raced = sorted((t.params["strategy"], t.params["lr"]) for t in race)
    assert raced == sorted((kind, lr) for kind in offered for lr in (0.003, 0.01))
    n_race = 2 * len(offered)
    winner = {t.params["strategy"] for t in tuning}
    assert len(tuning) == 2 and len(winner) == 1  # the search tunes one strategy
    records = Ledger(sweep_dir / "trials.jsonl").of_phase("search")
    assert len(records) == n_race + 2
    # one Tune run: the search's trials ran in the race's trial processes
    records.sort(key=lambda r: r.history[0]["time"])  # the race ends before the search starts
    race_pids = {r.placement[protocol.PID] for r in records[:n_race]}
    search_pids = {r.placement[protocol.PID] for r in records[n_race:]}
    assert race_pids & search_pids and not (sweep_dir / "race").exists()
    assert (sweep_dir / "best_config.yaml").is_file()


def test_a_grid_runs_once_however_many_trials_are_asked_for(tmp_path) -> None:
    from sweeps.spec import load_spec
    from sweeps.sweep import prepare

    grid = {"name": "grid", "grid": {"strategy": ["linear_probe", "mlp_probe"], "seed": [0, 1]}}
    spec = small_spec(tmp_path, "grid", spaces=["freeze_strategy_defaults", "seeds"], sampler=grid)
    spec = spec.model_copy(update={"num_samples": 50})
    ready = prepare(spec)
    assert ready.spec.num_samples == 4
    assert load_spec(ready.directory.spec).num_samples == 4  # what resume will run
    tpe = small_spec(tmp_path, "tpe").model_copy(update={"num_samples": 50})
    assert prepare(tpe).spec.num_samples == 50
