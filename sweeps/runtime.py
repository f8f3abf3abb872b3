"""Connecting to Ray: an embedded local runtime by default, or an existing cluster."""

import logging
import os

# Ray Tune's own console output is replaced by the sweep's summary (and --verbose shows Ray's).
QUIET_ENV = {
    "RAY_AIR_NEW_OUTPUT": "0",  # the legacy reporter honours verbose=0: no tables, no boxes
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",  # no CSV/JSON/TensorBoard loggers per trial
    # confirmation trials report their value under another name than the searched metric
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",
    # save the experiment state (trials, searcher) at least every second: a driver killed
    # between two saves loses the trials started in between
    "TUNE_GLOBAL_CHECKPOINT_S": "1",
}
for _key, _value in QUIET_ENV.items():
    os.environ.setdefault(_key, _value)

import ray  # noqa: E402

# Tune's end-of-run analysis reads the per-trial result files that the disabled loggers would
# write; the sweep keeps its own ledger instead.
logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)


class _StaleCheckpointFilter(logging.Filter):
    """After a restore, Tune tries to delete checkpoints it had already deleted before the
    driver stopped, and logs each attempt with the trial's whole result: harmless, and noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Error handling checkpoint" not in record.getMessage()


logging.getLogger("ray.tune.execution.tune_controller").addFilter(_StaleCheckpointFilter())


def connect(address: str | None) -> None:
    """``address`` (or ``RAY_ADDRESS``) joins a running cluster; otherwise a fresh local runtime
    starts inside this process (``address="local"``, never an unrelated one left running)."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    options = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(address="local", include_dashboard=False, **options)


def cluster_capacity() -> dict[str, float]:
    """Total resources of the connected cluster (CPU, GPU, …)."""
    return {k: v for k, v in ray.cluster_resources().items() if not k.startswith("node:")}


def concurrency(max_concurrent: int | None, cpus_per_trial: float) -> int:
    """Trials that can run at once: the spec's cap, else what the cluster's CPUs allow."""
    if max_concurrent is not None:
        return max_concurrent
    return max(int(cluster_capacity().get("CPU", 1) // cpus_per_trial), 1)


def allow_pending_trials(n: int) -> None:
    """Let Tune start ``n`` trials at once. With a search algorithm it otherwise keeps one
    trial pending at a time, so trial actors (seconds of imports each) start one by one."""
    os.environ["TUNE_MAX_PENDING_TRIALS_PG"] = str(n)
