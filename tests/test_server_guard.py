"""The guard of ``probe-sweep ui``'s servers: told to stop, even twice (Ctrl-C reaches it, then
the ui ends it), it ends the server's whole process group; a server that ends on its own passes
its exit code on."""

import signal
import subprocess
import sys
import time

from sweep_helpers import descendants, eventually, running, wait_for

GUARD = [sys.executable, "-m", "sweeps.server_guard"]


def test_told_twice_it_ends_the_whole_group_and_exits_0() -> None:
    guard = subprocess.Popen([*GUARD, "sh", "-c", "sleep 300 & sleep 300"])
    wait_for(lambda: len(descendants(guard.pid)) >= 3, timeout_s=10, every_s=0.1)
    group = descendants(guard.pid)  # the shell and its two sleeps
    guard.send_signal(signal.SIGINT)
    time.sleep(0.05)
    guard.send_signal(signal.SIGTERM)
    assert guard.wait(timeout=30) == 0
    assert eventually(lambda: not running(group), timeout_s=5, every_s=0.1)


def test_a_server_that_ends_on_its_own_passes_its_exit_code_on() -> None:
    assert subprocess.run([*GUARD, "sh", "-c", "exit 3"], timeout=30).returncode == 3
