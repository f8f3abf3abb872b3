"""Everything the sweep concluded, written to its directory and logged on the parent run."""

import logging
from pathlib import Path

import optuna
from mlflow.entities import Metric, RunTag

from probe_core import TrialConfig
from sweeps.ledger import Ledger
from sweeps.plots import confusion_matrix, learning_curves, optuna_plots, strategy_plot
from sweeps.report import Recommendation, StrategyRank
from sweeps.spec import SweepSpec
from sweeps.tracking_session import TrackingSession

LOGGER = logging.getLogger(__name__)


def load_study(spec: SweepSpec, sweep_dir: Path) -> optuna.Study | None:
    storage = f"sqlite:///{sweep_dir / 'optuna.db'}"
    try:
        return optuna.load_study(study_name=f"{spec.name}.search", storage=storage)
    except KeyError:
        return None


def draw_plots(spec: SweepSpec, sweep_dir: Path, ledger: Ledger, final: dict | None) -> list[Path]:
    folder = sweep_dir / "plots"
    folder.mkdir(exist_ok=True)
    paths = []
    study = load_study(spec, sweep_dir)
    if study is not None and not spec.objectives:
        paths += optuna_plots(study, folder)
    searched = ledger.of_phase("search")
    paths.append(strategy_plot(searched, spec.metric, spec.mode, folder / "strategies.png"))
    paths.append(learning_curves(searched, spec.metric, spec.mode, folder / "learning_curves.png"))
    if final is not None:
        paths.append(
            confusion_matrix(
                final["labels"],
                final["predictions"],
                final["class_names"],
                folder / "confusion_matrix.png",
            )
        )
    return paths


def publish_report(
    spec: SweepSpec,
    session: TrackingSession,
    sweep_dir: Path,
    ledger: Ledger,
    board: list[dict],
    ranks: list[StrategyRank],
    recommendation: Recommendation,
    final: dict,
) -> None:
    client, run_id = session.client, session.parent_run_id
    (sweep_dir / "recommendation.txt").write_text(recommendation.text() + "\n")
    client.log_table(
        run_id,
        data={k: [row[k] for row in board] for k in board[0]},
        artifact_file="leaderboard.json",
    )
    client.log_table(
        run_id,
        data={
            k: [getattr(r, k) for r in ranks]
            for k in ("strategy", "n_trials", "best", "top_k_mean")
        },
        artifact_file="strategies.json",
    )
    for name in ("spec.yaml", "best_config.yaml", "recommendation.txt", "report.json"):
        if (sweep_dir / name).exists():
            client.log_artifact(run_id, str(sweep_dir / name))
    for path in draw_plots(spec, sweep_dir, ledger, final):
        client.log_artifact(run_id, str(path), artifact_path="plots")
    tags = {
        "recommended_strategy": recommendation.strategy,
        "runner_up": str(recommendation.runner_up),
    }
    metrics = {"recommended_mean": recommendation.mean, "recommended_std": recommendation.std}
    if recommendation.margin is not None:
        metrics["margin_over_runner_up"] = recommendation.margin
    for key, value in (recommendation.test_metrics or {}).items():
        metrics[f"test_{key}"] = value
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items() if v == v],
        tags=[RunTag(k, v) for k, v in tags.items()],
    )
    log_model(spec, session, sweep_dir, final)


def log_model(spec: SweepSpec, session: TrackingSession, sweep_dir: Path, final: dict) -> None:
    """The recommended model (mlflow.pytorch) on the parent run, registered when asked."""
    import mlflow
    import mlflow.pytorch

    from probe_core import build_model
    from probe_core.export import inference_copy

    config = TrialConfig.load(sweep_dir / "best_config.yaml")
    model, _ = build_model(config, config.data.build())
    model.load_state_dict(final["state_dict"])
    mlflow.set_tracking_uri(session.uri)
    # mlflow warns about pickle for every log_model; the model is our own, loaded by its owner
    logging.getLogger("mlflow.pytorch").setLevel(logging.ERROR)
    with mlflow.start_run(run_id=session.parent_run_id):
        mlflow.pytorch.log_model(
            inference_copy(model),
            name="model",
            registered_model_name=spec.tracking.register_model,
            pip_requirements=["torch", "braindecode", "probe-sweep"],
            serialization_format="pickle",  # the traced pt2 format cannot follow layer taps
        )
