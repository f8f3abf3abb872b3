"""The finalists' evaluation as the ledger holds it: each finalist's fold scores by (fold,
repetition), why a planned score is missing, the metric's chance level on the scored parts and
the share of the examples a fold scores (what the intervals need, ``sweeps/evidence.py``)."""

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field

from sweeps import protocol
from sweeps.ledger import TrialRecord
from sweeps.protocol import TrialStatus

Scores = dict[tuple[int, int], float]
"""A finalist's scores by (fold, repetition)."""


@dataclass(frozen=True)
class Evaluation:
    """How the finalists were evaluated: every finalist's scores by (fold, repetition) (empty
    when it has none), why each planned score it lacks is missing (reason → count), on so many
    folds and repetitions, the chance level, the share of the examples one fold scores, and
    the difference that counts as a tie."""

    scores: dict[str, Scores]
    missing: dict[str, dict[str, int]]
    folds: int
    repetitions: int
    chance: float
    scored_share: float
    equivalence: float
    parts: dict[tuple[int, int], int] = field(default_factory=dict)
    """A fingerprint of each (fold, repetition)'s scored examples (``evidence.by_part``)."""
    scored_epochs: int = 0
    """The distinct examples one repetition's folds score together (0: not reported)."""


def key_of(record: TrialRecord) -> tuple[int, int]:
    """An evaluation trial's (fold, repetition)."""
    split = record.config["split"]
    return split["fold"], split.get("repetition", record.config["seed"])


def fold_score(record: TrialRecord, metric: str) -> float | None:
    """An evaluation trial's score on its fold; None when it has none (not finished, or NaN:
    an AUROC of a part with one class)."""
    if record.status != TrialStatus.FINISHED or not record.history:
        return None
    value = record.history[-1].get(protocol.FOLD + metric)
    return value if value is not None and math.isfinite(value) else None


def _why_missing(record: TrialRecord | None) -> str:
    if record is None:
        return "not run"
    if record.status == TrialStatus.FINISHED:
        return "no score (NaN)"
    return str(record.status).lower()


def read_evaluation(
    records: list[TrialRecord],
    finalists: list[str],
    *,
    folds: int,
    repetitions: int,
    metric: str,
    chance: float,
    equivalence: float,
) -> Evaluation:
    """The evaluation of ``finalists`` from their evaluation trials' ``records``, for
    ``metric`` (without ``val_``) whose chance level on the whole data is ``chance`` (used when
    no fold reported its own)."""
    by_key: dict[tuple[str, tuple[int, int]], TrialRecord] = {}
    for record in records:  # a scored record wins over a lost or failed one of the same key
        record_key = (record.strategy, key_of(record))
        if record_key not in by_key or fold_score(record, metric) is not None:
            by_key[record_key] = record
    scores: dict[str, Scores] = {}
    missing: dict[str, dict[str, int]] = {}
    for strategy in finalists:
        scores[strategy] = {}
        reasons: Counter[str] = Counter()
        for key in [(f, r) for f in range(folds) for r in range(1, repetitions + 1)]:
            found = by_key.get((strategy, key))
            value = None if found is None else fold_score(found, metric)
            if value is None:
                reasons[_why_missing(found)] += 1
            else:
                scores[strategy][key] = value
        missing[strategy] = dict(reasons)
    # a fold's facts, where its trial reported them (a ledger of an older layout has none)
    facts = [r.history[-1] for r in records if fold_score(r, metric) is not None]
    facts = [h for h in facts if protocol.FOLD_CHANCE in h]
    chances = [h[protocol.FOLD_CHANCE] for h in facts]
    shares = [(h[protocol.FOLD_SCORED], h[protocol.FOLD_POOL]) for h in facts]
    parts = {
        key_of(r): int(r.history[-1][protocol.FOLD_PART])
        for r in records
        if r.history and protocol.FOLD_PART in r.history[-1]
    }
    return Evaluation(
        scores,
        missing,
        folds,
        repetitions,
        statistics.fmean(chances) if chances else chance,
        sum(s for s, _ in shares) / sum(p for _, p in shares) if shares else 1.0 / folds,
        equivalence,
        parts,
        # the folds of a repetition partition its scored examples
        round(statistics.fmean(s for s, _ in shares) * folds) if shares else 0,
    )
