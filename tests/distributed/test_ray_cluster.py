"""Joining a Ray cluster as the README says: a head and a worker started with `ray start`, then
`hwnas search --evaluator ray --evaluator-opt address=127.0.0.1:PORT` in a process of its own.

Not the local Ray hwnas starts itself (tests/distributed/conftest.py): this is the path that
failed with Ray 2.60, whose `ray start` turns token authentication on while a driver joining by
address sends no token ("Authentication token is missing or incorrect"). The cluster is on
loopback addresses only and needs a token, as `ray start` sets one up on a machine that has
run Ray before; the driver is given the token's file and no RAY_AUTH_MODE, as on this machine
(hwnas uses this machine's token for a loopback address, as Ray does for `address=auto`).

Ray replaces 127.0.0.1 in `--node-ip-address` with the machine's outward address, so the nodes
are given other loopback addresses (127.0.0.2, 127.0.0.3); the head has no CPU, so every
candidate runs on the worker node. Each `ray start` runs in a process group of its own, which
the test ends (never `ray stop`, which ends every Ray on the machine).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from tests.cli.helpers import ROOT
from tests.distributed.test_ray_evaluator import comparable, tabular_args

pytestmark = pytest.mark.slow  # two `ray start` and a driver process: ~30 s on two cores

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"
START_TIMEOUT_S = 300  # a loaded 2-core machine starts Ray's processes slowly
SMALL = ["--object-store-memory", str(80 * 2**20), "--disable-usage-stats"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """A head and a worker on loopback addresses, in a temporary folder of their own."""

    def __init__(self, ray_cli: Path):
        # short: Ray's socket paths under it must fit in 107 bytes
        self.temp = Path(tempfile.mkdtemp(prefix="hwnas-ray-", dir="/tmp"))
        self.token = self.temp / "token"
        self.token.write_text(secrets.token_hex(16))
        self.port = free_port()
        self.ray_cli = ray_cli
        self.groups: list[int] = []
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("RAY_AUTH", "RAY_ADDRESS"))}
        self.env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token",
                        RAY_AUTH_TOKEN_PATH=str(self.token), OMP_NUM_THREADS="1")

    def start(self) -> None:
        self._ray_start("--head", "--port", str(self.port), "--node-ip-address", HEAD_IP,
                        "--num-cpus", "0", "--include-dashboard", "false")
        self._ray_start("--address", f"{HEAD_IP}:{self.port}", "--node-ip-address", WORKER_IP,
                        "--num-cpus", "1")

    def _ray_start(self, *args: str) -> None:
        proc = subprocess.Popen([str(self.ray_cli), "start", *args, *SMALL, "--temp-dir",
                                 str(self.temp)], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.groups.append(proc.pid)  # its Ray processes stay in this group after it exits
        out, _ = proc.communicate(timeout=START_TIMEOUT_S)
        assert proc.returncode == 0, out[-3000:]

    def stop(self) -> None:
        """Ends this cluster's processes only: SIGTERM to its groups, SIGKILL to what is left."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for group in self.groups:
                try:
                    os.killpg(group, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 5  # Ray's agents may outlive a SIGTERM
            while sig == signal.SIGTERM and self._running() and time.monotonic() < deadline:
                time.sleep(0.2)
        shutil.rmtree(self.temp, ignore_errors=True)

    def _running(self) -> bool:
        """Whether a process of its groups still runs (one ended but not yet reaped by init,
        a zombie, does not)."""
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                state, _, group = stat.read_text().rpartition(")")[2].split()[:3]
            except (OSError, ValueError):
                continue
            if int(group) in self.groups and state != "Z":
                return True
        return False


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("ray")
    ray_cli = Path(sys.executable).parent / "ray"
    if not ray_cli.is_file():
        pytest.skip(f"no `ray` command beside {sys.executable}")
    cluster = Cluster(ray_cli)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def outward_address() -> str | None:
    """This machine's address on its route out (a UDP connect sends nothing), as Ray finds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("8.8.8.8", 80))
        except OSError:
            return None
        own = sock.getsockname()[0]
    return None if own.startswith("127.") else own


def driver(cluster: Cluster, args: list[str]) -> subprocess.CompletedProcess:
    """hwnas in a process of its own, as a user runs it on the head's machine: the token in a
    file Ray reads (RAY_AUTH_TOKEN_PATH), RAY_AUTH_MODE unset."""
    env = {k: v for k, v in cluster.env.items() if k != "RAY_AUTH_MODE"}
    env.update(PYTHONPATH=str(ROOT))
    env.pop("HWNAS_PLUGINS", None)
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=START_TIMEOUT_S)


def test_a_search_joins_a_cluster_started_with_ray_start(cluster, bench_csv, tmp_path):
    address = f"127.0.0.1:{cluster.port}"
    proc = driver(cluster, tabular_args(bench_csv, tmp_path / "cluster",
                                        extra=("--evaluator", "ray", "--evaluator-opt",
                                               f"address={address}")))
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the worker node joined, and is the one with a CPU: every candidate ran there
    assert f"connected to the Ray cluster at {address} (2 nodes, 1 CPUs, 0 GPUs)" in \
        proc.stderr, proc.stderr[-3000:]
    assert run_app(app, tabular_args(bench_csv, tmp_path / "local")) == 0
    remote = comparable(tmp_path / "cluster")
    assert len(remote) == 12 and remote == comparable(tmp_path / "local")


def test_another_machines_address_is_sent_no_token(cluster, bench_csv, tmp_path):
    """This machine's token goes to loopback addresses only: the head's own address (not
    loopback) is refused for the token, in one line that says what to set, nothing written."""
    own = outward_address()
    if own is None:
        pytest.skip("this machine has no address but loopback")
    run_dir = tmp_path / "refused"
    proc = driver(cluster, tabular_args(bench_csv, run_dir, extra=(
        "--evaluator", "ray", "--evaluator-opt", f"address={own}:{cluster.port}")))
    assert proc.returncode == 2, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]  # above it: Ray's own retries, logged
    assert last.startswith(f"hwnas: error: the ray evaluator: cannot join the Ray cluster at "
                           f"{own}:{cluster.port}: "), last
    assert "set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN" in last, last
    assert not run_dir.exists()
