"""The MLP probe head."""

from typing import Literal

import pydantic
import torch
from torch import nn

NormName = Literal["layer", "batch", "instance", "unit"]
ActivationName = Literal["relu", "gelu", "elu", "prelu"]


class UnitNorm(nn.Module):
    """Scale each feature vector to unit L2 norm (no parameters)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(x, dim=-1)


def _norm(name: NormName, size: int) -> nn.Module:
    if name == "layer":
        return nn.LayerNorm(size)
    if name == "batch":
        return nn.BatchNorm1d(size)
    if name == "instance":
        # Per-example standardisation over the features, without affine parameters.
        return nn.LayerNorm(size, elementwise_affine=False)
    return UnitNorm()


_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "prelu": nn.PReLU,
}


class Mlp(pydantic.BaseModel):
    """A multi-layer perceptron: ``hidden_sizes`` blocks of Linear → norm → activation → dropout,
    then a Linear output layer when an output size is given.

    ``input_norm`` normalises the features before the first layer: frozen encoders' features
    are often badly scaled for a linear probe, and a BatchNorm or LayerNorm in front fixes that.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    input_size: int | None = None
    input_norm: NormName | None = None
    hidden_sizes: list[pydantic.PositiveInt] | None = None
    norm_layer: NormName | None = None
    activation_layer: ActivationName | None = "relu"
    bias: bool = True
    dropout: float = pydantic.Field(0.0, ge=0.0, lt=1.0)

    def build(self, input_size: int | None = None, output_size: int | None = None) -> nn.Module:
        in_size = input_size if input_size is not None else self.input_size
        if in_size is None:
            raise ValueError("Mlp.build: input_size is unknown (set Mlp.input_size or pass it).")
        layers: list[nn.Module] = []
        if self.input_norm is not None:
            layers.append(_norm(self.input_norm, in_size))
        if not self.hidden_sizes and not layers:
            if output_size is None:
                return nn.Identity()
            return nn.Linear(in_size, output_size, bias=self.bias)
        for size in self.hidden_sizes or []:
            layers.append(nn.Linear(in_size, size, bias=self.bias))
            if self.norm_layer is not None:
                layers.append(_norm(self.norm_layer, size))
            if self.activation_layer is not None:
                layers.append(_ACTIVATIONS[self.activation_layer]())
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout))
            in_size = size
        if output_size is not None:
            layers.append(nn.Linear(in_size, output_size, bias=self.bias))
        return nn.Sequential(*layers)
