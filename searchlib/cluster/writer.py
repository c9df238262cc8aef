"""Building and re-syncing a sharded index: one Ray task per shard, then one commit.

Each task runs the ordinary writer, restricted to its shard's files and records, in a new
folder (a hard-linked clone of the shard's current folder on update). Renaming
cluster.json into place then commits the cluster; only after it are the folders the old
cluster.json named removed. A crash anywhere before the rename leaves the previous commit
whole (its folders were never written); the next writer removes the orphans.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import fields
from pathlib import Path

from ..errors import IndexLocked, InvalidArgument, NotAnIndex
from ..index.storage import MANIFEST, failpoint
from ..index.writer import UpdateReport
from .layout import (
    CHUNK,
    CLUSTER,
    FORMAT,
    VERSION,
    collect_garbage,
    is_cluster,
    read_cluster,
    shard_folder,
    write_cluster,
)

LOCK = "cluster.lock"


class _Lock:
    """One cluster writer at a time (the kernel drops the flock when a writer dies)."""

    def __init__(self, root: Path) -> None:
        self.path = root / LOCK

    def __enter__(self) -> _Lock:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise IndexLocked(
                f"another process is updating the index at {self.path.parent}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def update_cluster(paths: list, root: str | os.PathLike, *, shards: int | None = None,
                   rebuild: bool = False, stemmer: str | None = None,
                   prune_missing: bool = False, warn=None,
                   address: str | None = None, chunk: int | None = None) -> UpdateReport:
    """Build (shards given, or rebuild) or re-sync the sharded index at `root`. `chunk`:
    records of a record file kept together (fixed when the index is built)."""
    from . import runtime

    root = Path(root)
    old = read_cluster(root) if is_cluster(root) and not rebuild else None
    if old is None and is_cluster(root) and shards is None:
        shards = len(read_cluster(root)["shards"])
    if old is not None and shards is not None and shards != len(old["shards"]):
        raise InvalidArgument(f"the index at {root} has {len(old['shards'])} shards; "
                              "changing that needs --rebuild")
    if old is None and not shards:
        raise InvalidArgument("a new sharded index needs --shards N")
    if shards is not None and not 1 <= shards <= 1024:
        raise InvalidArgument(f"--shards must be between 1 and 1024, not {shards}")
    if (root / MANIFEST).exists():
        raise NotAnIndex(f"{root} holds a single (unsharded) index; build the sharded one "
                         "in a new folder")
    if root.exists() and not is_cluster(root) and any(root.iterdir()):
        raise NotAnIndex(f"refusing to create a sharded index in {root}: it holds other files")
    root.mkdir(parents=True, exist_ok=True)
    runtime.connect(address)
    with _Lock(root):
        if old is not None:
            old = read_cluster(root)  # as committed now, under the lock
            collect_garbage(root, old)  # orphans of a writer that died before its commit
        count = len(old["shards"]) if old else shards
        chunk = int((old.get("partition") or {}).get("chunk", CHUNK)) if old else (chunk or CHUNK)
        gen = (old["generation"] if old else 0) + 1
        roots = [os.path.abspath(os.fspath(p)) for p in paths]
        all_roots = sorted(set(roots) | set(old.get("roots") or [] if old else []))
        refs = [runtime.build_task(str(root), shard_folder(i, gen),
                                   old["shards"][i]["path"] if old else None, i, count,
                                   roots, stemmer, prune_missing, chunk)
                for i in range(count)]
        results = runtime.gather(refs)
        report = _merged([r for _, _, r in results], warn)
        shard_list = [{"path": folder, "generation": g} for folder, g, _ in results]
        if old is not None and shard_list == old["shards"] and all_roots == old.get("roots"):
            return report  # no shard changed: nothing to commit
        data = {"format": FORMAT, "version": VERSION, "generation": gen, "shards": shard_list,
                "partition": {"rule": "blake2b(absolute path[, record // chunk]) % shards",
                              "shards": count, "chunk": chunk},
                "roots": all_roots}
        failpoint("cluster-before-commit")
        write_cluster(root, data)
        report.committed = True
        collect_garbage(root, data)
    return report


def _merged(reports: list[UpdateReport], warn) -> UpdateReport:
    """The shards' reports as one. Every shard reads every record file (its records are
    spread over the shards) and counts it: those counts (`spread`) are taken once."""
    out = UpdateReport()
    for f in fields(UpdateReport):
        values = [getattr(r, f.name) for r in reports]
        if f.name in ("kept_subtrees", "warnings"):
            setattr(out, f.name, list(dict.fromkeys(v for vs in values for v in vs)))
        elif f.name in ("committed",):
            setattr(out, f.name, any(values))
        elif f.name == "seconds":
            setattr(out, f.name, max(values, default=0.0))
        elif f.name == "spread":
            continue
        else:
            setattr(out, f.name, sum(values))
    for what in ("added", "changed", "removed", "unchanged", "skipped"):
        shared = [r.spread.get(what, 0) for r in reports]
        name = f"files_{what}"
        setattr(out, name, getattr(out, name) - sum(shared) + max(shared, default=0))
    if warn:
        for message in out.warnings:
            warn(message)
    return out


__all__ = ["update_cluster", "CLUSTER"]
