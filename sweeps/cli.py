"""The ``probe-sweep`` command line."""

import argparse
import json
import logging
import os
import shutil
import sys
import traceback
import warnings
from pathlib import Path

import yaml

EXIT_USER_ERROR = 2


def _load_yaml(path: Path) -> dict:
    values = yaml.safe_load(Path(path).read_text())
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a YAML mapping, got {type(values).__name__}")
    return values


def _spec_with_overrides(args: argparse.Namespace):
    from sweeps.spec import load_spec

    spec = load_spec(args.spec)
    overrides = {
        "ray_address": args.address,
        "storage_path": args.storage_path and Path(args.storage_path).resolve(),
        "num_samples": args.num_samples,
        "max_concurrent": args.max_concurrent,
    }
    update = {k: v for k, v in overrides.items() if v is not None}
    if args.tracking_uri:
        update["tracking"] = spec.tracking.model_copy(update={"uri": args.tracking_uri})
    return type(spec).model_validate({**spec.model_dump(), **update}) if update else spec


def _verbosity(args: argparse.Namespace) -> str:
    return "quiet" if args.quiet else "verbose" if args.verbose else "normal"


def cmd_validate(args: argparse.Namespace) -> None:
    from sweeps.spec import load_spec

    spec = load_spec(args.spec)
    spaces = [entry if isinstance(entry, str) else "yaml" for entry in spec.spaces]
    print(
        f"{args.spec}: valid sweep spec '{spec.name}' ({spec.num_samples} trials of "
        f"{spec.trial.backbone.name}, spaces {spaces})"
    )


def cmd_run(args: argparse.Namespace) -> None:
    from sweeps.sweep import dry_run, run_sweep

    spec = _spec_with_overrides(args)
    if args.dry_run:
        dry_run(spec)
        return
    if (spec.sweep_dir() / "trials.json").exists():
        if not args.overwrite:
            raise ValueError(
                f"{spec.sweep_dir()} already holds a sweep: `probe-sweep resume "
                f"{spec.sweep_dir()}` to finish it, or run with --overwrite to start again"
            )
        shutil.rmtree(spec.sweep_dir())
    say = (lambda *_: None) if args.quiet else print
    outcome = run_sweep(spec, auto=args.auto, say=say, verbosity=_verbosity(args))
    if args.quiet and outcome.recommendation is not None:
        print(outcome.recommendation.text())


def cmd_resume(args: argparse.Namespace) -> None:
    from sweeps.sweep import resume_sweep

    resume_sweep(Path(args.dir))


def cmd_status(args: argparse.Namespace) -> None:
    from sweeps.ledger import Ledger
    from sweeps.report import format_leaderboard, leaderboard
    from sweeps.spec import load_spec

    directory = Path(args.dir)
    spec = load_spec(directory / "spec.yaml")
    records = Ledger(directory / "trials.json").of_phase("search")
    counts = {
        s: sum(r.status == s for r in records) for s in ("RUNNING", "FINISHED", "PRUNED", "FAILED")
    }
    print(
        f"sweep {spec.name}: {len(records)}/{spec.num_samples} trials started; "
        + ", ".join(f"{v} {k.lower()}" for k, v in counts.items())
    )
    board = leaderboard(records, spec.metric, spec.mode)
    if board:
        print(format_leaderboard(board, spec.metric, limit=5))


def cmd_report(args: argparse.Namespace) -> None:
    directory = Path(args.dir)
    path = directory / "report.json"
    if not path.exists():
        raise FileNotFoundError(2, "no report yet (the sweep has not finished)", str(path))
    report = json.loads(path.read_text())
    from sweeps.report import Recommendation, format_leaderboard
    from sweeps.spec import load_spec

    spec = load_spec(directory / "spec.yaml")
    print(format_leaderboard(report["leaderboard"], spec.metric))
    if report["recommendation"]:
        print(Recommendation(**report["recommendation"]).text())
        print(f"best config: {directory / 'best_config.yaml'}")


def cmd_sync(args: argparse.Namespace) -> None:
    """Send the MLflow records a sweep could not send (its tracking server was away)."""
    from sweeps.outbox import Outbox, describe_unsent
    from sweeps.tracking_session import STATE_FILE, TrackingSession, check_reachable

    directory = Path(args.dir).resolve()
    state = directory / STATE_FILE
    if not state.exists():
        raise FileNotFoundError(2, "not a sweep directory", str(state))
    session = TrackingSession(**json.loads(state.read_text()))
    check_reachable(session.uri)
    outbox = Outbox.for_directory(directory, session.uri, session.experiment_id)
    before = outbox.pending
    if not outbox.flush():
        raise ValueError(describe_unsent(outbox))
    print(f"sent {before} MLflow record(s) to {session.uri}; nothing left to send")


def cmd_train(args: argparse.Namespace) -> None:
    from probe_core import TrialConfig, run_trial

    config = TrialConfig.model_validate(_load_yaml(Path(args.trial)))
    result = run_trial(config, evaluate_test=args.test)
    summary = {k: round(v, 6) if isinstance(v, float) else v for k, v in result.summary().items()}
    print(json.dumps(summary, indent=2))


def cmd_pretrain(args: argparse.Namespace) -> None:
    from probe_core import PretrainConfig
    from sweeps.sweep import ensure_pretrained

    values = _load_yaml(Path(args.spec))
    config = PretrainConfig.model_validate(values.get("pretrain", values))
    if config.output.exists() and not args.force:
        print(f"{config.output} exists; --force to pretrain again")
        return
    if args.force and config.output.is_file():
        config.output.unlink()
    ensure_pretrained(config)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="probe-sweep",
        description="Sweeps over how to adapt pretrained EEG/MEG models, on Ray, logged to MLflow.",
    )
    root.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    commands = root.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a sweep from a spec")
    run.add_argument("spec", type=Path)
    run.add_argument(
        "--address", help="Ray cluster address (default: RAY_ADDRESS or a local runtime)"
    )
    run.add_argument("--tracking-uri", help="MLflow tracking URI (default: the spec's)")
    run.add_argument("--storage-path", help="where sweep directories go")
    run.add_argument("--num-samples", type=int, help="number of trials")
    run.add_argument("--max-concurrent", type=int, help="trials running at once")
    run.add_argument("--dry-run", action="store_true", help="validate and sample, run nothing")
    shown = run.add_mutually_exclusive_group()
    shown.add_argument("--quiet", action="store_true", help="no progress; the recommendation only")
    shown.add_argument("--verbose", action="store_true", help="also Ray Tune's own output")
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing sweep directory of the same name (MLflow keeps the old runs)",
    )
    run.add_argument(
        "--auto",
        action="store_true",
        help="race all strategies at defaults, tune the winner, confirm",
    )
    run.set_defaults(handler=cmd_run)

    validate = commands.add_parser("validate", help="check a spec without running it")
    validate.add_argument("spec", type=Path)
    validate.set_defaults(handler=cmd_validate)

    for name, handler, text in (
        ("resume", cmd_resume, "finish an interrupted sweep"),
        ("sync", cmd_sync, "send MLflow records left unsent by an unreachable server"),
        ("status", cmd_status, "trials done so far"),
        ("report", cmd_report, "the finished sweep's leaderboard and recommendation"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("dir", type=Path, help="the sweep directory (storage_path/name)")
        sub.set_defaults(handler=handler)

    train = commands.add_parser("train", help="re-run one trial from its config")
    train.add_argument("trial", type=Path)
    train.add_argument("--test", action="store_true", help="also evaluate on the test split")
    train.set_defaults(handler=cmd_train)

    pre = commands.add_parser("pretrain", help="make a backbone checkpoint on a source dataset")
    pre.add_argument("spec", type=Path, help="a pretrain config, or a sweep spec with one")
    pre.add_argument("--force", action="store_true", help="pretrain even if the output exists")
    pre.set_defaults(handler=cmd_pretrain)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(format="%(message)s", level=logging.WARNING)
    # braindecode's own use of MNE montage names MNE has deprecated: nothing a user can act on
    warnings.filterwarnings("ignore", "Montage name 'standard_10", FutureWarning)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    from sweeps.errors import USER_ERRORS, describe
    from sweeps.interrupts import SweepInterrupted

    source = str(
        getattr(args, "spec", None)
        or getattr(args, "trial", None)
        or getattr(args, "dir", None)
        or "probe-sweep"
    )
    try:
        args.handler(args)
    except USER_ERRORS as error:
        if args.debug:
            traceback.print_exc()
        print(f"probe-sweep: error: {describe(error, source)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except (KeyboardInterrupt, SweepInterrupted) as error:
        print(f"probe-sweep: {error or 'interrupted'}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
