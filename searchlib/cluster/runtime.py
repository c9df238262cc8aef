"""Ray, and only here: connecting, the named shard actors, calls with one-line errors."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import ray
from ray.exceptions import RayActorError, RayTaskError

from ..errors import CorruptIndex, SearchlibError
from .shard import ShardReader, build_shard

NAMESPACE = "searchlib"
MAX_RESTARTS = 10


def connect(address: str | None = None) -> None:
    """Join the cluster at `address` (or $RAY_ADDRESS); without one, start a local Ray."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    ray.init(address=address, include_dashboard=False, logging_level=logging.ERROR,
             log_to_driver=False, configure_logging=True)


_Reader = ray.remote(num_cpus=0, max_restarts=MAX_RESTARTS, max_task_retries=3)(ShardReader)
_build = ray.remote(num_cpus=1, max_retries=0)(build_shard)


def reader(root: Path, shard: int, verify: bool):
    """The long-lived, named, restartable actor serving shard `shard` of the cluster at
    `root` (shared by every ShardedIndex of this Ray job). A node that advertises the
    custom resource `searchlib-shard-<n>` hosts shard n (node-local shard folders)."""
    key = hashlib.blake2b(str(root.resolve()).encode(), digest_size=6).hexdigest()
    options = {"name": f"shard-{key}-{shard}-{int(verify)}", "namespace": NAMESPACE,
               "get_if_exists": True, "lifetime": None}
    resource = f"searchlib-shard-{shard}"
    if resource in ray.cluster_resources():
        options["resources"] = {resource: 0.001}
    return _Reader.options(**options).remote(str(root), verify)


def build_task(*args):
    return _build.remote(*args)


def kill(actor) -> None:
    ray.kill(actor, no_restart=False)


def gather(refs: list, names: list[str] | None = None) -> list:
    """ray.get, with a shard's own error re-raised as itself (one line, no traceback)."""
    try:
        return ray.get(refs)
    except RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, (SearchlibError, KeyboardInterrupt)):
            raise cause from None
        raise
    except RayActorError as exc:
        raise CorruptIndex(f"a shard server stopped and could not be restarted: "
                           f"{str(exc).splitlines()[0]}") from None
