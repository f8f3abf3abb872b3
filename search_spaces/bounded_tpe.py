"""TPE whose cost per trial stops growing: it fits on a bounded history of the study.

Optuna's TPE costs more per trial the longer the sweep: 0.095 s per trial over the first 100
of a 1,000-trial sweep, 0.18 s over the last 100 (docs/SCALE.md). At each ask it refits both
its densities on every finished trial, and with ``group=True`` it decomposes the search space
again from every finished trial. Its "good" density holds at most 25 trials (``gamma``: the
best 10 %, capped at 25); its "bad" density holds all the others, the older weighted down
(Optuna's ``default_weights``: only the 25 most recent at full weight).

Here TPE fits on at most ``history`` finished trials: the best 25 complete ones, so that its
good density is the one it fits on the whole study, and the most recent others. Up to
``history`` trials it samples exactly as Optuna's TPE; past it, only its bad density forgets
the oldest trials, those Optuna weights least. The space's decomposition adds each finished
trial once, which gives the same groups. Multi-objective studies are not bounded (there is no
one best 25).
"""

import copy
import heapq
from collections.abc import Container
from typing import Any, cast

import optuna
from optuna.distributions import BaseDistribution
from optuna.search_space.group_decomposed import _GroupDecomposedSearchSpace, _SearchSpaceGroup
from optuna.trial import FrozenTrial, TrialState

GOOD = 25  # TPE's good density holds at most this many (Optuna's default gamma)


class BoundedTPESampler(optuna.samplers.TPESampler):
    """``TPESampler`` fitted on at most ``history`` finished trials, as the module says
    (``history`` ≥ 10 × ``GOOD``: TPE's gamma then keeps all of the best ``GOOD``)."""

    def __init__(self, *, history: int, **tpe: Any) -> None:
        super().__init__(**tpe)
        self.history = history
        if self._group:
            self._group_decomposed_search_space = _EachTrialOnce(include_pruned=True)
        self._kept: dict[tuple[Any, ...], list[FrozenTrial]] = {}  # this ask's, by states

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return super().sample_relative(self._bounded(study), trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        view = self._bounded(study)
        return super().sample_independent(view, trial, param_name, param_distribution)

    def _bounded(self, study: optuna.Study) -> optuna.Study:
        if study._is_multi_objective():
            return study
        # TPE reads the study only through the view, which forwards all but the trials
        return _Bounded(study, self)  # type: ignore[return-value]

    def kept(
        self, study: optuna.Study, trials: list[FrozenTrial], states: Any
    ) -> list[FrozenTrial]:
        """Of the study's ``trials`` in ``states`` (by number), the unfinished ones, the best
        ``GOOD`` complete ones and the most recent finished others, ``history`` finished in
        all; computed once per ask (TPE asks for the trials several times)."""
        key = (tuple(states or ()), len(trials), trials[-1].number if trials else -1)
        if key in self._kept:
            return self._kept[key]
        finished = [t for t in trials if t.state.is_finished()]
        kept = trials
        if len(finished) > self.history:
            sign = 1 if study.direction == optuna.study.StudyDirection.MINIMIZE else -1
            complete = (t for t in finished if t.state == TrialState.COMPLETE)
            best = heapq.nsmallest(GOOD, complete, key=lambda t: sign * cast(float, t.value))
            numbers = {t.number for t in best}
            recent = [t for t in finished if t.number not in numbers]
            recent = recent[-(self.history - len(best)) :]  # a positive count: history > GOOD
            unfinished = [t for t in trials if not t.state.is_finished()]
            kept = sorted(unfinished + best + recent, key=lambda t: t.number)
        if len(self._kept) > 4:  # older asks'
            self._kept.clear()
        self._kept[key] = kept
        return kept


class _Bounded:
    """A study whose trials are those ``BoundedTPESampler.kept`` keeps; all else its own."""

    def __init__(self, study: optuna.Study, sampler: BoundedTPESampler) -> None:
        self._study, self._sampler = study, sampler

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        trials = self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache)
        return self._sampler.kept(self._study, trials, states)


class _EachTrialOnce(_GroupDecomposedSearchSpace):
    """Optuna's decomposition of the search space into groups of parameters that appear
    together, adding each finished trial once instead of every trial at each ask."""

    def __init__(self, include_pruned: bool) -> None:
        super().__init__(include_pruned)
        self._added: set[int] = set()

    def calculate(self, study: optuna.Study, use_cache: bool = False) -> _SearchSpaceGroup:
        states = (TrialState.COMPLETE, TrialState.PRUNED)[: 1 + self._include_pruned]
        for trial in study._get_trials(deepcopy=False, states=states, use_cache=use_cache):
            if trial.number not in self._added:
                self._added.add(trial.number)
                self._search_space.add_distributions(trial.distributions)
        return copy.deepcopy(self._search_space)
