"""Ray Tune orchestration, MLflow tracking, reports and the ``probe-sweep`` CLI.

``__all__`` is what users import; each name is loaded on first use (PEP 562), so that importing
``sweeps`` (every trial process does) costs nothing until a sweep is run.

    from sweeps import load_spec, run_sweep, show, Verbosity
    show(Verbosity.NORMAL)  # print progress and results, as the CLI does
    outcome = run_sweep(load_spec("spec.yaml"))
"""

import importlib
from typing import Any

_WHERE = {
    "Recommendation": "sweeps.recommendation",
    "SweepOutcome": "sweeps.sweep",
    "SweepSpec": "sweeps.spec",
    "Verbosity": "sweeps.output",
    "Verdict": "sweeps.recommendation",
    "dry_run": "sweeps.sweep",
    "load_spec": "sweeps.spec",
    "resume_sweep": "sweeps.sweep",
    "run_sweep": "sweeps.sweep",
    "show": "sweeps.output",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'sweeps' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
