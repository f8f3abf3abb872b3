import tempfile
from pathlib import Path

import pytest
import torch

from probe_core.assembly import build_model
from probe_core.introspection import parameter_summary
from probe_core.strategies import STRATEGIES, Family, StrategyError
from probe_core.training import TrialRunner, seed_everything, train
from probe_core.trial_config import TrialConfig
from search_spaces.freeze_strategy import searched_kinds

LABRAM = {"name": "Labram", "kwargs": {"num_layers": 3, "embed_dim": 40, "num_heads": 2}}


def _config(strategy: dict, backbone: dict | None = None, epochs: int = 1, **extra) -> TrialConfig:
    return TrialConfig.model_validate(
        {
            "backbone": backbone or {"name": "EEGNet"},
            "strategy": strategy,
            "training": {"max_epochs": epochs, "batch_size": 8, "grad_clip": None},
            "split": {"test_fraction": 0.0},
            **extra,
        }
    )


def changed_parameters(config: TrialConfig, data) -> set[str]:
    """Names of the parameters that differ after the last epoch of ``config`` from the start."""
    seed_everything(config.seed)
    before = {n: p.detach().clone() for n, p in build_model(config, data)[0].named_parameters()}
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / "trial.pt"
        train(config, data, checkpoint_path=checkpoint)  # returns the best epoch; we want the last
        after = torch.load(checkpoint, weights_only=True)["model"]
    assert set(before) <= set(after)
    return {n for n in before if not torch.equal(before[n], after[n])}


def _backbone_names(names: set[str]) -> set[str]:
    return {n for n in names if n.startswith("wrapped_model.")}


def test_linear_probe_trains_only_the_probe(small_data) -> None:
    changed = changed_parameters(_config({"kind": "linear_probe"}), small_data)
    assert changed == {"probe.weight", "probe.bias"}


def test_linear_probe_feature_norm_and_mlp_probe_heads(small_data) -> None:
    config = _config({"kind": "linear_probe", "feature_norm": "batch"})
    model, facts = build_model(config, small_data)
    assert [type(m).__name__ for m in model.probe] == ["BatchNorm1d", "Linear"]
    changed = changed_parameters(_config({"kind": "mlp_probe", "hidden_sizes": [16]}), small_data)
    assert changed and all(n.startswith("probe.") for n in changed)
    assert {n.split(".")[1] for n in changed} == {"0", "1", "4"}  # LayerNorm, Linear, Linear


def test_attentive_probe_trains_pooling_and_probe(patch_data) -> None:
    changed = changed_parameters(_config({"kind": "attentive_probe"}, LABRAM), patch_data)
    assert _backbone_names(changed) == set()
    assert any(n.startswith("aggregation.attention") for n in changed)
    assert {"aggregation.query", "probe.weight"} <= changed


def test_last_k_blocks_trains_from_block_minus_k(patch_data) -> None:
    changed = _backbone_names(
        changed_parameters(_config({"kind": "last_k_blocks", "k": 1}, LABRAM), patch_data)
    )
    assert changed and all(
        n.startswith(("wrapped_model.blocks.2.", "wrapped_model.norm.")) for n in changed
    )
    assert "wrapped_model.blocks.2.attn.qkv.weight" in changed
    with pytest.raises(StrategyError, match="k=5 exceeds the 4 blocks of EEGNet"):
        build_model(_config({"kind": "last_k_blocks", "k": 5}), patch_data)


def test_attention_only_trains_projections_and_refuses_conv_nets(patch_data) -> None:
    changed = _backbone_names(
        changed_parameters(_config({"kind": "attention_only"}, LABRAM), patch_data)
    )
    assert {n.rsplit(".", 2)[-2] for n in changed} == {"qkv", "proj"}
    assert len({n.split(".")[2] for n in changed}) == 3  # in all three blocks
    with pytest.raises(StrategyError, match="EEGNet has no attention layers"):
        build_model(_config({"kind": "attention_only"}), patch_data)


def test_lora_keeps_base_weights_and_trains_adapters(patch_data) -> None:
    config = _config({"kind": "lora", "rank": 2}, LABRAM, epochs=2)
    changed = _backbone_names(changed_parameters(config, patch_data))
    assert changed and all(".lora_" in n for n in changed)
    assert {n.rsplit(".", 1)[-1] for n in changed} == {"lora_A", "lora_B"}
    model, facts = build_model(config, patch_data)
    qkv = model.wrapped_model.blocks[0].attn.qkv
    assert qkv.parametrizations.weight[0].lora_A.shape == (2, qkv.in_features)
    assert qkv.parametrizations.weight[0].lora_B.shape == (qkv.out_features, 2)
    assert not qkv.parametrizations.weight.original.requires_grad
    assert torch.equal(qkv.weight, qkv.parametrizations.weight.original)  # B starts at zero
    with pytest.raises(ValueError, match="no module of Labram matches \\['nope'\\]"):
        build_model(_config({"kind": "lora", "targets": ["nope"]}, LABRAM), patch_data)


def test_lora_adapts_fused_multihead_attention(patch_data) -> None:
    config = _config({"kind": "lora", "rank": 2}, {"name": "CBraMod", "kwargs": {"n_layer": 1}})
    model, facts = build_model(config, patch_data)
    attention = model.wrapped_model.encoder.layers[0].self_attn_s
    assert hasattr(attention.parametrizations, "in_proj_weight")
    assert hasattr(attention.out_proj.parametrizations, "weight")


def test_lp_ft_switches_phase_at_lp_epochs(small_data) -> None:
    config = _config({"kind": "lp_ft", "lp_epochs": 2, "ft_lr_scale": 0.5}, epochs=3)
    model, facts = build_model(config, small_data)
    backbone_trains = []
    for epoch in range(3):
        config.strategy.on_epoch_start(model, epoch)
        backbone_trains.append(any(p.requires_grad for p in model.wrapped_model.parameters()))
    assert backbone_trains == [False, False, True]
    assert config.strategy.lr_scale(model, "wrapped_model.conv_temporal.weight", facts) == 0.5
    assert config.strategy.lr_scale(model, "probe.weight", facts) == 1.0
    two_epochs = _config(config.strategy.model_dump(), epochs=2)
    assert _backbone_names(changed_parameters(two_epochs, small_data)) == set()
    assert "wrapped_model.conv_temporal.weight" in changed_parameters(config, small_data)
    # its cost is a fine-tune's: every parameter trains, from the third epoch on
    runner = TrialRunner(config, small_data)
    assert runner.sizes.trainable == runner.sizes.total == parameter_summary(model).total


def test_full_finetune_layer_decay_scales(patch_data) -> None:
    config = _config({"kind": "full_finetune", "layer_decay": 0.5}, LABRAM)
    model, facts = build_model(config, patch_data)

    def scale(name: str) -> float:
        return config.strategy.lr_scale(model, name, facts)

    assert scale("wrapped_model.patch_embed.temporal_conv.conv1.weight") == 0.5**4
    assert scale("wrapped_model.blocks.0.attn.qkv.weight") == 0.5**3
    assert scale("wrapped_model.blocks.2.attn.qkv.weight") == 0.5**1
    assert scale("wrapped_model.norm.weight") == 1.0
    assert scale("probe.weight") == 1.0
    changed = changed_parameters(_config({"kind": "full_finetune"}), patch_data)
    assert "wrapped_model.conv_temporal.weight" in changed and "probe.weight" in changed


def test_from_scratch_ignores_the_checkpoint(small_data, tmp_path) -> None:
    from probe_core.backbones import save_state_dict

    pretrained = build_model(_config({"kind": "full_finetune"}), small_data)[0].wrapped_model
    with torch.no_grad():
        pretrained.conv_temporal.weight.fill_(0.123)
    save_state_dict(pretrained, tmp_path / "b.safetensors")
    backbone = {"name": "EEGNet", "checkpoint": str(tmp_path / "b.safetensors")}
    loaded, _ = build_model(_config({"kind": "full_finetune"}, backbone), small_data)
    assert torch.all(loaded.wrapped_model.conv_temporal.weight == 0.123)
    scratch, _ = build_model(_config({"kind": "from_scratch"}, backbone), small_data)
    assert not torch.any(scratch.wrapped_model.conv_temporal.weight == 0.123)


def test_layer_patterns_strategy_uses_seed_rules(small_data) -> None:
    config = _config({"kind": "layers", "layers_to_unfreeze": ["conv_separable_point"]})
    changed = _backbone_names(changed_parameters(config, small_data))
    assert changed == {"wrapped_model.conv_separable_point.weight"}
    with pytest.raises(ValueError, match="exactly one of layers_to_freeze and layers_to_unfreeze"):
        _config({"kind": "layers"})


@pytest.mark.parametrize("kind", searched_kinds())
def test_a_strategy_s_family_says_how_much_of_the_backbone_trains(kind, patch_data) -> None:
    """Probes train none of the backbone, parameter-efficient strategies some (LoRA: only its
    updates), full adaptation and from scratch nearly all of it (the selection benchmark
    scores a sweep on the family it picks)."""
    strategy = {"kind": kind, "lp_epochs": 1} if kind == "lp_ft" else {"kind": kind}
    config = _config(strategy, LABRAM, epochs=2)
    names = {n for n, _ in build_model(config, patch_data)[0].named_parameters()}
    share = len(_backbone_names(changed_parameters(config, patch_data))) / len(
        _backbone_names(names)
    )
    family = STRATEGIES[kind].family
    assert family is not None
    expected = {
        Family.PROBE: share == 0,
        Family.PARAMETER_EFFICIENT: 0 < share < 0.5,
        Family.FULL: share > 0.9,
        Family.FROM_SCRATCH: share > 0.9 and not STRATEGIES[kind].uses_pretrained,
    }
    assert expected[family], (kind, family, share)
