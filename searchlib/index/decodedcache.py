"""Decoded posting lists kept across queries, for every open segment of the process, bounded
in bytes.

A served archive sees the same common words again and again, and their lists are the long
ones (100k+ postings at a million paragraphs): decoding them is most of a query's cost. A per
segment cache counted in postings could not hold them; one cache sized in bytes for all
segments keeps whatever was read most recently, long lists included, and never holds more
than its limit. A segment's entries go when its `FieldPostings` is garbage-collected.

The limit is `DEFAULT_LIMIT` (128 MB), or the environment's `SEARCHLIB_POSTINGS_CACHE_MB` at
import, or `set_limit` (0 turns it off).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

DEFAULT_LIMIT = 128 << 20


ENV = "SEARCHLIB_POSTINGS_CACHE_MB"


def _env_limit() -> tuple[int, str | None]:
    """The limit the environment asks for, and what is wrong with it (reported when an index
    is opened: importing must not fail)."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_LIMIT, None
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if not 0 <= mb < float("inf"):
        return DEFAULT_LIMIT, f"{ENV} must be a number of MB (0 or more), not {raw!r}"
    return int(mb * (1 << 20)), None


def nbytes(value: tuple[np.ndarray, ...]) -> int:
    """What an entry (a tuple of arrays) holds in memory."""
    return sum(a.nbytes for a in value) + 64 * len(value)


class DecodedCache:
    """A thread-safe LRU of decoded lists keyed by (owner, term id), at most `limit` bytes."""

    def __init__(self, limit: int, error: str | None = None) -> None:
        self.error = error  # a bad limit in the environment: opening a segment reports it
        self._entries: OrderedDict[tuple[int, Hashable], tuple[tuple[np.ndarray, ...], int]] = \
            OrderedDict()
        self._owned: dict[int, set] = {}
        self._lock = threading.Lock()
        self._tokens = itertools.count()
        self.limit = limit
        self.held = 0  # bytes held now

    def owner(self) -> int:
        """A new owner token (one per field of a segment): never reused in the process."""
        if self.error:
            from ..errors import InvalidArgument

            raise InvalidArgument(self.error)
        return next(self._tokens)

    def get(self, owner: int, key: Hashable) -> tuple[np.ndarray, ...] | None:
        with self._lock:
            hit = self._entries.get((owner, key))
            if hit is None:
                return None
            self._entries.move_to_end((owner, key))
            return hit[0]

    def put(self, owner: int, key: Hashable, value: tuple[np.ndarray, ...]) -> None:
        """Keep `value` (unless it alone would take more than a quarter of the limit), then
        drop the least recently used entries until the cache fits its limit."""
        size = nbytes(value)
        if size > self.limit // 4:
            return
        with self._lock:
            if (owner, key) in self._entries:
                return
            self._entries[(owner, key)] = (value, size)
            self._owned.setdefault(owner, set()).add(key)
            self.held += size
            self._shrink(self.limit)

    def _shrink(self, limit: int) -> None:
        while self.held > limit and self._entries:
            (owner, key), (_, size) = self._entries.popitem(last=False)
            self.held -= size
            self._owned[owner].discard(key)

    def drop(self, owner: int) -> None:
        """Forget an owner's entries (its segment was closed)."""
        with self._lock:
            for key in self._owned.pop(owner, ()):
                _, size = self._entries.pop((owner, key))
                self.held -= size

    def set_limit(self, limit: int) -> None:
        with self._lock:
            self.limit = max(0, int(limit))
            self._shrink(self.limit)


CACHE = DecodedCache(*_env_limit())


def set_limit(limit_bytes: int) -> None:
    """Bound the process's decoded-postings cache to `limit_bytes` (0: keep nothing)."""
    CACHE.set_limit(limit_bytes)
