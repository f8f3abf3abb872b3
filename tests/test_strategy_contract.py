"""One contract for every registered strategy (``probe_core.strategies.STRATEGIES``), as Optuna
tests every sampler and timm every model: a strategy added to the registry is held to it without
a test of its own. Per-strategy behaviour (which parameters exactly) is in test_strategies.py."""

import pytest
import torch

from probe_core.assembly import backbone_with_facts, build_model
from probe_core.errors import StrategyError
from probe_core.strategies import STRATEGIES
from probe_core.training import TrialRunner, seed_everything
from probe_core.trial_config import TrialConfig
from search_spaces.freeze_strategy import searched_kinds

LABRAM = {"name": "Labram", "kwargs": {"num_layers": 2, "embed_dim": 32, "num_heads": 2}}
"""A small transformer with blocks and attention: every strategy applies to it."""
EXAMPLES = {
    "layers": {"layers_to_unfreeze": "last"},  # it needs layer names from a user
    "lp_ft": {"lp_epochs": 1},  # its fine-tune phase starts inside the contract's 3 epochs
}


def _config(kind: str, backbone: dict = LABRAM, epochs: int = 3) -> TrialConfig:
    return TrialConfig.model_validate(
        {
            "backbone": backbone,
            "strategy": {"kind": kind, **EXAMPLES.get(kind, {})},
            "training": {"max_epochs": epochs, "batch_size": 8},
            "split": {"test_fraction": 0.0},
        }
    )


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("kind", STRATEGIES.names())
def test_only_what_the_strategy_declares_trainable_changes(kind, patch_data) -> None:
    """Each epoch, the parameters the strategy leaves trainable (after ``on_epoch_start``) are
    the only ones that may move; something does."""
    config = _config(kind)
    runner = TrialRunner(config, patch_data)
    before = _weights(runner.model)
    declared: set[str] = set()
    while not runner.done:
        config.strategy.on_epoch_start(runner.model, runner.epoch)  # what step() will train
        declared |= {n for n, p in runner.model.named_parameters() if p.requires_grad}
        runner.step()
    after = _weights(runner.model)
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed, kind
    assert changed <= declared, sorted(changed - declared)


@pytest.mark.parametrize("kind", STRATEGIES.names())
def test_a_resumed_trial_ends_where_an_uninterrupted_one_does(kind, patch_data) -> None:
    config = _config(kind)
    seed_everything(config.seed)
    straight = TrialRunner(config, patch_data)
    while not straight.done:
        straight.step()
    seed_everything(config.seed)
    first = TrialRunner(config, patch_data)
    first.step()
    state = first.state_dict()
    resumed = TrialRunner(config, patch_data)
    resumed.load_state_dict(state)
    while not resumed.done:
        resumed.step()
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in straight.history]
    for name, value in _weights(straight.model).items():
        assert torch.equal(value, _weights(resumed.model)[name]), name


@pytest.mark.parametrize("backbone", [{"name": "EEGNet"}, {"name": "ShallowFBCSPNet"}, LABRAM])
@pytest.mark.parametrize("kind", STRATEGIES.names())
def test_applies_to_agrees_with_whether_it_builds(kind, backbone, patch_data) -> None:
    """A strategy the spaces would not offer (``applies_to`` false) fails to build with a
    StrategyError, and one they offer builds."""
    config = _config(kind, backbone)
    try:
        build_model(config, patch_data)
        built = True
    except StrategyError:
        built = False
    _, facts = backbone_with_facts(config, patch_data, pretrained=False)
    assert type(config.strategy).applies_to(facts) == built


def test_every_strategy_but_the_users_layer_rules_is_searched() -> None:
    assert searched_kinds() == [kind for kind in STRATEGIES if kind != "layers"]


def test_a_strategy_defined_after_the_trial_config_was_built_is_refused_at_once() -> None:
    """It would be offered by the spaces but rejected by every trial config."""
    from typing import Literal

    from probe_core import Strategy

    with pytest.raises(ValueError, match="strategy 'late' registered too late"):

        class Late(Strategy):
            kind: Literal["late"] = "late"
