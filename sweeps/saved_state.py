"""What a sweep's Tune run saves of ours: plain data (the searchers' state as JSON, trial configs
of strings and numbers), never one of our classes, so that renaming or moving a class cannot
break the resume of a sweep made before.

A resumed sweep rebuilds its searchers from the spec (``sweeps.tune_run``) and loads this data
into them; the Optuna trials themselves are in the sweep's Optuna storage. Sweep directories of
the previous layout (searchers pickled whole, a function of ours in Tune's state) are converted
once, in place, by ``upgrade_saved_state``; ``check_restorable`` then makes sure Tune can read
what it saved, as Tune would otherwise start the whole run again.
"""

import io
import json
import pickle
import re
from dataclasses import asdict
from operator import attrgetter
from pathlib import Path
from typing import Any, cast

from ray import cloudpickle
from ray.tune.search import Searcher

from sweeps import protocol
from sweeps.errors import SweepError
from sweeps.ledger import TrialRecord
from sweeps.ranking import rank_strategies

State = dict[str, Any]


class SavedAsData(Searcher):
    """A searcher whose saved state is ``state()``, written as JSON and read back by ``load``."""

    def state(self) -> State:
        raise NotImplementedError

    def load(self, state: State) -> None:
        raise NotImplementedError

    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_text(json.dumps(self.state()))

    def restore(self, checkpoint_path: str) -> None:
        self.load(json.loads(Path(checkpoint_path).read_text()))


def records_state(records: dict[str, TrialRecord]) -> State:
    return {trial_id: asdict(record) for trial_id, record in records.items()}


def records_of(state: State) -> dict[str, TrialRecord]:
    return {trial_id: TrialRecord(**values) for trial_id, values in state.items()}


# Upgrading a sweep directory of the previous layout.

RENAMED: dict[tuple[str, str], Any] = {
    ("sweeps.tune_run", "_trial_dirname"): attrgetter("trial_id"),
}
"""Our names that Tune's own saved state (``search_gen_state-*``) held, and what replaces them."""


class _Saved:
    """An object of ours in a previous layout's pickle, kept as its data: the constructor's
    arguments (an enum's value) and its attributes."""

    args: tuple[Any, ...] = ()
    fields: State = {}  # replaced by ``__setstate__``, never mutated

    def __init__(self, *args: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            state = {**(state[0] or {}), **state[1]}  # (__dict__, __slots__ values)
        self.fields = state if isinstance(state, dict) else {"state": state}


class _AsData(pickle.Unpickler):
    """Reads a previous layout's pickle without importing any class it names."""

    def find_class(self, module: str, name: str) -> Any:
        return _Saved


class _Renaming(pickle.Unpickler):
    """Reads Tune's own pickled state with our renamed names replaced (``RENAMED``)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in RENAMED:
            return RENAMED[(module, name)]
        return super().find_class(module, name)


def _plain(value: Any) -> Any:
    """``value`` with the enums of a previous layout as their values (JSON-ready)."""
    if isinstance(value, _Saved):  # an enum by its value, any other object by its attributes
        return _plain(value.args[0] if value.args else value.fields)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _legacy_state(fields: State) -> State:
    """The state that a searcher pickled with these attributes has in the current layout."""
    if "_ot_trials" in fields:  # Ray's OptunaSearch: the Optuna trial behind each Tune trial
        asked = {tid: trial.fields["_trial_id"] for tid, trial in fields["_ot_trials"].items()}
        return {"asked": asked, "told": sorted(fields["_completed_trials"])}
    ended = {tid: _plain(record) for tid, record in fields["ended"].items()}
    inner = _legacy_state(fields["inner"].fields)
    state = {"configs": _plain(fields["configs"]), "ended": ended, "inner": inner}
    if "n_search" in fields:  # the finalists' evaluation
        return {**state, "queue": _plain(fields["queue"])}
    search = fields["search"]  # the --auto race: the winner was not saved; it is ranked again
    winner = None
    if search is not None:
        records = list(records_of(ended).values())
        winner = rank_strategies(records, protocol.BEST_VALUE, fields["rank_mode"], 1)[0].strategy
    return {**state, "winner": winner, "search": _legacy_state(search.fields) if search else None}


def _names_renamed(pickled: bytes) -> bool:
    return any(module.encode() in pickled and name.encode() in pickled for module, name in RENAMED)


def _renamed(pickled: bytes) -> bytes:
    loaded = _Renaming(io.BytesIO(pickled)).load()
    dumped: bytes = cloudpickle.dumps(loaded)  # type: ignore[no-untyped-call]
    return dumped


_HEX_PICKLE = re.compile(r"(?<![0-9a-f])80[0-9a-f]{38,}(?![0-9a-f])")
"""A pickle inside Tune's JSON state: its cloudpickle fallback writes them as hex strings (a
pickle starts with 0x80, its protocol opcode)."""


def _renamed_hex(found: re.Match[str]) -> str:
    pickled = bytes.fromhex(found.group(0))
    return _renamed(pickled).hex() if _names_renamed(pickled) else found.group(0)


def upgrade_saved_state(tune_run: Path) -> bool:
    """Convert the saved state of a previous layout's Tune run in place (searchers pickled whole;
    our names inside Tune's own state); True when there was something to convert."""
    upgraded = False
    for path in tune_run.glob("searcher-state-*.pkl"):
        raw = path.read_bytes()
        if raw[:1] == b"\x80":  # a pickle: the previous layout (the current one is JSON)
            fields = cast(State, _AsData(io.BytesIO(raw)).load())  # the searcher's attributes
            path.write_text(json.dumps(_legacy_state(fields)))
            upgraded = True
    for path in tune_run.glob("search_gen_state-*.json"):  # a pickle, whatever its name says
        raw = path.read_bytes()
        if _names_renamed(raw):
            path.write_bytes(_renamed(raw))
            upgraded = True
    for path in tune_run.glob("experiment_state-*.json"):
        text = path.read_text()
        converted = _HEX_PICKLE.sub(_renamed_hex, text)
        if converted != text:
            path.write_text(converted)
            upgraded = True
    return upgraded


def _unpickle_fallbacks(value: dict[str, Any]) -> Any:
    """Tune's JSON encoder writes what JSON cannot hold as a hex pickle: read it back."""
    if value.get("_type") == "CLOUDPICKLE_FALLBACK":
        return pickle.loads(bytes.fromhex(value["value"]))
    return value


def check_restorable(tune_run: Path) -> None:
    """Raise ``SweepError`` naming the file when Tune could not read its saved run back (Tune
    would start the whole run again instead)."""
    newest = max(tune_run.glob("experiment_state-*.json"), default=None)
    generator = max(tune_run.glob("search_gen_state-*.json"), default=None)
    try:
        if newest is not None:
            for trial_state, _ in json.loads(newest.read_text())["trial_data"]:
                json.loads(trial_state, object_hook=_unpickle_fallbacks)
        if generator is not None:
            pickle.loads(generator.read_bytes())
    except (AttributeError, ImportError, KeyError, ValueError, pickle.UnpicklingError) as error:
        raise SweepError(
            f"{newest}: Ray Tune cannot read the sweep's saved run back ({error}); the sweep "
            "cannot continue (its finished trials are in trials.jsonl and MLflow)"
        ) from error
