"""Mistakes a user can make, as one family: front ends (the CLI) print a ``UserError`` as one
line and treat any other exception as a bug, with its traceback.

Each is a ``ValueError``, so that pydantic validators may raise it too.
"""


class UserError(ValueError):
    """A mistake in the user's input; the message names the field or file and what was
    expected, on one line."""


class ConfigError(UserError):
    """A config that is valid on its own but cannot run here (no CUDA, an aggregation the
    backbone's output does not allow, a split without a test part)."""


class DataError(UserError):
    """Bad data: the message names the source and what was expected."""


class CheckpointError(UserError):
    """A checkpoint that is missing or does not fit the backbone."""


class StrategyError(UserError):
    """A strategy that cannot apply to this backbone (no attention layers, too few blocks)."""
