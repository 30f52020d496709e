"""Run one job on the node that carries a Ray custom resource naming a device.

Latency is a property of the device it is measured on. In a cluster where one node is the
edge box (or the GPU server) and training runs elsewhere, that node is started with a custom
resource naming it — `ray start --address HOST:PORT --resources '{"device:jetson": 1}'` — and
a measurement job asks for one unit of it, so Ray can place it nowhere else and never runs two
measurements there at once (they would time each other).

`run_on_resource(fn, *args, resource=...)` does that for any importable callable (a profile,
a table validation, an export's re-timing) and returns its result; an `HwnasError` raised there
(a backend the device lacks) is raised here as it was, so the command line answers it in one
line as if it had run locally.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hwnas.errors import BadInputError, HwnasError, HwnasRuntimeError


def run_on_resource(fn: Callable[..., Any], *args: Any, resource: str, address: str = "",
                    amount: float = 1.0, num_cpus: float = 1.0, what: str = "--ray-resource",
                    **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` as a Ray task that needs `amount` of `resource`; its result.

    `address` '' means the Ray already running in this process, else the cluster `ray start`
    runs on this machine ("auto"): a local Ray started here would have no such resource.
    """
    from hwnas.distributed.session import RaySession

    if not resource or not resource.strip():
        raise BadInputError(f"{what} needs a resource name, e.g. device:jetson")
    session = RaySession.open(address or "auto", what=what)
    try:
        _check_offered(session, resource, amount)
        ray = session.ray
        remote = ray.remote(fn).options(num_cpus=num_cpus, resources={resource: amount},
                                        max_retries=0)  # a measurement is not silently redone
        ref = remote.remote(*args, **kwargs)
        try:
            return ray.get(ref)
        except KeyboardInterrupt:
            ray.cancel(ref, force=True)
            raise
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, HwnasError):
                raise cause from None
            raise HwnasRuntimeError(f"the job on the node with {resource!r} failed: "
                                    f"{type(cause or exc).__name__}: {cause or exc}") from exc
        except ray.exceptions.RayError as exc:
            raise HwnasRuntimeError(f"the job on the node with {resource!r} was lost: "
                                    f"{type(exc).__name__}: {exc}") from exc
    finally:
        session.close()


def _check_offered(session, resource: str, amount: float) -> None:
    """A job asking for a resource no node has would wait forever: refuse it, naming what the
    nodes do offer and how to give a node the resource."""
    if session.nodes_offering({resource: amount}):
        return
    standard = {"CPU", "GPU", "memory", "object_store_memory"}
    custom = sorted({name for node in session.ray.nodes() if node.get("Alive")
                     for name in node.get("Resources", {})
                     if name not in standard and not name.startswith("node:")})
    offered = ", ".join(custom) if custom else "no custom resource"
    start = json.dumps({resource: 1})
    raise BadInputError(f"no node of {session.description} offers {amount:g} of the resource "
                        f"{resource!r} (the nodes offer {offered}); start the device's node "
                        f"with `ray start --address HOST:PORT --resources '{start}'`")
