import pytest
import torch
from torch import nn

from probe_core import Mlp


def test_no_hidden_layers_is_linear_or_identity() -> None:
    linear = Mlp().build(input_size=5, output_size=2)
    assert isinstance(linear, nn.Linear) and (linear.in_features, linear.out_features) == (5, 2)
    assert isinstance(Mlp(input_size=5).build(), nn.Identity)


def test_hidden_layers_then_output_layer() -> None:
    mlp = Mlp(hidden_sizes=[8, 4], norm_layer="batch", activation_layer="gelu", dropout=0.1)
    net = mlp.build(input_size=6, output_size=3)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "BatchNorm1d", "GELU", "Dropout"] * 2 + ["Linear"]
    assert [m.out_features for m in net if isinstance(m, nn.Linear)] == [8, 4, 3]
    assert net(torch.randn(5, 6)).shape == (5, 3)
    no_output = Mlp(hidden_sizes=[8], activation_layer=None, bias=False).build(input_size=6)
    assert [type(m).__name__ for m in no_output] == ["Linear"]
    assert no_output[0].bias is None


def test_unit_and_instance_norms() -> None:
    unit = Mlp(hidden_sizes=[4], norm_layer="unit", activation_layer=None).build(3)
    assert torch.allclose(unit(torch.randn(7, 3)).norm(dim=1), torch.ones(7))
    inst = Mlp(hidden_sizes=[4], norm_layer="instance", activation_layer=None).build(3)
    out = inst(torch.randn(7, 3))
    assert torch.allclose(out.mean(1), torch.zeros(7), atol=1e-5)
    assert sum(p.numel() for p in inst.parameters()) == 16  # the Linear only


def test_unknown_input_size_is_an_error() -> None:
    with pytest.raises(ValueError, match="input_size is unknown"):
        Mlp(hidden_sizes=[3]).build()
    with pytest.raises(ValueError, match="norm_layer"):
        Mlp(norm_layer="group")
