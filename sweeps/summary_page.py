"""One HTML page that answers the sweep's question, for the parent run: MLflow's artifact view
renders it inline (the pictures are embedded, so the page stands alone)."""

import base64
import html
import math
from pathlib import Path

from sweeps.evidence import Interval
from sweeps.recommendation import Recommendation, Verdict
from sweeps.report import Conclusion
from sweeps.spec import SweepSpec

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #1f2328; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #d0d7de; padding: 0.3em 0.7em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.verdict { font-size: 1.3em; font-weight: 600; }
.chosen { background: #dafbe1; }
img { max-width: 100%; margin: 0.5em 1% 0.5em 0; border: 1px solid #d0d7de; }
img.half { max-width: 48%; }
pre { background: #f6f8fa; padding: 0.8em; }
"""


def _table(header: list[str], rows: list[list[str]], highlight: int | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        f"<tr{' class=chosen' if i == highlight else ''}>"
        + "".join(f"<td>{html.escape(cell)}</td>" for cell in row)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _number(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def _interval_cells(score: Interval | None) -> list[str]:
    return [
        _number(None if score is None else score.mean),
        f"{_number(None if score is None else score.low)} to "
        f"{_number(None if score is None else score.high)}",
    ]


def _recommendation(recommendation: Recommendation | None) -> str:
    if recommendation is None:
        return "<p class=verdict>No trial reported a value: nothing to recommend.</p>"
    reference = recommendation.reference
    if recommendation.answered_by_reference:
        assert reference is not None  # answered by it
        headline = reference.headline()
    elif recommendation.strategy is not None:
        headline = f"Recommended freeze strategy: {recommendation.strategy}"
    elif recommendation.verdict == Verdict.CHANCE:
        headline = "No strategy beats chance: nothing is recommended."
    else:
        headline = "Not enough evidence: nothing is recommended."
    rows = [
        [
            f.strategy,
            *_interval_cells(f.score),
            "–" if f.trainable_params is None else f"{f.trainable_params:,}",
            _number(f.epoch_time, 2),
        ]
        for f in recommendation.finalists
    ]
    if reference is not None:
        rows.append(
            [f"classical reference ({reference.kind})", *_interval_cells(reference.score), "–", "–"]
        )
    names = [f.strategy for f in recommendation.finalists]
    chosen = names.index(recommendation.strategy) if recommendation.strategy in names else None
    if recommendation.answered_by_reference:
        chosen = len(rows) - 1
    header = ["finalist", recommendation.metric, "95% CI", "trainable parameters", "s / epoch"]
    return (
        f"<p class=verdict>{html.escape(headline)}</p>"
        f"<p>{html.escape(recommendation.reason)}</p>"
        + _table(header, rows, chosen)
        + f"<pre>{html.escape(recommendation.text())}</pre>"
    )


def _images(paths: list[Path]) -> str:
    """A pair side by side, any other number one per line: no empty cell beside the last."""
    size = " class=half" if len(paths) == 2 else ""
    return "".join(
        f"<img{size} alt='{html.escape(p.stem)}' "
        f"src='data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}'>"
        for p in paths
    )


def summary_page(spec: SweepSpec, conclusion: Conclusion, plots: dict[str, list[Path]]) -> str:
    """The page: the recommendation with its statistics, the strategies compared, the plots
    by section (``publish.draw_plots``) and the leaderboard."""
    ranks = [
        [r.strategy, str(r.n_trials), _number(r.best), _number(r.top_k_mean)]
        for r in conclusion.ranks
    ]
    board = [
        [
            row["trial_id"],
            row["strategy"],
            _number(row[conclusion.metric], 4),
            str(row["epochs"]),
            str(row["status"]),
        ]
        for row in conclusion.board[:20]
    ]
    top_k = f"top-{spec.confirmation.top_k} mean"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(spec.name)}</title>
<style>{STYLE}</style></head><body>
<h1>Sweep {html.escape(spec.name)}: {html.escape(spec.trial.backbone.name)}</h1>
<p>{html.escape(conclusion.counts_line())}</p>
<h2>Recommendation</h2>
{_recommendation(conclusion.recommendation)}
<h2>Strategies in the search</h2>
{_table(["strategy", "trials", "best " + conclusion.metric, top_k], ranks)}
{"".join(f"<h2>{html.escape(heading)}</h2>{_images(paths)}" for heading, paths in plots.items())}
<h2>Leaderboard</h2>
{_table(["trial", "strategy", conclusion.metric, "epochs", "status"], board)}
</body></html>
"""
