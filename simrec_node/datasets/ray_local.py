"""Ray, started on loopback or joined on a cluster; the only module that decides how Ray starts.

Ray is an optional extra (``pip install 'simrec[ray]'``): it is imported here on first use, never
when ``simrec_node`` is imported.

Why an environment variable and not just ``ray.init(_node_ip_address="127.0.0.1")``: on Linux Ray
replaces a loopback node address with the machine's outward address, and then its GCS, raylet,
object manager, core workers and runtime-env agent listen on every interface. The switch Ray has
for this is the one it sets itself on macOS and Windows (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``,
a single-node Ray on the loopback address). ``start_ray`` sets it, with usage stats off, before
Ray starts (also where Ray was imported earlier), and checks the node's address afterwards.

A local Ray's workers run at the caller's priority (``worker_niceness`` 0): Ray's default, nice
15, suits a cluster's dedicated nodes, but on a shared workstation it hands a conversion the
user started to every other process first (measured here: tasks got a third of the CPU the
same conversion gets in the calling process).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from .errors import DatasetError

LOOPBACK = "127.0.0.1"
# what a local Ray needs to keep every listener on loopback and send nothing out
LOCAL_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def import_ray(data: bool = False) -> Any:
    """The ``ray`` module (with Ray Data where ``data``), or one clear line saying how to install it."""
    try:
        import ray

        if data:
            import ray.data
    except ImportError:
        raise DatasetError(
            "Ray is not installed: pip install 'simrec[ray]' (or pip install 'ray[data]')"
        ) from None
    return ray


def start_ray(address: str | None = None, *, num_cpus: int | None = None, **init: Any) -> bool:
    """Join the Ray cluster at ``address``, or start a local one whose every listener is on
    127.0.0.1 (no dashboard). Nothing happens where Ray is already initialised. Returns whether
    this call started or joined it (then the caller owns ``ray.shutdown()``)."""
    if address is None:
        for key, value in LOCAL_ENV.items():
            os.environ.setdefault(key, value)  # before Ray is imported: its processes inherit them
    ray = import_ray()
    if ray.is_initialized():
        return False
    if address is not None:
        try:
            ray.init(address=address, **init)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise DatasetError(f"cannot join the Ray cluster at {address}: {exc}") from None
        return True
    constants = ray._private.ray_constants  # read when Ray resolves the node address
    cluster, constants.ENABLE_RAY_CLUSTER = constants.ENABLE_RAY_CLUSTER, False
    try:
        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            _node_ip_address=LOOPBACK,
            _system_config={"worker_niceness": 0},  # the user's own job: their priority, not nice 15
            **init,
        )
    finally:
        constants.ENABLE_RAY_CLUSTER = cluster
    node = ray.util.get_node_ip_address()
    if node != LOOPBACK:
        ray.shutdown()
        raise DatasetError(
            f"the local Ray started on {node}, not on {LOOPBACK}: set "
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before importing ray, or pass a cluster address"
        )
    return True


@contextlib.contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[Any]:
    """``start_ray`` for the length of a block; shuts down what it started, also on failure."""
    started = start_ray(address, num_cpus=num_cpus)
    ray = import_ray()
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()
