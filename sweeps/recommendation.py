"""Which freeze strategy to use, decided on evidence.

The search's best trial of each strategy won on one validation split, chosen among many trials:
its score is biased upwards. So the finalists (the best strategies of the search) are evaluated
again by repeated cross-validation (``SplitConfig.folds``): each one's best config on every fold
× repetition (each repetition with fresh folds and a fresh model seed), each trained with a
patience and scored on its fold at the epoch its own validation part picked. The folds score
only examples the search trained on, never the validation examples that chose its best trials.
Then, in this order:

1. a finalist with fewer than two fold scores (its evaluation trials failed, scored NaN or did
   not run) cannot be judged: when no finalist can be, or one that cannot be is among the
   best, the verdict is ``INSUFFICIENT`` and says so, never a tie or a default;
2. a finalist whose interval does not clear the chance level (of the scored parts' classes)
   has learnt nothing that the data shows; when none clears it, nothing is recommended;
3. the finalist with the best mean wins, unless the paired difference to another finalist is
   within noise (its interval holds 0) and small (at most ``equivalence``, 1 point by
   default): then they are tied, and the cheapest of the tied ones is chosen (10 % fewer
   trainable parameters, or as many and 20 % less time per epoch). A difference within noise
   but larger is not a tie (few folds give wide intervals: no evidence of a difference is no
   evidence of equality): the better mean stands, and the text says the data could not
   separate them. Two finalists sharing fewer than two (fold, repetition) pairs cannot be
   compared: ``INSUFFICIENT``.

The classical reference (``probe_core.classical``) is scored on the same (fold, repetition)
pairs and held against the deep finalists with the same paired intervals (``judge_reference``):
only when it beats every one of them beyond noise is it the answer, said first; the best deep
strategy is still named, and its config written, for whoever wants it.
"""

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, TypedDict

from probe_core.metrics import metric_range
from sweeps.evaluation import Evaluation, Scores
from sweeps.evidence import (
    MIN_SCORES,
    Interval,
    by_part,
    corrected_interval,
    paired_difference,
    sampling_floor,
)
from sweeps.learning_rate_choice import LearningRateChoice


class Verdict(StrEnum):
    BETTER = "better"  # beats the runner-up beyond noise
    UNSEPARATED = "unseparated"  # ahead of the runner-up by more than a tie, within noise
    TIED = "tied"  # within noise and within a tie: the cheapest of the tied finalists
    ONLY = "only"  # a single finalist was evaluated
    CHANCE = "chance"  # no finalist beats chance: nothing recommended
    INSUFFICIENT = "insufficient"  # missing scores leave a comparison, or everything, unjudged
    UNEVALUATED = "unevaluated"  # no evaluation planned: the search's best trial, no interval


class ReferenceVerdict(StrEnum):
    BETTER = "better"  # beats chance and every deep finalist beyond noise: it is the answer
    CHANCE = "chance"  # its interval does not clear the chance level: never the answer
    UNSEPARATED = "unseparated"  # the evidence cannot separate it from the best deep finalist
    WORSE = "worse"  # the best deep finalist beats it beyond noise
    UNJUDGED = "unjudged"  # fewer than two fold scores, or no deep finalist to pair it with


@dataclass(frozen=True)
class Reference:
    """The classical reference beside the deep finalists: its score on the folds, its verdict,
    the deep finalist it is held against (the recommended one, else the best) and their paired
    difference (the reference minus it, positive when the reference is better)."""

    kind: str
    score: Interval | None
    verdict: ReferenceVerdict
    against: str | None = None
    difference: Interval | None = None
    test_metrics: dict[str, float] | None = None
    seconds: float = 0.0
    beats_chance: bool = False  # its interval clears the chance level
    transferred: float | None = None  # the share of its models that took pretraining recordings

    def headline(self) -> str:
        """The first line of a recommendation the reference answers."""
        assert self.difference is not None  # BETTER is judged on the differences
        return (
            f"Use the classical reference ({self.kind}): better than every deep finalist beyond "
            f"noise, by {self.difference.text(signed=True)} over {self.against}; the "
            "pretrained backbone adds nothing on this data."
        )

    def lines(self) -> list[str]:
        """Its score, how it compares, its held-out test score, its cost."""
        score = self.score.text() if self.score else "no fold score"
        lines = [f"classical reference ({self.kind}): {score}; {self.seconds:.1f} s in all"]
        if self.transferred is not None:
            lines.append(
                f"  {self.transferred:.0%} of its models also trained on the pretraining "
                "recordings (where a cross-validation inside the training part preferred them)"
            )
        if self.difference is not None:
            relation = {
                ReferenceVerdict.BETTER: "better beyond noise",
                ReferenceVerdict.CHANCE: "but the reference does not beat chance",
                ReferenceVerdict.WORSE: "worse beyond noise",
                ReferenceVerdict.UNSEPARATED: "not separated by the evidence",
            }.get(self.verdict, "")
            difference = self.difference.text(signed=True)
            lines.append(f"  reference minus {self.against}: {difference}, {relation}")
        if self.test_metrics:
            lines.append(f"  reference on the held-out test: {_test_text(self.test_metrics)}")
        return lines

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Reference":
        return cls(
            **{
                **values,
                "verdict": ReferenceVerdict(values["verdict"]),
                "score": values["score"] and Interval(**values["score"]),
                "difference": values["difference"] and Interval(**values["difference"]),
            }
        )


def _test_text(metrics: dict[str, float]) -> str:
    shown = ("balanced_accuracy", "accuracy", "f1_macro", "auroc")
    return ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k in shown)


@dataclass(frozen=True)
class Finalist:
    strategy: str
    score: Interval | None  # None without any fold score
    trainable_params: int | None
    epoch_time: float | None
    missing: dict[str, int] = field(default_factory=dict)  # why fold scores are missing: count

    @property
    def judged(self) -> bool:
        """Whether it has enough fold scores for an interval."""
        return self.score is not None and self.score.n >= MIN_SCORES


@dataclass
class Recommendation:
    verdict: Verdict
    strategy: str | None  # None when nothing is recommended (chance, or no evidence)
    metric: str
    chance: float
    folds: int
    seeds: int  # repetitions: each with fresh folds and a fresh model seed
    finalists: list[Finalist]
    runner_up: str | None = None
    difference: Interval | None = None  # the recommended minus the runner-up, paired
    reason: str = ""
    test_metrics: dict[str, float] | None = field(default=None)
    gaps: list[str] = field(default_factory=list)
    """Where a finalist's fold scores sit far below its search score: by how much, and why."""
    reference: Reference | None = None
    learning_rate: LearningRateChoice | None = None
    """The recommended strategy's learning rate, where others were evaluated on its folds."""

    @property
    def answered_by_reference(self) -> bool:
        """Whether the classical reference, not a deep strategy, is the answer."""
        return self.reference is not None and self.reference.verdict == ReferenceVerdict.BETTER

    @property
    def chosen(self) -> Finalist | None:
        return next((f for f in self.finalists if f.strategy == self.strategy), None)

    def text(self) -> str:
        """What the sweep prints, ``recommendation.txt`` holds and ``probe-sweep report``
        shows: the same figures as ``report.json`` and the MLflow parent run."""
        repetitions = f"{self.seeds} repetition{'s' * (self.seeds != 1)}"
        scored = self.metric.removeprefix("val_")  # on the folds, not the validation split
        evaluated = f"{scored} on {self.folds} folds × {repetitions}, chance {self.chance:.3f}"
        if self.verdict == Verdict.CHANCE:
            best = self.finalists[0]
            assert best.score is not None  # a CHANCE verdict judged every finalist
            causes = (
                "The classical reference beats chance: the data holds what the deep strategies "
                "did not learn (their backbone, its inputs, or their training)."
                if self.reference is not None and self.reference.beats_chance
                else "Likely causes: the signal's scale (data.unit: MNE data is volts), labels "
                "that do not match the epochs, too few epochs (training.max_epochs) or a "
                "learning rate too low (optimizer.lr)."
            )
            lines = [
                f"No strategy beats chance: the best, {best.strategy}, scores "
                f"{best.score.text()} ({evaluated}).",
                f"  Nothing is recommended and no best config was written. {causes}",
            ]
        elif self.strategy is None:  # not enough evidence for anything
            lines = [f"Nothing is recommended: {self.reason}", f"  {evaluated}:"]
            lines += [f"    {_finalist_line(f)}" for f in self.finalists]
        elif self.verdict == Verdict.UNEVALUATED:
            chosen = self.chosen
            assert chosen is not None and chosen.score is not None  # as ``unevaluated`` made it
            lines = [
                f"Recommended freeze strategy: {self.strategy} ({self.reason})",
                f"  {self.metric}: {chosen.score.mean:.3f} (best epoch of its best trial)",
            ]
        else:
            named = "Best deep" if self.answered_by_reference else "Recommended"
            lines = [f"{named} freeze strategy: {self.strategy} ({self.reason})"]
            lines.append(f"  {evaluated}:")
            lines += [f"    {_finalist_line(f)}" for f in self.finalists]
        if self.difference is not None:
            lines.append(f"  difference to {self.runner_up}: {self.difference.text(signed=True)}")
        if self.learning_rate is not None:
            lines.append(f"  {self.learning_rate.text()}")
        lines += [f"  {gap}" for gap in self.gaps]
        if self.test_metrics:
            lines.append(f"  held-out test: {_test_text(self.test_metrics)}")
        if self.reference is not None:
            lines += [f"  {line}" for line in self.reference.lines()]
            if self.answered_by_reference:
                lines.insert(0, self.reference.headline())
        return "\n".join(lines)

    def markdown(self) -> str:
        """The text as Markdown, for the parent run's description on its MLflow Overview page:
        the first line as a heading, the finalists as a table, the rest as a list."""
        first, *rest = self.text().splitlines()
        listed = {_finalist_line(f).strip() for f in self.finalists}
        rows = [_finalist_row(f, chosen=f.strategy == self.strategy) for f in self.finalists]
        scored = (
            f"{self.metric} (its best trial)"
            if self.verdict == Verdict.UNEVALUATED
            else f"{self.metric.removeprefix('val_')} on the folds"
        )
        table = [
            f"| finalist | {scored} | trainable parameters | s per epoch |",
            "| --- | --- | --- | --- |",
            *rows,
        ]
        notes = [f"- {line.strip()}" for line in rest if line.strip() not in listed]
        return "\n".join([f"### {first}", "", *table, "", *notes])

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Recommendation":
        """As ``report.json`` holds it."""
        finalists = [
            Finalist(**{**f, "score": f["score"] and Interval(**f["score"])})
            for f in values["finalists"]
        ]
        difference = values["difference"] and Interval(**values["difference"])
        verdict = Verdict(values["verdict"])
        reference = values.get("reference") and Reference.from_dict(values["reference"])
        learning_rate = values.get("learning_rate") and LearningRateChoice.from_dict(
            values["learning_rate"]
        )
        return cls(
            **{
                **values,
                "verdict": verdict,
                "finalists": finalists,
                "difference": difference,
                "reference": reference,
                "learning_rate": learning_rate,
            }
        )


def _finalist_row(finalist: Finalist, chosen: bool) -> str:
    """A Markdown table row: the strategy (bold when recommended), score, parameters, time."""
    name = f"**{finalist.strategy}**" if chosen else finalist.strategy
    score = finalist.score.text() if finalist.score else "no fold score"
    params = "" if finalist.trainable_params is None else f"{finalist.trainable_params:,}"
    seconds = "" if finalist.epoch_time is None else f"{finalist.epoch_time:.2f}"
    return f"| {name} | {score} | {params} | {seconds} |"


def _finalist_line(finalist: Finalist) -> str:
    cost = []
    if finalist.trainable_params is not None:
        cost.append(f"{finalist.trainable_params:,} trainable parameters")
    if finalist.epoch_time is not None:
        cost.append(f"{finalist.epoch_time:.2f} s per epoch")
    score = finalist.score.text() if finalist.score else "no fold score"
    line = f"{finalist.strategy:<16} {score}   {', '.join(cost)}"
    if finalist.missing:
        line += f"; {_missing_text(finalist)}"
    return line


def _missing_text(finalist: Finalist) -> str:
    """``2 of 6 fold scores missing (1 failed, 1 not run)``."""
    lost = sum(finalist.missing.values())
    planned = lost + (finalist.score.n if finalist.score else 0)
    reasons = ", ".join(f"{count} {why}" for why, count in finalist.missing.items())
    return f"{lost} of {planned} fold scores missing ({reasons})"


class _Common(TypedDict):
    """The fields every recommendation from an evaluation shares."""

    metric: str
    chance: float
    folds: int
    seeds: int
    finalists: list[Finalist]


CHEAPER_PARAMS = 1.1
CHEAPER_TIME = 1.2
"""How much fewer trainable parameters (or, with as many, less time per epoch) make a finalist
cheaper: smaller differences are timing noise or rounding, and the better mean stands."""


def _cost(finalist: Finalist) -> tuple[float, float]:
    return (
        math.inf if finalist.trainable_params is None else finalist.trainable_params,
        math.inf if finalist.epoch_time is None else finalist.epoch_time,
    )


def _cheaper_by(first: Finalist, second: Finalist) -> str | None:
    """How much cheaper ``first`` is than ``second``, in words; None when it is not."""
    (params, time), (their_params, their_time) = _cost(first), _cost(second)
    if their_params >= params * CHEAPER_PARAMS:
        ratio = their_params / max(params, 1)
        shown = f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.1f}"
        return f"{shown}× fewer trainable parameters"
    if params < their_params * CHEAPER_PARAMS and their_time >= time * CHEAPER_TIME:
        return f"{their_time / time:.1f}× less time per epoch"
    return None


def clears_chance(score: Interval, chance: float, mode: str) -> bool:
    """Whether all of ``score``'s interval is on the better side of ``chance`` (a Python bool:
    the bounds can be numpy floats, and report.json must say true or false)."""
    return bool(score.low > chance if mode == "max" else score.high < chance)


def fold_interval(values: Scores, evaluation: Evaluation, metric: str) -> Interval:
    """A score over the evaluation's folds × repetitions: its corrected interval, never
    narrower than the scored epochs allow, within the values the metric can take."""
    bounds = metric_range(metric.removeprefix("val_"))  # scored on the folds
    found = corrected_interval(by_part(values, evaluation.parts), evaluation.scored_share)
    return sampling_floor(found, evaluation.scored_epochs, bounds).within(*bounds)


def recommend(
    evaluation: Evaluation,
    costs: dict[str, tuple[int | None, float | None]],
    metric: str,
    mode: str,
) -> Recommendation:
    """The recommendation from the finalists' ``evaluation``, with their ``costs`` (trainable
    parameters, seconds per epoch), by the rules of this module's docstring."""
    sign = 1.0 if mode == "max" else -1.0
    scores, share, parts = evaluation.scores, evaluation.scored_share, evaluation.parts
    finalists = [
        Finalist(
            strategy,
            fold_interval(values, evaluation, metric) if values else None,
            *costs[strategy],
            evaluation.missing.get(strategy, {}),
        )
        for strategy, values in scores.items()
    ]
    finalists.sort(key=lambda f: (not f.judged, -sign * f.score.mean if f.score else 0.0))
    common: _Common = {
        "metric": metric,
        "chance": evaluation.chance,
        "folds": evaluation.folds,
        "seeds": evaluation.repetitions,
        "finalists": finalists,
    }

    def beats_chance(finalist: Finalist) -> bool:
        assert finalist.score is not None  # only judged finalists are asked
        return clears_chance(finalist.score, evaluation.chance, mode)

    learnt = [f for f in finalists if f.judged and beats_chance(f)]
    unjudged = [f for f in finalists if not f.judged]
    if not learnt:
        if not unjudged:
            return Recommendation(Verdict.CHANCE, None, **common)
        judged = (
            "no finalist with two fold scores"
            if len(unjudged) == len(finalists)
            else ("no finalist with two fold scores beats chance")
        )
        reason = f"not enough evidence: {judged}; " + "; ".join(
            f"{f.strategy}: {_missing_text(f)}" for f in unjudged
        )
        return Recommendation(Verdict.INSUFFICIENT, None, reason=reason, **common)
    top = learnt[0]

    def difference(first: Finalist, second: Finalist) -> Interval | None:
        """``first`` better than ``second`` (positive), paired by fold and repetition."""
        found = paired_difference(scores[first.strategy], scores[second.strategy], share, parts)
        return found if found is None or sign > 0 else found.negated()

    def is_tie(found: Interval | None) -> bool:
        return found is not None and found.contains(0.0) and abs(found.mean) <= equivalence

    equivalence = evaluation.equivalence
    tied = [top] + [f for f in learnt[1:] if is_tie(difference(top, f))]
    chosen = top
    for finalist in tied[1:]:
        if _cheaper_by(finalist, chosen):
            chosen = finalist
    others = [f for f in finalists if f is not chosen]
    incomparable = [f for f in others if difference(chosen, f) is None]
    comparable = [f for f in others if f not in incomparable]
    runner_up = comparable[0] if comparable else None
    gap = None if runner_up is None else difference(chosen, runner_up)
    if incomparable:  # the comparison with the others stands, and says what it lacks
        missing = incomparable[0]
        verdict = Verdict.INSUFFICIENT
        reason = f"not enough evidence against {missing.strategy}: " + (
            _missing_text(missing)
            if not missing.judged
            else f"they share {len(set(scores[chosen.strategy]) & set(scores[missing.strategy]))}"
            " (fold, repetition) pairs"
        )
        if runner_up is not None and gap is not None:
            reason += f"; ahead of {runner_up.strategy} by {gap.mean:+.3f}"
    elif runner_up is None:
        verdict, reason = Verdict.ONLY, "the only finalist"
    elif len(tied) > 1:
        other = next(f for f in tied if f is not chosen)
        cheaper = _cheaper_by(chosen, other)
        verdict = Verdict.TIED
        reason = (
            f"tied within noise: chose {chosen.strategy}, {cheaper}"
            if cheaper
            else f"tied within noise with {other.strategy}, as cheap: the better mean"
        )
    else:
        assert gap is not None  # the runner-up is comparable: their difference was found
        if gap.contains(0.0):
            verdict = Verdict.UNSEPARATED
            reason = (
                f"ahead of {runner_up.strategy} by {gap.mean:+.3f}, more than a tie "
                f"({equivalence:g}) but within noise: the better mean; more folds or repetitions "
                "would separate them"
            )
        else:
            verdict, reason = Verdict.BETTER, f"better than {runner_up.strategy} beyond noise"
    return Recommendation(
        verdict,
        chosen.strategy,
        runner_up=None if runner_up is None else runner_up.strategy,
        difference=gap,
        reason=reason,
        **common,
    )


def unevaluated(
    strategy: str,
    best: float,
    cost: tuple[int | None, float | None],
    metric: str,
    chance: float,
    why: str = "confirmation.seeds is 0",
) -> Recommendation:
    """The search's best trial, when no finalist was evaluated (``why``)."""
    score = Interval(best, -math.inf, math.inf, 1)
    return Recommendation(
        Verdict.UNEVALUATED,
        strategy,
        metric=metric,
        chance=chance,
        folds=0,
        seeds=0,
        finalists=[Finalist(strategy, score, *cost)],
        reason=f"the search's best trial; not evaluated on folds ({why}), so without an "
        "interval or a test against chance",
    )


def judge_reference(
    recommendation: Recommendation,
    evaluation: Evaluation | None,
    scores: Scores,
    *,
    kind: str,
    mode: str,
    test_metrics: dict[str, float] | None,
    seconds: float,
    transferred: float | None = None,
) -> Reference:
    """The classical reference's ``scores`` by (fold, repetition), held against every deep
    finalist of the ``evaluation`` with paired intervals: ``CHANCE`` when its own interval does
    not clear the chance level, else ``BETTER`` when it beats each one beyond noise, ``WORSE``
    when the recommended deep finalist (else the best) beats it beyond noise."""
    if evaluation is None or len(scores) < MIN_SCORES:
        return Reference(
            kind,
            None,
            ReferenceVerdict.UNJUDGED,
            test_metrics=test_metrics,
            seconds=seconds,
            transferred=transferred,
        )
    sign = 1.0 if mode == "max" else -1.0
    share, parts = evaluation.scored_share, evaluation.parts
    score = fold_interval(scores, evaluation, recommendation.metric)

    def difference(strategy: str) -> Interval | None:
        found = paired_difference(scores, evaluation.scores[strategy], share, parts)
        return found if found is None or sign > 0 else found.negated()

    differences = {f.strategy: difference(f.strategy) for f in recommendation.finalists}
    judged = [f.strategy for f in recommendation.finalists if f.judged]
    against = recommendation.strategy or (judged[0] if judged else None)
    gap = differences.get(against) if against is not None else None
    learnt = clears_chance(score, evaluation.chance, mode)
    if gap is None:
        verdict = ReferenceVerdict.UNJUDGED
    elif not learnt:
        verdict = ReferenceVerdict.CHANCE
    elif all(d is not None and d.low > 0 for d in differences.values()):
        verdict = ReferenceVerdict.BETTER
    elif gap.high < 0:
        verdict = ReferenceVerdict.WORSE
    else:
        verdict = ReferenceVerdict.UNSEPARATED
    return Reference(kind, score, verdict, against, gap, test_metrics, seconds, learnt, transferred)
