import io
import logging
from types import SimpleNamespace

from sweeps.process import HARMLESS_MESSAGES, configure_process
from sweeps.progress import ProgressView


def _trial(trial_id: str, strategy: str, completed: bool = True):
    config = {"trial": {"strategy": {"kind": strategy}}}
    return SimpleNamespace(trial_id=trial_id, config=config, last_result={"completed": completed})


def test_progress_counts_best_and_remaining_time() -> None:
    stream = io.StringIO()  # not a terminal: whole lines
    view = ProgressView(total=4, mode="max", stream=stream)
    a, b, c = _trial("a", "lora"), _trial("b", "linear_probe", completed=False), _trial("c", "lora")
    for trial in (a, b):
        view.on_trial_start(0, [], trial)
    view.on_trial_result(0, [], a, {"best_value": 0.7})
    view.on_trial_result(0, [], b, {"best_value": 0.9})
    view.on_trial_result(0, [], a, {"best_value": float("nan")})
    view.on_trial_complete(0, [], a)
    view.on_trial_complete(0, [], b)  # stopped by the scheduler: pruned
    view.on_trial_start(0, [], c)
    view.on_trial_error(0, [], c)
    line = stream.getvalue().strip().splitlines()[-1]
    assert "3/4 trials · 0 running · 1 done · 1 pruned · 1 failed" in line
    assert "best 0.900 (linear_probe)" in line and "left" in line
    view.on_experiment_end([])
    assert len(stream.getvalue().strip().splitlines()) == 4  # one line per ended trial + end


def test_min_mode_keeps_the_lowest() -> None:
    view = ProgressView(total=2, mode="min", stream=io.StringIO())
    view.on_trial_result(0, [], _trial("a", "lora"), {"best_value": 0.5})
    view.on_trial_result(0, [], _trial("b", "lp_ft"), {"best_value": 0.3})
    assert view.best == (0.3, "lp_ft")


def test_harmless_library_messages_stay_out_of_the_output() -> None:
    """What Tune and Optuna log that needs no action (the end of a grid, a restore) is
    dropped; anything else those loggers say still shows."""
    logged = {  # as Ray 2.60 and Optuna 5 word them
        "ray.tune.search.optuna.optuna_search": "`Study.stop` is supposed to be invoked inside an "
        "objective function or a callback.",
        "ray.tune.execution.tune_controller": "Trial ProbeTrainable_ab12: Error handling "
        "checkpoint {'best_value': 0.9}",
    }
    assert set(logged) == set(HARMLESS_MESSAGES)
    configure_process()
    configure_process()  # again: one filter per logger, not two
    for name, message in logged.items():
        logger = logging.getLogger(name)
        assert len(logger.filters) == 1
        seen: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record, seen=seen: seen.append(record.getMessage())
        logger.addHandler(handler)
        try:
            logger.warning(message)
            logger.warning("a trial failed")
        finally:
            logger.removeHandler(handler)
        assert seen == ["a trial failed"]
