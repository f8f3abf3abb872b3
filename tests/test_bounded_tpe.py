"""TPE on a bounded history: Optuna's TPE exactly until the history is full, then fitted on the
best 25 and the most recent others."""

import warnings

import optuna
from optuna.distributions import FloatDistribution

from search_spaces.bounded_tpe import GOOD, BoundedTPESampler

TPE = {"multivariate": True, "group": True, "seed": 3, "n_startup_trials": 8}


def _conditional(trial: optuna.Trial) -> float:
    kind = trial.suggest_categorical("kind", ["probe", "lora", "full"])
    lr = trial.suggest_float("lr", 1e-4, 1e-2, log=True)
    if kind == "lora":
        trial.suggest_int("rank", 2, 32)
    return lr * 100 + (kind == "lora")


def _study(sampler: optuna.samplers.BaseSampler) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.create_study(direction="maximize", sampler=sampler)


def test_until_its_history_is_full_it_samples_as_optunas_tpe() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        ours, optunas = (
            BoundedTPESampler(history=10 * GOOD, **TPE),
            optuna.samplers.TPESampler(**TPE),
        )
    studies = [_study(ours), _study(optunas)]
    for study in studies:
        study.optimize(_conditional, n_trials=40)
    bounded, plain = ([t.params for t in study.trials] for study in studies)
    assert bounded == plain
    assert {"rank"} < set().union(*bounded)  # the conditional branch was sampled by TPE


def test_past_its_history_it_fits_the_best_25_and_the_most_recent_others() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = BoundedTPESampler(history=10 * GOOD, **TPE)
    study = _study(sampler)
    space = {"lr": FloatDistribution(1e-4, 1e-2, log=True)}
    values = [(number * 37) % 400 for number in range(400)]  # every value once, scattered
    study.add_trials(
        optuna.trial.create_trial(params={"lr": 1e-3}, distributions=space, value=value)
        for value in values
    )
    kept = sampler.kept(study, study.trials, None)
    best = sorted(range(400), key=lambda n: -values[n])[:GOOD]
    recent = [n for n in range(400) if n not in best][-(10 * GOOD - GOOD) :]
    assert [t.number for t in kept] == sorted(best + recent)
    assert len(kept) == 10 * GOOD and min(best) < 400 - 10 * GOOD  # some best are old ones
    study.optimize(lambda trial: trial.suggest_float("lr", 1e-4, 1e-2, log=True), n_trials=2)
    assert len(study.trials) == 402  # it samples from the view
