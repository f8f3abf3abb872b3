"""The guard of ``probe-sweep ui``'s servers: told to stop, even twice (Ctrl-C reaches it, then
the ui ends it), it ends the server's whole process group; a server that ends on its own passes
its exit code on."""

import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

GUARD = [sys.executable, "-m", "sweeps.server_guard"]


def _group_of(guard: subprocess.Popen, timeout_s: float = 10.0) -> set[int]:
    """The processes of the group the guard's server leads (its pid is the group id)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        members = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                members[int(stat.parent.name)] = (int(fields[1]), int(fields[2]))
        servers = {pid for pid, (parent, _) in members.items() if parent == guard.pid}
        group = {pid for pid, (_, pgid) in members.items() if pgid in servers}
        if len(group) >= 3:  # the shell and its two sleeps
            return group
        time.sleep(0.1)
    raise TimeoutError("the server's group did not start")


def test_told_twice_it_ends_the_whole_group_and_exits_0() -> None:
    guard = subprocess.Popen([*GUARD, "sh", "-c", "sleep 300 & sleep 300"])
    group = _group_of(guard)
    guard.send_signal(signal.SIGINT)
    time.sleep(0.05)
    guard.send_signal(signal.SIGTERM)
    assert guard.wait(timeout=30) == 0
    time.sleep(0.5)
    running = set()
    for pid in group:
        with contextlib.suppress(OSError):  # gone
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                running.add(pid)
    assert not running


def test_a_server_that_ends_on_its_own_passes_its_exit_code_on() -> None:
    assert subprocess.run([*GUARD, "sh", "-c", "exit 3"], timeout=30).returncode == 3
