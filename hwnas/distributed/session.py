"""Ray for one job: an existing cluster, the Ray this process already runs, or a local one.

Three cases, decided once when a job opens its session:

* an `address` (HOST:PORT, ray://HOST:PORT or "auto"): join that cluster. A plain TCP connect
  is tried first, because `ray.init` waits for minutes on an address where nothing listens;
  nothing is shut down at the end (the cluster is not ours). A loopback address is this
  machine's cluster: its token is used as Ray uses it for "auto" (`_use_this_machines_token`).
* Ray already initialised in this process (a notebook, a test fixture, an outer job): use it
  as it is, and leave it running.
* neither: start a local Ray sized for a small machine — dashboard off, a bounded object store,
  the machine's cores, Ray's own logging quiet — say in one line what was started, and shut it
  down in `close()`.

Ray is imported here only inside functions; `import_ray` turns a missing extra into the one
line that says how to install it.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
import sys
import time

from hwnas.errors import BadInputError

EXTRA_HINT = "pip install 'hwnas[distributed]'"
DEFAULT_OBJECT_STORE_MB = 256
MIN_OBJECT_STORE_MB = 75  # Ray refuses a smaller object store
CONNECT_TIMEOUT_S = 3.0
# What a user may write as an address: a Ray cluster's GCS (the `ray start --head` port,
# 6379 by default), a Ray Client server, or "auto" (the cluster `ray start` runs on this machine).
ADDRESS_FORM = re.compile(r"^(ray://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")
ADDRESS_HELP = "'' (start a local Ray), 'auto', HOST:PORT or ray://HOST:PORT"
# What a refused connection says about Ray's token authentication (README, "Running on a Ray
# cluster"): with the wrong token, or none, Ray only says that it cannot connect.
TOKEN_HINT = ("if the cluster uses Ray's token authentication (`ray start` turns it on when its "
              "machine has ~/.ray/auth_token), set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN to "
              "what `ray get-auth-token` prints on the head")


def import_ray(what: str):
    """The ray module, or a BadInputError naming `what` needs it and how to install it."""
    try:
        import ray
    except ImportError:
        raise BadInputError(f"{what} needs the distributed extra: {EXTRA_HINT}") from None
    return ray


def address_is_valid(address: str) -> bool:
    if address in ("", "auto"):
        return True
    match = ADDRESS_FORM.match(address)
    return bool(match) and 0 < int(match.group(3)) < 65536


def note(text: str) -> None:
    """One line on stderr, in the form the command line uses for its notes."""
    print(f"hwnas: note: {text}", file=sys.stderr, flush=True)


class RaySession:
    """A Ray connection for one job; `close()` stops only what it started."""

    def __init__(self, ray, started: bool, description: str, startup_seconds: float):
        self.ray = ray
        self.started = started
        self.description = description
        self.startup_seconds = startup_seconds

    @classmethod
    def open(cls, address: str, *, what: str, local_cpus: int | None = None,
             object_store_mb: int = DEFAULT_OBJECT_STORE_MB,
             resources: dict[str, float] | None = None, announce=note) -> RaySession:
        ray = import_ray(what)
        if ray.is_initialized():  # an outer job's Ray: use it, never shut it down
            _check_same_cluster(ray, address, what)
            return cls(ray, False, "the Ray already running in this process", 0.0)
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no prompt, no phoning home
        start = time.perf_counter()
        if address:
            _check_reachable(address, what)
            _quiet_ray_loggers()
            _use_this_machines_token(address)
            try:
                ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False,
                         runtime_env=_plugin_env())
            # "auto" with none, a version skew, a token missing or refused (a RayError)
            except (ConnectionError, RuntimeError, ray.exceptions.RayError) as exc:
                first = " ".join(str(exc).split())[:200]
                raise BadInputError(f"{what}: cannot join the Ray cluster at {address}: "
                                    f"{first}; start one with `ray start --head`, fix the "
                                    f"address, or {TOKEN_HINT}") from None
            session = cls(ray, False, f"the Ray cluster at {address}",
                          time.perf_counter() - start)
            announce(f"{what}: connected to {session.description} ({session.summary()})")
            return session
        cpus = local_cpus or os.cpu_count() or 1
        _quiet_ray_loggers()
        ray.init(address="local", num_cpus=cpus, resources=resources or None,
                 object_store_memory=object_store_mb * 2**20, include_dashboard=False,
                 logging_level=logging.ERROR, log_to_driver=False)
        seconds = time.perf_counter() - start
        session = cls(ray, True, "a local Ray", seconds)
        announce(f"{what}: started a local Ray in {seconds:.1f} s ({cpus} CPUs, object store "
                 f"{object_store_mb} MB, dashboard off); it stops when this command ends. "
                 "Pass address=HOST:PORT to use a cluster")
        return session

    def summary(self) -> str:
        """'2 nodes, 16 CPUs, 1 GPU': what the cluster offers now."""
        total = self.ray.cluster_resources()
        nodes = sum(1 for n in self.ray.nodes() if n.get("Alive"))
        gpus = total.get("GPU", 0)
        return (f"{nodes} node{'s' if nodes != 1 else ''}, {total.get('CPU', 0):g} CPUs, "
                f"{gpus:g} GPU{'s' if gpus != 1 else ''}")

    def nodes_offering(self, needs: dict[str, float]) -> list[str]:
        """Addresses of the live nodes whose total resources cover `needs` (one task's)."""
        out = []
        for node in self.ray.nodes():
            have = node.get("Resources", {})
            if node.get("Alive") and all(have.get(k, 0) >= v for k, v in needs.items() if v):
                out.append(node.get("NodeManagerAddress", "?"))
        return out

    def close(self) -> None:
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()
        self.started = False


def _check_same_cluster(ray, address: str, what: str) -> None:
    """One process holds one Ray connection: an address naming another cluster cannot be
    honoured, and must not be silently ignored either."""
    if address in ("", "auto") or address.startswith("ray://"):
        return
    current = ray.get_runtime_context().gcs_address
    if not _same_endpoint(current, address):
        raise BadInputError(f"{what}: this process is already connected to the Ray cluster at "
                            f"{current}, not {address}; drop the address to use that one")


def _same_endpoint(current: str, address: str) -> bool:
    """HOST:PORT pairs naming one GCS: same port, and the same IP or a loopback one (Ray names
    its head by the node's IP; a user may write localhost)."""
    (host_a, _, port_a), (host_b, _, port_b) = current.rpartition(":"), address.rpartition(":")
    if port_a != port_b:
        return False

    def ip(host: str) -> str:
        try:
            return socket.gethostbyname(host.strip("[]"))
        except OSError:
            return host

    return ip(host_a) == ip(host_b) or ip(host_b).startswith("127.")


def _check_reachable(address: str, what: str) -> None:
    if address == "auto":
        return  # Ray finds the local cluster's address itself and fails fast when there is none
    match = ADDRESS_FORM.match(address)
    host, port = match.group(2).strip("[]"), int(match.group(3))
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise BadInputError(f"{what}: no Ray cluster answers at {address} ({reason}); start "
                            f"one there with `ray start --head --port {port}`, or give the "
                            "address `ray start` printed") from None


def is_loopback(address: str) -> bool:
    """HOST:PORT on this machine's loopback interface (localhost, 127.x.y.z, ::1)."""
    match = ADDRESS_FORM.match(address)
    if not match or match.group(1):  # a Ray Client address authenticates otherwise
        return False
    host = match.group(2).strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _use_this_machines_token(address: str) -> None:
    """Ray 2.60's `ray start` turns token authentication on whenever its machine has a token
    (~/.ray/auth_token, which any local `ray.init()` writes, hwnas's own local Ray included),
    but a driver joining by address sends one only with RAY_AUTH_MODE=token: joining this
    machine's cluster at 127.0.0.1:PORT failed with "Authentication token is missing or
    incorrect". For a loopback address do what Ray does for "auto": use this machine's token
    when it has one and RAY_AUTH_MODE is unset (a driver with a token also joins a cluster
    without authentication). Another machine's cluster is sent no token unless the user says
    so: its head's token is not this machine's."""
    if os.environ.get("RAY_AUTH_MODE") is not None or not is_loopback(address):
        return
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # a Ray without token authentication
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def _plugin_env() -> dict | None:
    """Workers of a remote cluster rebuild scorers through the registry: they need the same
    plug-in modules the driver loaded through HWNAS_PLUGINS (a local Ray inherits them)."""
    plugins = os.environ.get("HWNAS_PLUGINS")
    return {"env_vars": {"HWNAS_PLUGINS": plugins}} if plugins else None


def _quiet_ray_loggers() -> None:
    # Ray logs a warning per start (e.g. about its token authentication) before `logging_level`
    # applies; the one line `RaySession.open` prints says what was started instead.
    logging.getLogger("ray").setLevel(logging.ERROR)
