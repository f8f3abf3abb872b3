"""User mistakes of the sweep layer, and reading user files so that their mistakes are one line.

Every mistake a user can make is a ``probe_core.UserError``; the CLI prints those as one line and
lets anything else show its traceback. Files a user writes (specs, trial configs) are read here,
where pydantic's and YAML's errors become ``SpecError``s that name the field and the value.
"""

from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from probe_core import UserError


class SweepError(UserError):
    """A sweep that cannot start or go on as asked (resources no node has, an existing
    directory, records that could not be sent)."""


class SpecError(UserError):
    """A spec or config file that cannot be read or validated."""


Model = TypeVar("Model", bound=pydantic.BaseModel)


def describe_validation_error(error: pydantic.ValidationError, source: str) -> str:
    """The first problem of a pydantic error, on one line: where, what, and the value given."""
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"] if not str(part).startswith("function-"))
    message = first["msg"].removeprefix("Value error, ")
    given = first.get("input")
    shown = "" if isinstance(given, dict | list) or given is None else f" (got {given!r})"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    where = f"{location}: " if location else ""
    return f"{source}: {where}{message}{shown}{more}"


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from ``path``, read with the safe loader only."""
    try:
        values = yaml.safe_load(Path(path).read_text())
    except (FileNotFoundError, IsADirectoryError):
        raise SpecError(f"{path}: not found") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SpecError(f"{path}:{where}: malformed YAML ({problem})") from None
    if not isinstance(values, dict):
        raise SpecError(f"{path}: expected a YAML mapping, got {type(values).__name__}")
    return values


def validated(model: type[Model], values: dict[str, Any], source: str | Path) -> Model:
    """``model`` validated from ``values``; a mistake is a ``SpecError`` naming ``source``."""
    try:
        return model.model_validate(values)
    except pydantic.ValidationError as error:
        raise SpecError(describe_validation_error(error, str(source))) from None
