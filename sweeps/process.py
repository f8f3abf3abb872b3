"""Process-wide settings of a process that runs sweeps or trials, in one place.

Importing a module of this project changes nothing global; the CLI, the library's entry points
(``run_sweep``, ``resume_sweep``) and every trial process call ``configure_process`` instead.
"""

import logging
import os
import warnings

import optuna

from sweeps.output import Verbosity, verbosity

ENVIRONMENT = {
    # Ray Tune's console output is replaced by the sweep's own (--verbose shows Ray's)
    "RAY_AIR_NEW_OUTPUT": "0",  # the legacy reporter honours verbose=0: no tables, no boxes
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",  # no CSV/JSON/TensorBoard loggers per trial
    # confirmation trials report their value under another name than the searched metric
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",
    # save the experiment state (trials, searcher) at least every second: a driver killed
    # between two saves loses the trials started in between
    "TUNE_GLOBAL_CHECKPOINT_S": "1",
    # fail fast on an unreachable tracking server: the outbox retries on its own schedule, and
    # MLflow's default (7 retries with back-off) would stall the sweep for minutes
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
}
QUIET_ENVIRONMENT = {
    # MLflow's client prints two lines ("View run …", "View experiment …") per ended run
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}
QUIET_LOGGERS = (
    # "Token authentication is enabled for this Ray cluster" on every local runtime, printed
    # before anything the sweep says (an error included); the README tells how to secure one
    "ray._private.authentication.authentication_token_setup",
)


HARMLESS_MESSAGES = {
    # after a restore, Tune tries to delete checkpoints it had already deleted before the driver
    # stopped, and logs each attempt with the trial's whole result
    "ray.tune.execution.tune_controller": "Error handling checkpoint",
    # Optuna's grid sampler stops its study once every point has run, which works only inside
    # study.optimize; Tune asks and tells instead, so the end of every grid (the --auto race, a
    # grid sweep) logs this
    "ray.tune.search.optuna.optuna_search": "Study.stop",
}


class _DropMessages(logging.Filter):
    """Drops the records whose message holds ``fragment``: harmless, and noise."""

    def __init__(self, fragment: str) -> None:
        super().__init__()
        self.fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self.fragment not in record.getMessage()


def configure_process() -> None:
    """Environment, logging and warnings for sweeps, as verbose as ``sweeps.output`` says (a
    trial process: quiet). Safe to call again."""
    verbose = verbosity() == Verbosity.VERBOSE
    quiet = not verbose  # --verbose brings back what these silence
    for key, value in {**ENVIRONMENT, **(QUIET_ENVIRONMENT if quiet else {})}.items():
        os.environ.setdefault(key, value)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR if quiet else logging.NOTSET)
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(message)s", level=logging.WARNING)
    # Tune's end-of-run analysis reads the per-trial result files that the disabled loggers
    # would write; the sweep keeps its own ledger instead
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    # MLflow reads its level when imported: also when that came first ("Creating initial MLflow
    # database tables…" and the like)
    logging.getLogger("mlflow").setLevel(os.environ["MLFLOW_LOGGING_LEVEL"].upper())
    # mlflow warns about pickle on every model save; the model is our own, loaded by its owner
    logging.getLogger("mlflow.pytorch").setLevel(logging.ERROR)
    for name, fragment in HARMLESS_MESSAGES.items():
        logger = logging.getLogger(name)
        if not any(getattr(f, "fragment", None) == fragment for f in logger.filters):
            logger.addFilter(_DropMessages(fragment))
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING)
    # braindecode's own use of MNE montage names MNE has deprecated: nothing a user can act on
    warnings.filterwarnings("ignore", "Montage name 'standard_10", FutureWarning)
