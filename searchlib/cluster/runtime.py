"""Ray, and only here: connecting, the named shard actors, calls with one-line errors."""

from __future__ import annotations

import hashlib
import logging
import os
import random
import socket
import threading
from collections import Counter
from pathlib import Path

import ray
from ray.exceptions import RayActorError, RayError, RayTaskError

from ..errors import CorruptIndex, SearchlibError
from .shard import ShardReader, build_shard

NAMESPACE = "searchlib"
MAX_RESTARTS = 10


REACH_SECONDS = 5.0  # to open a TCP connection to a cluster's address before joining it


def connect(address: str | None = None) -> None:
    """Join the cluster at `address` (or $RAY_ADDRESS); without one, start a local Ray.
    A HOST:PORT nobody answers at is one clear error within seconds: Ray itself would
    retry for minutes, printing its own logs."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        _reachable(address)
    ray.init(address=address, include_dashboard=False, logging_level=logging.ERROR,
             log_to_driver=False, configure_logging=True)


def _reachable(address: str) -> None:
    """Fail fast unless something listens at `address` ('auto' and 'local' are Ray's own)."""
    where = address.removeprefix("ray://").strip()
    if where in ("auto", "local"):
        return
    host, sep, port = where.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise SearchlibError(f"Ray address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_SECONDS).close()
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise SearchlibError(f"cannot reach the Ray cluster at {where}: {reason} (is "
                             f"`ray start --head` running there?)") from None


MAX_ATTEMPTS = 4  # calls of one request to a shard whose replicas keep dying
RESTART_WAIT = 60.0  # seconds to wait for a restart when no replica of a shard answers

# No task retries inside Ray: a call to a dead replica fails at once, and `ShardPool` sends
# it to another replica (or, with none alive, queues it on the restarting one).
_Reader = ray.remote(num_cpus=0, max_restarts=MAX_RESTARTS, max_task_retries=0)(ShardReader)
_build = ray.remote(num_cpus=1, max_retries=0)(build_shard)


def reader(root: Path, shard: int, verify: bool, replica: int = 0):
    """The long-lived, named, restartable actor serving replica `replica` of shard `shard`
    of the cluster at `root` (shared by every ShardedIndex of this Ray job). A node that
    advertises the custom resource `searchlib-shard-<n>` hosts shard n's replicas
    (node-local shard folders)."""
    key = hashlib.blake2b(str(root.resolve()).encode(), digest_size=6).hexdigest()
    options = {"name": f"shard-{key}-{shard}-{int(verify)}-r{replica}", "namespace": NAMESPACE,
               "get_if_exists": True, "lifetime": None}
    resource = f"searchlib-shard-{shard}"
    if resource in ray.cluster_resources():
        options["resources"] = {resource: 0.001}
    return _Reader.options(**options).remote(str(root), verify)


def build_task(*args):
    return _build.remote(*args)


def gather(refs: list) -> list:
    """ray.get, with a shard's own error re-raised as itself (one line, no traceback)."""
    try:
        return ray.get(refs)
    except RayTaskError as exc:
        raise _own(exc) from None
    except RayActorError as exc:
        raise _stopped(exc) from None
    except RayError as exc:  # a task's worker crashed or ran out of memory: no retry
        raise SearchlibError(f"a shard task failed: {str(exc).strip().splitlines()[0]}") from None


def _own(exc: RayTaskError) -> BaseException:
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, (SearchlibError, KeyboardInterrupt)) else exc


def _stopped(exc: RayActorError) -> CorruptIndex:
    return CorruptIndex(f"a shard server stopped and could not be restarted: "
                        f"{str(exc).splitlines()[0]}")


class ShardPool:
    """The actors serving a cluster: `replicas` per shard. A call goes to the replica of its
    shard with the fewest calls in flight (ties: at random); a replica whose call failed
    (dead, being restarted by Ray) is skipped until a ping to it answers, and the call goes
    to another replica. Thread-safe: one pool serves concurrent searchers."""

    def __init__(self, root: Path, verify: bool, replicas: int = 1) -> None:
        self.root, self.verify, self.replicas = root, verify, replicas
        self.groups: list[list] = []  # per shard, its replicas' actor handles
        self._busy: Counter[tuple[int, int]] = Counter()  # (shard, replica) -> calls in flight
        self._down: dict[tuple[int, int], object] = {}  # (shard, replica) -> its ping
        self._lock = threading.Lock()

    def ensure(self, shards: int) -> None:
        """Actors for shards 0 .. shards-1 (started, or found by name)."""
        with self._lock:
            while len(self.groups) < shards:
                n = len(self.groups)
                self.groups.append([reader(self.root, n, self.verify, r)
                                    for r in range(self.replicas)])

    def _alive(self, shard: int, replica: int) -> bool:
        ping = self._down.get((shard, replica))
        if ping is None:
            return True
        ready, _ = ray.wait([ping], timeout=0)
        if not ready:
            return False
        try:
            ray.get(ready[0])
        except RayActorError:  # still dead: ask again
            self._down[shard, replica] = self.groups[shard][replica].ping.remote()
            return False
        self._down.pop((shard, replica), None)
        return True

    def _take(self, shard: int) -> int:
        """A replica of `shard` to call, counted busy until `_release`."""
        for _ in range(2):
            with self._lock:
                alive = [r for r in range(self.replicas) if self._alive(shard, r)]
                if alive:
                    least = min(self._busy[shard, r] for r in alive)
                    r = random.choice([r for r in alive if self._busy[shard, r] == least])
                    self._busy[shard, r] += 1
                    return r
                pings = list(self._down.get((shard, r)) for r in range(self.replicas))
            # none answers: wait for a restart
            ray.wait([p for p in pings if p is not None], num_returns=1, timeout=RESTART_WAIT)
        with self._lock:
            self._busy[shard, 0] += 1  # Ray queues the call until the replica is back
        return 0

    def _release(self, shard: int, replica: int, died: bool = False) -> None:
        with self._lock:
            self._busy[shard, replica] -= 1
            if died and (shard, replica) not in self._down:
                self._down[shard, replica] = self.groups[shard][replica].ping.remote()

    def call(self, requests: list[tuple[int, str, tuple]]) -> list:
        """Each (shard, method, args) run by one replica of its shard, all submitted at
        once; their results in order. A shard's own error is re-raised as itself."""
        sent: list = []
        out = []
        try:  # every replica taken is released, even if sending the next request fails
            for shard, method, args in requests:
                r = self._take(shard)
                sent.append((r, None))
                sent[-1] = r, getattr(self.groups[shard][r], method).remote(*args)
            for i, (shard, method, args) in enumerate(requests):
                r, ref = sent[i]
                for attempt in range(1, MAX_ATTEMPTS + 1):
                    try:
                        out.append(ray.get(ref))
                        break
                    except RayTaskError as exc:
                        raise _own(exc) from None
                    except RayActorError as exc:  # the replica died: another one answers
                        if attempt == MAX_ATTEMPTS:
                            raise _stopped(exc) from None
                        self._release(shard, r, died=True)
                        r = self._take(shard)
                        sent[i] = r, getattr(self.groups[shard][r], method).remote(*args)
                        ref = sent[i][1]
        finally:
            for (shard, _method, _args), (r, _ref) in zip(requests, sent):
                self._release(shard, r)
        return out

    def each(self, method: str, args: list[tuple]) -> list:
        """`method` on every shard i with args[i]."""
        return self.call([(i, method, a) for i, a in enumerate(args)])

    def actor(self, shard: int, replica: int = 0):
        return self.groups[shard][replica]

