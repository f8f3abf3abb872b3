"""Append-only JSON-lines files that a crash mid-write cannot corrupt (the ledger, the
outbox's writes and runs).

A write appends whole lines, so a crash can only cut the last one short. Reading drops that
line from the file too: the next append then starts on a line of its own instead of being
glued to the cut one and lost with it.
"""

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def read_records(path: Path) -> list[dict[str, Any]]:
    """The file's records (none when it is missing), a last line cut short removed."""
    if not path.exists():
        return []
    text = path.read_text()
    whole = text[: text.rfind("\n") + 1]  # up to the last complete line
    if len(whole) < len(text):
        with open(path, "r+") as handle:
            handle.truncate(len(whole.encode()))
    return [json.loads(line) for line in whole.splitlines() if line]


def append_records(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with open(path, "a") as handle:
        handle.write("".join(json.dumps(record) + "\n" for record in records))
