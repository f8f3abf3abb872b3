import collections

import optuna
import pytest
import yaml

from probe_core import TrialConfig, build_model
from search_spaces import (
    SPACES,
    DeclarativeSpace,
    SamplerConfig,
    applicable_strategies,
    compose,
    get_space,
    make_context,
    space_distributions,
    warm_start,
)
from search_spaces.freeze_strategy import warm_start_params

optuna.logging.set_verbosity(optuna.logging.WARNING)
LABRAM = {"name": "Labram", "kwargs": {"num_layers": 2, "embed_dim": 40, "num_heads": 2}}


@pytest.fixture(scope="module")
def contexts(patch_data):
    base = {"training": {"max_epochs": 6}, "split": {"test_fraction": 0.0}}
    return {
        name: make_context(TrialConfig.model_validate({"backbone": backbone, **base}), patch_data)
        for name, backbone in (("EEGNet", {"name": "EEGNet"}), ("Labram", LABRAM))
    }


def _sample(space, context, n: int, seed: int = 0, sampler=None):
    study = optuna.create_study(sampler=sampler or optuna.samplers.RandomSampler(seed=seed))
    for _ in range(n):
        trial = study.ask()
        config = space(trial, context)
        study.tell(trial, 0.0)
        yield trial, config


FULL = ["freeze_strategy", "probe_head", "optimizer"]


@pytest.mark.parametrize("backbone", ["EEGNet", "Labram"])
def test_hundreds_of_samples_validate_and_build(backbone, contexts, patch_data) -> None:
    context = contexts[backbone]
    space = compose([get_space(n) for n in FULL])
    kinds = collections.Counter()
    for trial, config in _sample(space, context, 120):
        assert isinstance(config, TrialConfig)
        kinds[config.strategy.kind] += 1
        build_model(config, patch_data)  # validates the wrapper's dry run and the strategy
        # conditional parameters appear only for the drawn strategy
        kind = trial.params["strategy"]
        prefixed = {p.split(".")[0] for p in trial.params if "." in p}
        assert prefixed <= {kind}
    assert set(kinds) == set(applicable_strategies(context.facts))
    for name in ("preset", "freeze_strategy_defaults", "seeds"):
        for _, config in _sample(get_space(name), context, 30):
            build_model(config, patch_data)


def test_inapplicable_strategies_are_never_offered(contexts) -> None:
    eegnet, labram = contexts["EEGNet"], contexts["Labram"]
    assert "attention_only" not in applicable_strategies(eegnet.facts)
    assert "lora" not in applicable_strategies(eegnet.facts)
    assert {"attention_only", "lora"} <= set(applicable_strategies(labram.facts))
    ks = {
        c.strategy.k
        for _, c in _sample(get_space("freeze_strategy"), eegnet, 300)
        if c.strategy.kind == "last_k_blocks"
    }
    assert ks == {1, 2, 3, 4}  # EEGNet has 4 blocks


def test_every_searched_strategy_round_trips_through_its_parameters(contexts) -> None:
    """Each kind's ``suggest`` and ``params_of`` are inverses: a warm start (a strategy turned
    into trial parameters) samples exactly that strategy again."""
    from probe_core.strategies import STRATEGIES
    from search_spaces.config_paths import with_values
    from search_spaces.freeze_strategy import (
        freeze_strategy,
        search_of,
        searched_kinds,
        strategy_params,
    )

    context = contexts["Labram"]  # a transformer with blocks: every searched kind applies
    assert searched_kinds() == applicable_strategies(context.facts)
    assert set(searched_kinds()) == set(STRATEGIES) - {"layers"}  # names come from a user
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for kind in searched_kinds():
        search = search_of(kind)
        drawn = [{"kind": kind, **search.suggest(study.ask(), context)} for _ in range(5)]
        default, *drawn = [
            with_values(context.base, {"strategy": fields}).strategy
            for fields in [{"kind": kind}, *drawn]
        ]
        for expected in [default, *drawn]:
            params = strategy_params(expected, context)
            again = freeze_strategy(optuna.trial.FixedTrial(params), context).strategy
            assert strategy_params(again, context) == params, kind
            if expected is not default:  # a default may sit outside the space (lp_epochs)
                assert again == expected, kind


def test_strategies_apply_by_their_own_rule(contexts, patch_data) -> None:
    """A strategy that ``applies_to`` a backbone builds on it; one that does not fails with the
    same rule's StrategyError."""
    from probe_core import StrategyError
    from search_spaces.config_paths import with_values

    context = contexts["EEGNet"]  # no attention layers
    for kind in ("attention_only", "lora"):
        config = with_values(context.base, {"strategy": {"kind": kind}})
        with pytest.raises(StrategyError, match="no attention layers"):
            build_model(config, patch_data)


def test_same_sampler_seed_gives_the_same_sequence(contexts) -> None:
    space = compose([get_space(n) for n in FULL])
    context = contexts["Labram"]
    distributions = space_distributions(space, context)

    def sequence(seed: int) -> list[dict]:
        sampler = SamplerConfig(name="tpe", seed=seed, n_startup_trials=3).build(
            distributions, context
        )
        return [t.params for t, _ in _sample(space, context, 8, sampler=sampler)]

    assert sequence(1) == sequence(1)
    assert sequence(1) != sequence(2)


def test_grid_enumerates_exactly_the_grid_once(contexts) -> None:
    context = contexts["EEGNet"]
    space = compose([get_space("freeze_strategy_defaults"), get_space("seeds")])
    config = SamplerConfig(name="grid", seed=3)
    grid = config.grid_space(context)
    sampler = config.build(space_distributions(space, context), context)
    size = len(grid["strategy"]) * 3
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: space(t, context).seed, n_trials=size + 5)
    seen = [(t.params["strategy"], t.params["seed"]) for t in study.trials]
    assert len(seen) == size and len(set(seen)) == size  # the study stops when the grid is done
    with pytest.raises(ValueError, match="not in the grid"):
        SamplerConfig(name="grid").build(
            space_distributions(get_space("freeze_strategy"), context), context
        )


def test_every_sampler_builds_and_cmaes_refuses_categorical_spaces(contexts) -> None:
    context = contexts["EEGNet"]
    continuous = space_distributions(get_space("optimizer"), context)
    mixed = space_distributions(get_space("freeze_strategy"), context)
    for name in ("tpe", "random", "gp", "nsga2"):
        assert isinstance(
            SamplerConfig(name=name).build(mixed, context), optuna.samplers.BaseSampler
        )
    with pytest.raises(
        ValueError, match=r"cmaes searches continuous parameters only; \['batch_size'\]"
    ):
        SamplerConfig(name="cmaes").build(continuous, context)
    lr_only = {k: v for k, v in continuous.items() if k in ("lr", "weight_decay")}
    assert SamplerConfig(name="cmaes").build(lr_only, context) is not None


def test_warm_start_enqueues_every_strategy_at_its_defaults(contexts) -> None:
    context = contexts["Labram"]
    params = warm_start_params(context)
    assert [p["strategy"] for p in params] == applicable_strategies(context.facts)
    space = get_space("freeze_strategy")
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    for p in params:
        study.enqueue_trial(p)
    configs = []
    for _ in params:
        trial = study.ask()
        configs.append(space(trial, context))
        study.tell(trial, 0.0)
    defaults = {c.strategy.kind: c.strategy for c in configs}
    assert defaults["lora"].rank == 8 and defaults["lora"].alpha == 16.0
    assert defaults["mlp_probe"].hidden_sizes == [128] and defaults["mlp_probe"].dropout == 0.1
    assert defaults["lp_ft"].lp_epochs == 3  # the default 5, within this 6-epoch trial's range


def test_warm_start_tries_every_strategy_at_each_learning_rate_in_turn(contexts) -> None:
    """Every strategy at the base rate, then every one at the next; a factor that clips onto a
    rate already tried (1e-3 × 100 → the range's 1e-2) adds nothing."""
    context = contexts["EEGNet"]
    kinds = applicable_strategies(context.facts)
    assert context.base.optimizer.lr == 1e-3
    trials = warm_start(context, (1.0, 10.0, 100.0))
    assert [t["strategy"] for t in trials] == kinds * 2
    assert [t["lr"] for t in trials] == pytest.approx([1e-3] * len(kinds) + [1e-2] * len(kinds))
    assert warm_start(context, (1.0,)) == trials[: len(kinds)]  # the base rate only


def test_presets_reproduce_the_seed_families(contexts, patch_data) -> None:
    from search_spaces.config_paths import with_values
    from search_spaces.presets import PRESETS, available_presets

    context = contexts["Labram"]
    assert "mean_linear_freeze" not in available_presets(context)  # Labram's output is pooled
    base = context.base
    trainable = {}
    for name in available_presets(context):
        model, _ = build_model(with_values(base, PRESETS[name]), patch_data)
        trainable[name] = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable["linear_freeze"] == {"probe"}
    assert trainable["mlp_freeze"] == {"probe"}
    assert trainable["linear_finetune"] == {"probe", "wrapped_model"}
    model, _ = build_model(with_values(base, PRESETS["last_finetune"]), patch_data)
    backbone = [n for n, p in model.wrapped_model.named_parameters() if p.requires_grad]
    assert backbone == ["norm.weight", "norm.bias"]  # the last layer of the headless Labram


def _yaml_space(text: str) -> DeclarativeSpace:
    return DeclarativeSpace.model_validate({"parameters": yaml.safe_load(text)})


YAML_SPACE = """
- {name: kind, path: strategy.kind, categorical: [linear_probe, lora]}
- {name: rank, path: strategy.rank, int: {low: 2, high: 16, log: true}, when: {strategy.kind: lora}}
- {name: lr, path: optimizer.lr, float: {low: 1.0e-4, high: 1.0e-2, log: true}}
- {name: agg, path: wrapper.aggregation, categorical: [flatten, null]}
"""


def test_yaml_space_samples_conditionally(contexts, patch_data) -> None:
    space = _yaml_space(YAML_SPACE)
    context = contexts["Labram"]
    space.check_conditions(context.base)
    for trial, config in _sample(space, context, 60):
        assert ("rank" in trial.params) == (config.strategy.kind == "lora")
        if config.strategy.kind == "lora":
            assert config.strategy.rank == trial.params["rank"]
        assert config.optimizer.lr == trial.params["lr"]
        assert config.wrapper.aggregation == trial.params["agg"]
    build_model(config, patch_data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "- {name: lr, path: optimizer.lrr, float: {low: 0.1, high: 1}}",
            "parameter 'lr': 'optimizer.lrr' is not a TrialConfig field",
        ),
        (
            "- {name: lr, path: optimizer.lr, float: {low: 1, high: 0.1}}",
            "low \\(1.0\\) must be below high \\(0.1\\)",
        ),
        (
            "- {name: lr, path: optimizer.lr, float: {low: 0, high: 1, log: true}}",
            "a log scale needs low > 0, got 0.0",
        ),
        (
            "- {name: lr, path: optimizer.lr}",
            "parameter 'lr': give exactly one of float, int, categorical",
        ),
        (
            "- {name: x, path: strategy.kind, categorical: []}",
            "categorical needs at least one choice",
        ),
        (
            "- {name: r, path: strategy.rank, int: {low: 1, high: 8}, when: {strategy.knd: lora}}",
            "'strategy.knd' is not a TrialConfig field",
        ),
    ],
)
def test_yaml_space_errors_name_the_offending_path_and_value(text, message) -> None:
    with pytest.raises(ValueError, match=message):
        _yaml_space(text)


def test_yaml_space_refuses_impossible_conditions(contexts) -> None:
    base = contexts["Labram"].base
    never_set = _yaml_space(
        "- {name: r, path: strategy.rank, int: {low: 1, high: 8}, when: {strategy.kind: lora}}"
    )
    message = r"condition strategy.kind in \['lora'\] never holds \(.* only be \['linear_probe'\]"
    with pytest.raises(ValueError, match=message):
        never_set.check_conditions(base)
    typo = _yaml_space(
        "- {name: k, path: strategy.kind, categorical: [linear_probe, lora]}\n"
        "- {name: r, path: strategy.rank, int: {low: 1, high: 8}, when: {strategy.kind: lorra}}"
    )
    with pytest.raises(ValueError, match="never holds"):
        typo.check_conditions(base)


def test_unknown_space_name_suggests() -> None:
    with pytest.raises(ValueError, match="did you mean freeze_strategy"):
        get_space("freeze_stratgy")
    assert set(SPACES) >= {"freeze_strategy", "probe_head", "optimizer", "preset"}
