"""Security: a token-protected Ray cluster refuses drivers without the token and runs a sweep
with it; secrets never reach MLflow params; YAML and checkpoints are read safely."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from sweep_helpers import cli, small_spec, wait_for, write_spec

from sweeps import runtime
from sweeps.tracking import loggable_params

CONNECT = "import ray; ray.init(address='{address}'); print('CONNECTED')"


def connect_driver(address: str, env: dict) -> subprocess.CompletedProcess:
    """A driver process connecting to ``address`` with ``env``; prints CONNECTED if let in."""
    return subprocess.run(
        [sys.executable, "-c", CONNECT.format(address=address)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def token_cluster(tmp_path_factory):
    """``ray start --head`` with RAY_AUTH_MODE=token, as in the README's cluster recipe, with
    its own home directory (and so its own token)."""
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "HOME": str(home), "RAY_AUTH_MODE": "token"}
    ray = [sys.executable, "-m", "ray.scripts.scripts"]
    subprocess.run([*ray, "get-auth-token", "--generate"], env=env, check=True, capture_output=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    head = subprocess.Popen(
        [
            *ray,
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--node-ip-address=127.0.0.1",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    address = f"127.0.0.1:{port}"

    wait_for(lambda: "CONNECTED" in connect_driver(address, env).stdout, timeout_s=180, every_s=2)
    yield address, env, home
    os.killpg(head.pid, signal.SIGINT)  # Ctrl-C: ends in a second (SIGTERM waits ~30 s)
    head.wait(timeout=60)


def test_a_driver_without_the_token_is_refused(token_cluster, tmp_path) -> None:
    address, env, _ = token_cluster
    stranger = {**env, "HOME": str(tmp_path)}  # no ~/.ray/auth_token here
    refused = connect_driver(address, stranger)
    assert refused.returncode != 0 and "CONNECTED" not in refused.stdout
    assert "Token authentication is enabled but no authentication token was found" in (
        refused.stderr
    )
    wrong = {**stranger, "RAY_AUTH_TOKEN": "0" * 32}
    refused = connect_driver(address, wrong)
    assert refused.returncode != 0 and "CONNECTED" not in refused.stdout


def refused_run(tmp_path, address: str, env: dict | None = None) -> tuple[float, str]:
    """Seconds a ``probe-sweep run`` against ``address`` takes to end in a refusal, and what
    it printed; it must end with exit code 2."""
    spec = write_spec(tmp_path, small_spec(tmp_path, "refused", num_samples=1))
    start = time.monotonic()
    driver = cli("run", str(spec), "--address", address, env=env)
    _, err = driver.communicate(timeout=180)
    assert driver.returncode == 2, err
    return time.monotonic() - start, err


def closed_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"  # closed again when the block ends


@pytest.fixture(scope="module")
def mistyped_address_refusal(tmp_path_factory) -> tuple[str, float, str]:
    """A run against a closed port: the address, the seconds it took to be refused (the CLI's
    start-up: no probe waits on a closed port) and what it printed."""
    address = closed_address()
    seconds, err = refused_run(tmp_path_factory.mktemp("mistyped"), address)
    return address, seconds, err


def test_the_cli_says_in_one_line_what_to_fix_without_the_token(
    token_cluster, mistyped_address_refusal, tmp_path
) -> None:
    """Ray's own refusal is a 69-line ConnectionError after 20 s of retries (a driver that
    does not know the cluster wants a token), or an AuthenticationError traceback (one whose
    RAY_AUTH_MODE says token, without one). The probe is bounded by PROBE_TIMEOUT_S; the
    CLI's start-up (seconds on one machine, three times more on another) is measured by a
    refusal that needs no probe."""
    address, env, _ = token_cluster
    knows = {**env, "HOME": str(tmp_path)}
    unaware = {k: v for k, v in knows.items() if k != "RAY_AUTH_MODE"}
    _, start_up, _ = mistyped_address_refusal
    for stranger in (knows, unaware):
        seconds, err = refused_run(tmp_path, address, stranger)
        assert seconds < start_up + runtime.PROBE_TIMEOUT_S + 3, (seconds, start_up)
        assert len(err.strip().splitlines()) == 1, err
        assert "requires token authentication" in err and "RAY_AUTH_TOKEN" in err


def test_a_mistyped_address_is_one_line_within_seconds(mistyped_address_refusal) -> None:
    """Ray would retry a closed port for minutes, printing its GCS warnings."""
    address, seconds, err = mistyped_address_refusal
    assert seconds < 60  # 6 s on one machine, 8 on another (the CLI's start-up)
    assert len(err.strip().splitlines()) == 1, err
    assert f"no Ray cluster answers at {address} (Connection refused)" in err


def test_addresses_as_ray_writes_them() -> None:
    from sweeps.errors import SweepError
    from sweeps.runtime import check_answers, cluster_address

    assert cluster_address("local") is None  # Ray's own word for a local runtime
    check_answers("auto")  # Ray's to resolve
    with pytest.raises(SweepError, match=r"no Ray cluster answers at \[::1\]:1 "):
        check_answers("[::1]:1")  # IPv6, refused


def test_a_sweep_runs_on_the_protected_cluster_with_the_token(token_cluster, tmp_path) -> None:
    address, env, _ = token_cluster
    spec = small_spec(tmp_path, "secured", num_samples=2)
    driver = cli("run", str(write_spec(tmp_path, spec)), "--address", address, env=env)
    out, err = driver.communicate(timeout=600)
    assert driver.returncode == 0, err
    assert "Recommended freeze strategy" in out


def test_secrets_are_not_logged_as_params() -> None:
    config = {
        "backbone": {"kwargs": {"hf_token": "abc", "api_key": "k", "ssh_key": "s", "depth": 2}},
        "tracking": {"password": "p", "uri": "sqlite:///x"},
        "model_output_key": "x",
    }
    params = loggable_params(config)
    assert params == {
        "backbone.kwargs.depth": "2",
        "tracking.uri": "sqlite:///x",
        "model_output_key": "x",
    }


def test_yaml_python_tags_are_refused(tmp_path) -> None:
    from sweeps.errors import SpecError
    from sweeps.spec import load_spec

    path = tmp_path / "evil.yaml"
    path.write_text("name: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(SpecError, match="could not determine a constructor for the tag"):
        load_spec(path)
    assert not (tmp_path / "pwned").exists()
