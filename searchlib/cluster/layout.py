"""A sharded index on disk: `cluster.json`, the partition rule, the shard folders.

`cluster.json` is the cluster-wide commit point: it names one folder per shard. A shard
folder is an ordinary searchlib index; an update never writes into a folder a committed
`cluster.json` names, but into a hard-linked clone (`shard-03.g000007`), so a crash
before the rename leaves every folder of the previous commit untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CorruptIndex, IndexNotFound, NotAnIndex

CLUSTER = "cluster.json"
FORMAT = "searchlib-cluster"
VERSION = 1
CHUNK = 1000  # records of one record file that go to the same shard
RECORD_SUFFIXES = (".jsonl", ".jsonl.gz")  # streamed record files (a .json is size-capped)


def is_cluster(root: str | os.PathLike) -> bool:
    return (Path(root) / CLUSTER).is_file()


def _bucket(key: str, shards: int) -> int:
    digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


@dataclass(frozen=True)
class Partition:
    """Which files and records shard `shard` of `shards` holds.

    A file goes to blake2b(absolute path) mod shards; record i of a record file to
    blake2b(path, i // CHUNK) mod shards, so one huge dump is spread over all shards. The
    absolute path (not the path relative to the root given) is hashed: a file reached
    from two different roots over time must never land on two shards."""

    shard: int
    shards: int
    chunk: int = CHUNK
    # record files that held records (ours or other shards'): a file whose records all went
    # to other shards is still recorded here, so it is not "skipped" nor read again
    held: set[str] = field(default_factory=set, compare=False)

    def owns(self, src) -> bool:
        if is_record_file(src.path):
            return True  # some of its records may be ours: decided per record
        return _bucket(src.path, self.shards) == self.shard

    def articles(self, src, stream: Iterator) -> Iterator:
        if not is_record_file(src.path):
            yield from stream
            return
        for i, art in enumerate(stream):
            self.held.add(src.path)
            if _bucket(f"{src.path}\0{i // self.chunk}", self.shards) == self.shard:
                yield art

    def spread(self, path: str) -> bool:
        """Every shard reads `path` (and counts it in its report): a record file."""
        return is_record_file(path)

    def elsewhere(self, src) -> bool:
        """`src` held records, none of them this shard's."""
        return src.path in self.held


def is_record_file(path: str) -> bool:
    """Record files are split over every shard; other files go to one."""
    return path.lower().endswith(RECORD_SUFFIXES)


def read_cluster(root: Path) -> dict:
    """cluster.json, checked, with one-line errors."""
    path = Path(root) / CLUSTER
    if not Path(root).exists():
        raise IndexNotFound(f"no index at {root}")
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise IndexNotFound(f"no sharded index at {root}") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CorruptIndex(f"{path} is unreadable or damaged ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise NotAnIndex(f"{root} is not a searchlib sharded index ({CLUSTER} is not ours)")
    shards = data.get("shards")
    if (data.get("version") != VERSION or not isinstance(shards, list) or not shards
            or not all(isinstance(s, dict) and isinstance(s.get("path"), str)
                       and "/" not in s["path"] and isinstance(s.get("generation"), int)
                       for s in shards)
            or not isinstance(data.get("generation"), int)):
        raise CorruptIndex(f"{path} is damaged: unexpected layout")
    return data


def write_cluster(root: Path, data: dict) -> None:
    """Atomically replace cluster.json: the cluster-wide commit."""
    tmp = root / f"{CLUSTER}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, root / CLUSTER)
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def shard_folder(shard: int, generation: int) -> str:
    return f"shard-{shard:02d}.g{generation:06d}"


def clone(src: Path, dst: Path) -> None:
    """A copy of a shard index made of hard links (its files are never modified in place:
    every commit writes new files and renames its manifest), without its lock file."""
    if dst.exists():
        shutil.rmtree(dst)

    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, dst, copy_function=link,
                    ignore=shutil.ignore_patterns("write.lock", "*.tmp-*"))


def collect_garbage(root: Path, data: dict) -> None:
    """Remove shard folders the committed cluster.json does not name."""
    live = {s["path"] for s in data["shards"]}
    for p in root.iterdir():
        if p.name.startswith("shard-") and p.name not in live and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
    for p in root.glob(f"{CLUSTER}.tmp-*"):
        with contextlib.suppress(OSError):
            p.unlink()
