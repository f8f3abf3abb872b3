"""The sweep's MLflow experiment and parent run, created once and reused on resume."""

import contextlib
import json
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from mlflow.tracking import MlflowClient

from probe_core import UserError
from sweeps.outbox import Outbox
from sweeps.sweep_dir import SweepDir

PARENT = "parent"  # the outbox key of the parent run
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
"""MLflow 3 opens an experiment by its kind: this one on its runs table, not the GenAI overview."""
DESCRIPTION = "mlflow.note.content"
"""The tag MLflow shows, as Markdown, as an experiment's or a run's description."""
EXPERIMENT_DESCRIPTION = (
    "probe-sweep sweeps: how to adapt a pretrained EEG/MEG backbone to this task (which layers "
    "to freeze or adapt, the probe head, the learning rate). Each top-level run is one sweep: "
    "its description holds the recommended freeze strategy with the evidence; its child runs "
    "are the trials (expand it in the runs table)."
)

RUNS_VIEW = "probe-sweep"
"""The runs table's view that ``probe-sweep ui``'s address opens: MLflow's UI keeps a saved
view in the experiment tag ``mlflow.sharedViewState.<name>`` and opens it from an address with
``viewStateShareKey=<name>`` (it is also in the table's Views menu)."""
RUNS_VIEW_COLUMNS = [
    "tags.`recommended_strategy`",  # a sweep's (parent run's) answer, with its interval
    "tags.`verdict`",
    "metrics.`recommended_mean`",
    "metrics.`recommended_ci_low`",
    "metrics.`recommended_ci_high`",
    "metrics.`best_value`",  # a trial's (child run's) best validation value and size
    "metrics.`trainable_params`",
]


def runs_view_tag() -> dict[str, str]:
    """The saved view, as MLflow's UI writes one: a named envelope around the table's state
    (columns in this order, wide enough for their names; runs still nested under their sweep)."""
    widths = {column: 40 + 7 * len(column.split("`")[1]) for column in RUNS_VIEW_COLUMNS}
    state = {
        "selectedColumns": RUNS_VIEW_COLUMNS,
        "columnOrder": RUNS_VIEW_COLUMNS,
        "columnWidths": widths,
    }
    now = int(time.time() * 1000)
    envelope = {"name": RUNS_VIEW, "createdAt": now, "state": json.dumps(state)}
    return {f"mlflow.sharedViewState.{RUNS_VIEW}": json.dumps(envelope)}


class TrackingUnavailable(UserError):
    """The tracking server does not answer when the sweep starts."""


@dataclass
class TrackingSession:
    uri: str
    experiment_id: str
    parent_run_id: str

    @classmethod
    def load(cls, directory: SweepDir) -> "TrackingSession":
        """The session a sweep directory recorded."""
        return cls(**json.loads(directory.tracking_state.read_text()))

    def outbox(self, directory: SweepDir) -> Outbox:
        outbox = Outbox.for_directory(directory.path, self.uri, self.experiment_id)
        if not outbox.has_run(PARENT):
            outbox.adopt_run(PARENT, self.parent_run_id)
        return outbox


def resolve_uri(uri: str) -> str:
    """A relative SQLite path made absolute, so every process writes the same file."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(Path(uri.removeprefix(prefix)).resolve())
    return uri


def check_reachable(uri: str) -> None:
    """Refuse to start against a tracking server that does not answer."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=5)
    except OSError as error:
        reason = getattr(error, "reason", error)
        raise TrackingUnavailable(
            f"tracking.uri {uri}: no MLflow server answers ({reason}); start it, or pass "
            "--tracking-uri"
        ) from None


def create_store_in_background(uri: str) -> threading.Thread:
    """Make a new local MLflow store's tables (1.6 s for a new SQLite file) in the background,
    while the driver starts Ray, instead of after it; join the thread before opening the session.
    A failure is left to that first real use, which reports it."""

    def create() -> None:
        with contextlib.suppress(Exception):
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)

    thread = threading.Thread(target=create, name="mlflow-store")
    thread.start()
    return thread


def open_session(uri: str, experiment: str, directory: SweepDir) -> TrackingSession:
    """The experiment (created when missing) and the sweep's parent run (reused when this sweep
    directory already has one)."""
    state_path = directory.tracking_state
    if state_path.exists():
        saved = TrackingSession.load(directory)
        if saved.uri == uri:
            return saved
    check_reachable(uri)
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        experiment_id = found.experiment_id
    else:
        location = None
        if uri.startswith("sqlite:///"):  # artifacts next to the database, not in the cwd
            location = (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri()
        experiment_id = client.create_experiment(
            experiment, artifact_location=location, tags=EXPERIMENT_KIND
        )
    for key, value in {**EXPERIMENT_KIND, **runs_view_tag()}.items():  # also for one made elsewhere
        client.set_experiment_tag(experiment_id, key, value)
    if found is None or DESCRIPTION not in found.tags:  # never over the user's own
        client.set_experiment_tag(experiment_id, DESCRIPTION, EXPERIMENT_DESCRIPTION)
    run = client.create_run(experiment_id, run_name=directory.name, tags={"sweep": directory.name})
    session = TrackingSession(uri, experiment_id, run.info.run_id)
    directory.path.mkdir(parents=True, exist_ok=True)
    state_path.write_text(json.dumps(asdict(session)))
    return session
