import warnings

import optuna

from sweeps.plots import draw_into_files, parameter_plots


def test_parameter_plots_leave_out_a_parameter_with_one_possible_value(tmp_path) -> None:
    """Warm-up can only be 0 in a trial of under 5 epochs: an axis from 0 to 0 would say nothing
    (and matplotlib warns): it is left out, and the strategy's plot still drawn."""
    draw_into_files()
    study = optuna.create_study(direction="maximize")
    for lr in (1e-4, 1e-3, 1e-2):
        trial = study.ask()
        trial.suggest_categorical("strategy", ["linear_probe"])
        trial.suggest_float("lr", 1e-4, 1e-2, log=True)
        trial.suggest_int("warmup_epochs", 0, 0)
        study.tell(trial, lr * 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (path,) = parameter_plots(study, "balanced_accuracy", tmp_path)
    assert path.name == "parameters_linear_probe.png" and path.stat().st_size > 0
