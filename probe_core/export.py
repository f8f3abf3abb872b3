"""A trained model as a plain module for inference and export."""

import copy
from typing import cast

from torch import nn
from torch.nn.utils import parametrize


def inference_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with every parametrization baked into a plain weight.

    LoRA updates are merged into their base weights and max-norm constraints are applied once,
    which is what inference needs; and parametrized modules cannot be pickled (MLflow's
    ``log_model``) while plain ones can.
    """
    plain = copy.deepcopy(model).eval()
    for module in plain.modules():
        if parametrize.is_parametrized(module):
            for name in list(cast(nn.ModuleDict, module.parametrizations)):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    return plain
