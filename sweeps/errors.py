"""User mistakes as one line: what the CLI prints instead of a traceback."""

import pydantic
import yaml

from probe_core import CheckpointError, DataError, StrategyError


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


USER_ERRORS = (
    pydantic.ValidationError,
    yaml.YAMLError,
    FileNotFoundError,
    IsADirectoryError,
    DataError,
    CheckpointError,
    StrategyError,
    ValueError,
)


def describe(error: BaseException, source: str) -> str:
    if isinstance(error, pydantic.ValidationError):
        return describe_validation_error(error, source)
    if isinstance(error, yaml.YAMLError):
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        return f"{source}:{where}: malformed YAML ({problem})"
    if isinstance(error, FileNotFoundError | IsADirectoryError):
        return f"{error.filename or source}: not found"
    return " ".join(str(error).split())
