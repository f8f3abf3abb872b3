"""Runs a server for ``probe-sweep ui`` and ends it, with every process it started, when the
``ui`` command ends, however it ends.

The MLflow UI starts worker processes of its own, which outlive their parent when it is
killed. Here the server runs in a process group of its own, and this guard, a child of the
``ui`` command, ends the whole group when it is told to (SIGTERM, SIGINT, SIGHUP) or when the
``ui`` command is gone (killed with SIGKILL, say: nothing else would notice).

    python -m sweeps.server_guard COMMAND...
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from types import FrameType

POLL_S = 0.5
GRACE_S = 10.0  # for the group to end on SIGTERM before it is killed
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class _Told(Exception):
    """A signal to stop arrived."""


def _raise(signum: int, frame: FrameType | None) -> None:
    raise _Told


def end_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to ``process``'s group (it leads one), then SIGKILL to what is left of it."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=GRACE_S)
        time.sleep(POLL_S)  # the group's other processes end after their leader
    except ProcessLookupError:  # the group is gone
        return
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def guard(command: list[str]) -> int:
    """Run ``command`` until it ends, this process is told to stop, or its parent is gone;
    the command's exit code when it ended on its own, else 0."""
    parent = os.getppid()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    ended_on_its_own = False
    try:
        for sig in STOP_SIGNALS:
            signal.signal(sig, _raise)
        while process.poll() is None and os.getppid() == parent:
            time.sleep(POLL_S)
        ended_on_its_own = process.returncode is not None
    except _Told:
        pass
    finally:
        for sig in STOP_SIGNALS:  # a second one (Ctrl-C, then ui ending the guard) is ignored
            signal.signal(sig, signal.SIG_IGN)
        end_group(process)
    return process.returncode if ended_on_its_own else 0


if __name__ == "__main__":
    sys.exit(guard(sys.argv[1:]))
