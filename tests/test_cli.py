"""Bad input through the CLI: exit code 2 and one line naming the problem, no traceback."""

import numpy as np
import pytest
import yaml

from sweeps.cli import main

GOOD = {
    "name": "bad-input",
    "data": {"kind": "synthetic", "subjects": [0, 1], "trials_per_class": 8},
    "trial": {"backbone": {"name": "EEGNet"}, "training": {"max_epochs": 1}},
    "num_samples": 2,
}


def _run(tmp_path, capsys, spec, command: str = "validate", text: str | None = None):
    path = tmp_path / "spec.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(spec))
    args = [command, str(path)] if command == "validate" else ["run", str(path), "--dry-run"]
    if command == "run":
        args += ["--storage-path", str(tmp_path / "sweeps")]
    code = main(args)
    err = capsys.readouterr().err.strip()
    return code, err


def _with(**changes) -> dict:
    spec = yaml.safe_load(yaml.safe_dump(GOOD))
    for path, value in changes.items():
        node = spec
        *parents, last = path.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return spec


@pytest.mark.parametrize(
    ("spec", "text", "expected"),
    [
        (None, "name: x\ndata: [unclosed", "spec.yaml: line 2: malformed YAML"),
        (None, "name: !!python/object/apply:os.system ['echo hi']", "malformed YAML"),
        (_with(nmae="typo"), None, "nmae: Extra inputs are not permitted"),
        (_with(num_samples=0), None, "num_samples: Input should be greater than 0 (got 0)"),
        (_with(num_samples="many"), None, "num_samples: Input should be a valid integer"),
        (_with(trial__backbone={"name": "EEGNett"}), None, "did you mean EEGNet"),
        (
            _with(trial__strategy={"kind": "lora", "rank": -1}),
            None,
            "trial.strategy.lora.rank: Input should be greater than 0 (got -1)",
        ),
        (
            _with(trial__optimizer={"lr": -1}),
            None,
            "trial.optimizer.lr: Input should be greater than 0",
        ),
        (
            _with(sampler={"name": "bayes"}),
            None,
            "sampler.name: unknown sampler 'bayes'; known: tpe, random, grid, gp, cmaes, nsga2",
        ),
        (
            _with(resources={"cpus": "many"}),
            None,
            "resources.cpus: CPUs per trial: a positive number, or auto (got 'many')",
        ),
        (_with(spaces=["freeze_stratgy"]), None, None),
    ],
)
def test_spec_mistakes(tmp_path, capsys, spec, text, expected) -> None:
    if expected is None:  # a space name is checked when the sweep is prepared
        code, err = _run(tmp_path, capsys, spec, "run")
        expected = "unknown space 'freeze_stratgy'; known: freeze_strategy"
    else:
        code, err = _run(tmp_path, capsys, spec, text=text)
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("probe-sweep: error: ") and expected in err


def _npz(tmp_path, name, X, y) -> dict:
    path = tmp_path / name
    np.savez(path, X=X, y=y, ch_names=np.array(["C3", "Cz", "C4"]), sfreq=100.0)
    return {"kind": "npz", "path": str(path)}


def test_data_and_checkpoint_mistakes(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3, 200)).astype(np.float32)
    y = np.arange(20) % 2
    cases = []
    bad = X.copy()
    bad[3, 1, 5] = np.inf
    cases.append((_with(data=_npz(tmp_path, "inf.npz", bad, y)), "X contains 1 NaN/Inf values"))
    cases.append((_with(data=_npz(tmp_path, "one.npz", X, np.zeros(20, int))), "a single class"))
    cases.append(
        (_with(data={"kind": "npz", "path": str(tmp_path / "nope.npz")}), "nope.npz: not found")
    )
    cases.append(
        (
            _with(trial__backbone={"name": "EEGNet", "checkpoint": str(tmp_path / "w.pt")}),
            "w.pt: file not found",
        )
    )
    cases.append((_with(trial__split={"kind": "cross_subject"}), "no training subjects left"))
    for spec, expected in cases:
        code, err = _run(tmp_path, capsys, spec, "run")
        assert code == 2, err
        assert len(err.splitlines()) == 1 and expected in err, err


def test_channel_count_incompatible_with_the_checkpoint(tmp_path, capsys) -> None:
    from probe_core import BackboneConfig, SyntheticData
    from probe_core.backbones import save_state_dict

    other = SyntheticData(subjects=[0], trials_per_class=4, channels=["C3", "Cz", "C4"]).build()
    save_state_dict(BackboneConfig(name="EEGNet").build(other, 2), tmp_path / "three.pt")
    spec = _with(trial__backbone={"name": "EEGNet", "checkpoint": str(tmp_path / "three.pt")})
    code, err = _run(tmp_path, capsys, spec, "run")
    assert code == 2 and "does not fit EEGNet" in err and "shape mismatches" in err


def test_debug_shows_the_traceback(tmp_path, capsys) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(_with(num_samples=0)))
    assert main(["--debug", "validate", str(path)]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_valid_spec_and_dry_run(tmp_path, capsys) -> None:
    code, err = _run(tmp_path, capsys, GOOD)
    assert code == 0 and err == ""
    path = tmp_path / "spec.yaml"
    assert main(["run", str(path), "--dry-run", "--storage-path", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert out.count("sample:") == 3 and "would run 2 trials" in out
    assert "resources.cpus auto" in out  # measured, or 1 on the tests' shared cluster
    saved = yaml.safe_load((tmp_path / "s" / "bad-input" / "spec.yaml").read_text())
    assert isinstance(saved["resources"]["cpus"], float)  # resume runs what was decided


def test_input_is_checked_before_the_numerics_notice(tmp_path, capsys, monkeypatch, caplog):
    """On a CPU whose oneDNN convolution gradients are wrong (faked here), a mistake in the input
    is still the only thing said: nothing trains, so nothing checks the CPU, before the input
    has been read (it printed the numerics notice first for 6 of 18 such mistakes)."""
    import logging

    import torch

    from probe_core import BackboneConfig, SyntheticData, numerics
    from probe_core.backbones import save_state_dict

    other = SyntheticData(subjects=[0], trials_per_class=4, channels=["C3", "Cz", "C4"]).build()
    save_state_dict(BackboneConfig(name="EEGNet").build(other, 2), tmp_path / "three.pt")
    rng = np.random.default_rng(0)
    nan = rng.standard_normal((20, 3, 200)).astype(np.float32)
    nan[2, 0, 0] = np.nan
    cases = [
        (_with(data={"kind": "npz", "path": str(tmp_path / "nope.npz")}), "not found"),
        (_with(data=_npz(tmp_path, "nan.npz", nan, np.arange(20) % 2)), "NaN/Inf"),
        (_with(spaces=["freeze_stratgy"]), "unknown space"),
        (_with(tracking={"uri": "http://127.0.0.1:9"}), "127.0.0.1:9"),
        (
            _with(trial__backbone={"name": "EEGNet", "checkpoint": str(tmp_path / "three.pt")}),
            "does not fit EEGNet",
        ),
    ]
    monkeypatch.setattr(numerics, "convolution_gradient_error", lambda: 1.0)
    numerics.guard_convolutions.cache_clear()
    onednn = torch.backends.mkldnn.enabled
    try:
        for spec, expected in cases:
            path = tmp_path / "spec.yaml"
            path.write_text(yaml.safe_dump(spec))
            with caplog.at_level(logging.WARNING, logger="probe_core.numerics"):
                code = main(["run", str(path), "--storage-path", str(tmp_path / "sweeps")])
            err = capsys.readouterr().err.strip()
            assert code == 2 and len(err.splitlines()) == 1 and expected in err, err
            assert not [r for r in caplog.records if r.name == "probe_core.numerics"], expected
    finally:
        numerics.guard_convolutions.cache_clear()
        torch.backends.mkldnn.enabled = onednn
