"""Named entries of one kind (strategies, samplers, schedulers, spaces), registered once where
they are defined, in that order: what a config's name looks up, the choices a space offers, and
the one-line error an unknown name gets (timm's ``create_model`` and peft's method registry do
the same for models and adapters)."""

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from probe_core.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """``what`` names the kind of entry in errors: ``unknown strategy 'lorra'; known: …``."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}
        self._closed: str | None = None

    def close(self, why: str) -> None:
        """Refuse later entries, saying ``why`` (something was built from the entries)."""
        self._closed = why

    def register(self, name: str, entry: T) -> T:
        if self._closed is not None:
            raise ValueError(f"{self.what} {name!r} registered too late: {self._closed}")
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def add(self, name: str) -> Callable[[T], T]:
        """``register`` as a decorator."""
        return lambda entry: self.register(name, entry)

    def __getitem__(self, name: str) -> T:
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            known = ", ".join(self._entries)
            raise ConfigError(f"unknown {self.what} {name!r}; known: {known}{hint}")
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def values(self) -> list[T]:
        return list(self._entries.values())
