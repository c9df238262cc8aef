"""What an update changes: the index's file list (which articles each file gave, and where
they are) and the pure plan that compares it with the files found now.

The file list is `sources-<gen>.json`: path → [stamp, [[segment, first article, count], ...]].
A big file may span segments, because a flush may fall between any two of its articles.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..corpus import Source
from ..errors import CorruptIndex
from .storage import read_verified


@dataclass(frozen=True)
class ArticleRange:
    """Articles first .. first+count-1 of a segment."""

    segment: str
    first: int
    count: int


@dataclass(frozen=True)
class SourceRecord:
    """One indexed file: its stamp when read (size, mtime, ctime, inode) and its articles."""

    stamp: tuple[int, ...]
    ranges: tuple[ArticleRange, ...] = ()

    @property
    def articles(self) -> int:
        return sum(r.count for r in self.ranges)

    def to_json(self) -> list:
        return [list(self.stamp), [[r.segment, r.first, r.count] for r in self.ranges]]


@dataclass(frozen=True)
class ChangeSet:
    """What an update has to do, decided before any file is read."""

    read: tuple[Source, ...]  # new or changed files (every file found, on a rebuild)
    unchanged: int  # files found with the stamp they were indexed with
    removed: tuple[str, ...]  # indexed files gone from a folder that could be listed
    kept: tuple[tuple[str, str], ...]  # (indexed file, the unlistable folder hiding it)


def plan_changes(indexed: Mapping[str, SourceRecord], found: Sequence[Source], *,
                 roots: Sequence[str], unlisted: Sequence[str], rebuild: bool = False,
                 prune_missing: bool = False) -> ChangeSet:
    """Compare the file list with the files found under `roots` now. Files indexed from under
    these roots and not found are removed, unless the folder holding them could not be listed
    (`unlisted`): then they are kept, since an unmounted drive is not a deletion —
    `prune_missing` removes them anyway."""
    read = tuple(src for src in found if rebuild or src.path not in indexed
                 or indexed[src.path].stamp != tuple(src.stamp))
    seen = {src.path for src in found}
    removed: list[str] = []
    kept: list[tuple[str, str]] = []
    for path in indexed:
        if rebuild or path in seen or not under(path, roots):
            continue
        blind = next((u for u in unlisted if under(path, [u])), None)
        if blind is not None and not prune_missing:
            kept.append((path, blind))
        else:
            removed.append(path)
    return ChangeSet(read, len(found) - len(read), tuple(removed), tuple(kept))


def under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def load_sources(root: Path, manifest: dict) -> dict[str, SourceRecord]:
    """The file list of a commit, verified first: a wrong range would delete the wrong
    articles."""
    name = manifest["sources"]
    rebuild = "it needs a rebuild"
    try:
        data = read_verified(root / name, *manifest["sources_file"], name)
    except CorruptIndex as exc:
        raise CorruptIndex(f"{exc}, so the index at {root} cannot be updated; "
                           f"{rebuild}") from None
    segments = {e["name"]: e["articles"] for e in manifest["segments"]}
    try:
        return {path: _record(value, segments)
                for path, value in json.loads(data.decode("utf-8")).items()}
    except (ValueError, TypeError, AttributeError, RecursionError):
        raise CorruptIndex(
            f"the file list of the index at {root} is damaged or from an older "
            f"searchlib; {rebuild}"
        ) from None


def _record(value: list, segments: Mapping[str, int]) -> SourceRecord:
    stamp, ranges = value
    if len(stamp) != 4 or any(len(r) != 3 for r in ranges):
        raise ValueError("unexpected record")
    record = SourceRecord(tuple(stamp), tuple(ArticleRange(*r) for r in ranges))
    for r in record.ranges:
        if r.segment in segments and not 0 <= r.first <= r.first + r.count <= segments[r.segment]:
            raise ValueError("a range outside its segment")
    return record


def sources_bytes(sources: Mapping[str, SourceRecord]) -> bytes:
    return json.dumps({path: rec.to_json() for path, rec in sources.items()}).encode("utf-8")
