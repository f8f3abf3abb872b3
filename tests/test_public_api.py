"""Each package's ``__all__`` is what users import: every name there resolves, internals stay
out, and importing ``sweeps`` (as every trial process does) loads nothing heavy."""

import subprocess
import sys

import pytest

import probe_core
import search_spaces
import sweeps


@pytest.mark.parametrize("package", [probe_core, search_spaces, sweeps])
def test_every_public_name_resolves(package) -> None:
    for name in package.__all__:
        assert getattr(package, name) is not None, name
    assert len(set(package.__all__)) == len(package.__all__)


def test_internals_are_not_exported() -> None:
    assert {"INVALID_POS_VALUE", "FourierEmb", "parameter_summary"}.isdisjoint(probe_core.__all__)
    with pytest.raises(AttributeError, match="module 'sweeps' has no attribute 'SweepRun'"):
        sweeps.SweepRun  # noqa: B018


def test_importing_sweeps_loads_neither_ray_nor_mlflow() -> None:
    code = "import sys, sweeps; print(sorted(m for m in ('ray', 'mlflow') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
