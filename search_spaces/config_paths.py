"""Edit a TrialConfig by dotted paths (``optimizer.lr``, ``strategy.rank``), validating the result.

Every sampled trial goes through here, so every trial is a validated TrialConfig.
"""

import copy
import types
import typing
from typing import Any

import pydantic

from probe_core import TrialConfig


def get_path(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def set_path(values: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path`` in a nested dict. Changing a ``kind`` (a union's discriminator) resets its
    section to the new kind's defaults: a LoRA strategy has no ``feature_norm``."""
    *parents, last = path.split(".")
    node = values
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    if last == "kind" and node.get("kind") != value:
        node.clear()
    node[last] = value


def with_values(config: TrialConfig, values: dict[str, Any]) -> TrialConfig:
    """``config`` with the dotted-path ``values`` applied (kinds first), validated."""
    data = config.model_dump(mode="json", exclude_unset=False)
    data = copy.deepcopy(data)
    for path in sorted(values, key=lambda p: (not p.endswith(".kind"), p.count("."))):
        set_path(data, path, values[path])
    return TrialConfig.model_validate(data)


def _members(annotation: Any) -> list[Any]:
    """The concrete types an annotation allows (unions and Annotated unwrapped)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def is_known_path(path: str, model: type[pydantic.BaseModel] = TrialConfig) -> bool:
    """Whether ``path`` names a field of ``model`` (through nested configs and union members;
    anything below a free-form dict such as ``backbone.kwargs`` is accepted)."""
    head, _, rest = path.partition(".")
    field = model.model_fields.get(head)
    if field is None:
        return False
    if not rest:
        return True
    for member in _members(field.annotation):
        if isinstance(member, type) and issubclass(member, pydantic.BaseModel):
            if is_known_path(rest, member):
                return True
        elif member is dict or typing.get_origin(member) is dict:
            return True
    return False
