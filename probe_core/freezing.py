"""Which backbone parameters train: the seed's layer-name matching rules."""

import logging
from typing import Literal

from torch import nn

LOGGER = logging.getLogger(__name__)


def matches(name: str, patterns: list[str], strict: bool) -> bool:
    """Whether a parameter name is selected by any of ``patterns``, by the seed's rules.

    Strict: the name's first component (before the first dot) equals a pattern, so the empty
    pattern ``""`` selects nothing (``layers_to_unfreeze=[""]`` freezes the whole backbone,
    ``layers_to_freeze=[""]`` freezes nothing). Loose: a pattern is a substring of the name, so
    ``""`` selects every parameter.
    """
    if strict:
        return name.split(".")[0] in patterns
    return any(pattern in name for pattern in patterns)


def apply_freeze(
    model: nn.Module,
    layers_to_freeze: list[str] | None,
    layers_to_unfreeze: list[str] | Literal["last"] | None,
    strict_matching: bool,
) -> None:
    """Set ``requires_grad`` on ``model``'s parameters; untouched when both lists are ``None``.

    ``layers_to_unfreeze="last"`` trains only the module owning the last registered parameter
    (by braindecode convention the classification head), everything else is frozen.
    """
    params = list(model.named_parameters())
    if layers_to_freeze is not None:
        for name, param in params:
            param.requires_grad = not matches(name, layers_to_freeze, strict_matching)
    elif layers_to_unfreeze == "last":
        last_layer = params[-1][0].rsplit(".", 1)[0]
        unfrozen = []
        for name, param in params:
            param.requires_grad = name.startswith(last_layer)
            if param.requires_grad:
                unfrozen.append(name)
        LOGGER.warning("Unfreezing %s", unfrozen)
    elif layers_to_unfreeze is not None:
        for name, param in params:
            param.requires_grad = matches(name, layers_to_unfreeze, strict_matching)
