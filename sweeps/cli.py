"""The ``probe-sweep`` command line."""

import argparse
import gc
import json
import shutil
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily below: the command line starts fast
    from sweeps.output import Verbosity
    from sweeps.spec import SweepSpec
    from sweeps.sweep_dir import SweepDir

EXIT_USER_ERROR = 2
EXIT_NOTHING_LEARNT = 3  # the sweep ran, and no strategy beats chance
EXIT_INTERRUPTED = 130


def _spec_with_overrides(args: argparse.Namespace) -> "SweepSpec":
    from sweeps.errors import read_yaml
    from sweeps.spec import load_spec

    overrides = {
        "ray_address": args.address,
        "storage_path": args.storage_path and str(Path(args.storage_path).resolve()),
        "num_samples": args.num_samples,
        "max_concurrent": args.max_concurrent,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if args.tracking_uri:
        tracking = read_yaml(args.spec).get("tracking") or {}
        overrides["tracking"] = {**tracking, "uri": args.tracking_uri}
    return load_spec(args.spec, overrides)


def _verbosity(args: argparse.Namespace) -> "Verbosity":
    from sweeps.output import Verbosity

    if getattr(args, "quiet", False):
        return Verbosity.QUIET
    return Verbosity.VERBOSE if getattr(args, "verbose", False) else Verbosity.NORMAL


def cmd_validate(args: argparse.Namespace) -> None:
    from sweeps.spec import load_spec

    spec = load_spec(args.spec)
    spaces = [entry if isinstance(entry, str) else "yaml" for entry in spec.spaces]
    print(
        f"{args.spec}: valid sweep spec '{spec.name}' ({spec.num_samples} trials of "
        f"{spec.trial.backbone.name}, spaces {spaces})"
    )


def cmd_run(args: argparse.Namespace) -> int:
    from sweeps.errors import SweepError
    from sweeps.output import Verbosity, show
    from sweeps.sweep import dry_run, run_sweep

    spec = _spec_with_overrides(args)
    if args.dry_run:  # what it samples is all it does: said also with --quiet
        show(Verbosity.VERBOSE if args.verbose else Verbosity.NORMAL)
        dry_run(spec)
        return 0
    directory = spec.sweep_dir()
    if directory.holds_sweep():
        if not args.overwrite:
            raise SweepError(
                f"{directory.path} already holds a sweep: `probe-sweep resume "
                f"{directory.path}` to finish it, or run with --overwrite to start again"
            )
        shutil.rmtree(directory.path)
    outcome = run_sweep(spec, auto=args.auto)
    if args.quiet and outcome.recommendation is not None:
        print(outcome.recommendation.text())
    return 0 if outcome.conclusion.result else EXIT_NOTHING_LEARNT


def cmd_resume(args: argparse.Namespace) -> int:
    from sweeps.sweep import resume_sweep

    outcome = resume_sweep(args.dir)
    return 0 if outcome.conclusion.result else EXIT_NOTHING_LEARNT


def _sweep_dir(path: Path) -> "tuple[SweepDir, SweepSpec]":
    """The sweep directory a command was pointed at, with its spec."""
    from sweeps.spec import load_sweep_spec
    from sweeps.sweep_dir import SweepDir

    directory = SweepDir.open(path)
    return directory, load_sweep_spec(directory)


def cmd_status(args: argparse.Namespace) -> None:
    from sweeps.ledger import Ledger
    from sweeps.protocol import Phase, TrialStatus
    from sweeps.ranking import format_leaderboard, leaderboard

    directory, spec = _sweep_dir(args.dir)
    records = Ledger(directory.ledger).of_phase(Phase.SEARCH)
    shown = (TrialStatus.RUNNING, TrialStatus.FINISHED, TrialStatus.PRUNED, TrialStatus.FAILED)
    counts = {status: sum(r.status == status for r in records) for status in shown}
    print(
        f"sweep {spec.name}: {len(records)}/{spec.num_samples} trials started; "
        + ", ".join(f"{n} {status.lower()}" for status, n in counts.items())
    )
    board = leaderboard(records, spec.metric, spec.mode)
    if board:
        print(format_leaderboard(board, spec.metric, limit=5))


def cmd_report(args: argparse.Namespace) -> None:
    from sweeps.errors import SweepError
    from sweeps.ranking import format_leaderboard
    from sweeps.recommendation import Recommendation

    directory, spec = _sweep_dir(args.dir)
    if not directory.report.exists():
        raise SweepError(f"{directory.report}: no report yet (the sweep has not finished)")
    report = json.loads(directory.report.read_text())
    print(format_leaderboard(report["leaderboard"], spec.metric))
    if report["recommendation"]:
        print(Recommendation.from_dict(report["recommendation"]).text())
    if directory.best_config.exists():
        print(f"best config: {directory.best_config}")


def cmd_sync(args: argparse.Namespace) -> None:
    """Send the MLflow records a sweep could not send (its tracking server was away)."""
    from sweeps.errors import SweepError
    from sweeps.outbox import Outbox, describe_unsent
    from sweeps.sweep_dir import SweepDir
    from sweeps.tracking_session import TrackingSession, check_reachable

    directory = SweepDir.open(args.dir)
    if not directory.tracking_state.exists():
        raise SweepError(f"{directory.tracking_state}: not a sweep directory")
    session = TrackingSession.load(directory)
    check_reachable(session.uri)
    outbox = Outbox.for_directory(directory.path, session.uri, session.experiment_id)
    before = outbox.pending
    if not outbox.flush():
        raise SweepError(describe_unsent(outbox))
    print(f"sent {before} MLflow record(s) to {session.uri}; nothing left to send")


def cmd_ui(args: argparse.Namespace) -> None:
    """The sweep's MLflow UI and Optuna dashboard on 127.0.0.1, until stopped (Ctrl-C, SIGTERM)."""
    from sweeps.sweep_dir import SweepDir
    from sweeps.ui import serve

    serve(SweepDir.open(args.dir))


def cmd_train(args: argparse.Namespace) -> None:
    from probe_core import TrialConfig, run_trial
    from sweeps.errors import read_yaml, validated

    config = validated(TrialConfig, read_yaml(args.trial), args.trial)
    result = run_trial(config, evaluate_test=args.test)
    summary = {k: round(v, 6) if isinstance(v, float) else v for k, v in result.summary().items()}
    print(json.dumps(summary, indent=2))


def cmd_pretrain(args: argparse.Namespace) -> None:
    from probe_core import PretrainConfig
    from sweeps.errors import read_yaml, validated
    from sweeps.sweep import ensure_pretrained

    values = read_yaml(args.spec)
    config = validated(PretrainConfig, values.get("pretrain", values), args.spec)
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
        help="race all strategies at defaults and two learning rates, tune the winner, confirm",
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
        ("ui", cmd_ui, "browse the sweep: its MLflow UI and Optuna dashboard on 127.0.0.1"),
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
    from probe_core import UserError
    from sweeps.interrupts import SweepInterrupted
    from sweeps.output import show
    from sweeps.process import configure_process

    show(_verbosity(args))
    configure_process()
    try:
        return args.handler(args) or 0
    except UserError as error:
        if args.debug:
            traceback.print_exc()
        print(f"probe-sweep: error: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_USER_ERROR
    except (KeyboardInterrupt, SweepInterrupted) as error:
        print(f"probe-sweep: {error or 'interrupted'}", file=sys.stderr)
        return EXIT_INTERRUPTED


def command() -> None:
    """The installed ``probe-sweep``: ``main``, then an exit without the interpreter's final
    garbage collection over torch's, Ray's and MLflow's objects (2 s of a sweep's exit here),
    which the end of the process frees anyway."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    command()
