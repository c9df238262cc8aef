"""A reader's view of one commit: its segments, deletions and global statistics.

Global statistics (live paragraph count, average field length, document frequencies) are
sums over live documents of all segments, so a score never depends on how the index
happens to be split into segments or whether deleted documents await a merge.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import numpy as np

from ..analysis import Analyzer, AnalyzerSettings
from ..errors import CorruptIndex
from .segment import FIELDS, Segment, merge_vocabularies
from .storage import (
    MANIFEST,
    SEGMENTS,
    Mapped,
    map_file,
    parse_stems,
    read_manifest,
    stems_text,
    verify,
)

T = TypeVar("T")
RETRIES = 5
EXTRAS = ("sources", "stems")  # files of a commit next to its segments
DF_MEMO = 65_536  # (term, field) document frequencies a snapshot remembers
HEADER_MEMO = 4_096  # article headers a snapshot remembers (ten per query shown)
PLAN_MEMO = 16_384  # compiled query leaves a snapshot remembers


@dataclass(frozen=True)
class FieldStats:
    docs: int  # live documents of the field (paragraphs for text, articles for title)
    total_length: int

    @property
    def avg_length(self) -> float:
        return self.total_length / self.docs if self.docs else 0.0


@dataclass(frozen=True)
class ArticleHeader:
    """What a hit shows of its article besides the paragraph: decoded once per snapshot."""

    id: str
    title: str
    source: str
    date: int  # seconds UTC, or NO_DATE
    meta: tuple[tuple[str, tuple[str, ...]], ...]  # keyword fields (field, values), in order


class Snapshot:
    """Immutable once opened: later commits by a writer do not change what it answers.

    Every file of the commit is mapped when it is opened, so its answers, `check()` and
    `size` all describe that one commit even while a writer commits and unlinks files.
    """

    def __init__(self, root: Path, verify: bool = False) -> None:
        self.root = Path(root)
        # A writer may delete files of an older commit between our manifest read and opening
        # them; re-reading the manifest then finds the newer commit.
        for attempt in range(RETRIES):
            manifest = read_manifest(self.root)
            segments: list[Segment] = []
            try:
                for e in manifest["segments"]:
                    segments.append(Segment(self.root / SEGMENTS / e["name"], e, verify))
                extras = {key: _map_extra(self.root, manifest, key) for key in EXTRAS}
                if None in extras.values() and _changed(self.root, manifest):
                    raise CorruptIndex("a commit replaced the files being opened")
                break
            except CorruptIndex:
                for seg in segments:
                    seg.close()
                if attempt == RETRIES - 1 or not _changed(self.root, manifest):
                    raise
                time.sleep(0.01)
        self.manifest = manifest
        self.segments = segments
        self._extras = extras
        self.generation = int(manifest["generation"])
        self._dfs: dict[tuple[str, str], int] = {}  # (term, field) → df: the commit is fixed
        self._headers: dict[tuple[int, int], ArticleHeader] = {}
        self._plans: dict[tuple, object] = {}
        settings = AnalyzerSettings.from_manifest(manifest["analyzer"])
        settings.check_version(self.root)
        self.analyzer = Analyzer(settings)

    def check(self) -> list[str]:
        """Verify every file of this commit against its recorded size and checksum."""
        problems = []
        for seg in self.segments:
            problems += seg.check()
        for key in EXTRAS:
            name, data = self.manifest.get(key), self._extras.get(key)
            if name and data is None:
                problems.append(f"missing file {name}")
            elif name:  # the schema check guarantees its [size, crc] next to it
                try:
                    verify(data, *self.manifest[f"{key}_file"], name)
                except CorruptIndex as exc:
                    problems.append(str(exc))
        return problems

    @property
    def size(self) -> int:
        """Bytes of the commit's files, as recorded (the same for every reader of it)."""
        total = 0
        for entry in self.manifest["segments"]:
            total += sum(size for size, _ in entry["files"].values())
            total += entry["deleted_file"][0] if entry.get("deleted") else 0
        for key in EXTRAS:
            total += (self.manifest.get(f"{key}_file") or (0, 0))[0]
        return total

    @cached_property
    def stats(self) -> dict[str, FieldStats]:
        """Live documents and total length per field: summed at the first query, not at
        open (it reads every length, so opening would grow with the index)."""
        return {f: self._field_stats(f) for f in FIELDS}

    def _field_stats(self, field: str) -> FieldStats:
        docs = total = 0
        for seg in self.segments:
            lengths = seg.fields[field].length
            live = seg.live_paragraphs if field == "text" else seg.live_articles
            if live is None:
                docs += len(lengths)
                total += int(lengths.sum(dtype=np.int64))
            else:
                docs += int(live.sum())
                total += int(lengths[live].sum(dtype=np.int64))
        return FieldStats(docs, total)

    # -- ranking.CollectionStats: the statistics BM25 reads, over live documents ---------------

    def num_docs(self, field: str) -> int:
        return self.stats[field].docs

    def total_length(self, field: str) -> int:
        return self.stats[field].total_length

    def live_mask(self, seg: Segment, field: str) -> np.ndarray | None:
        return seg.live_paragraphs if field == "text" else seg.live_articles

    def doc_freq(self, term: str, field: str = "text") -> int:
        """Live documents of `field` holding `term`, over all segments (remembered: a query
        asks per word, field and compile, and a served index sees the same words again)."""
        known = self._dfs.get((term, field))
        if known is not None:
            return known
        if len(self._dfs) >= DF_MEMO:
            self._dfs.clear()
        df = self._dfs[(term, field)] = self._count_docs(term, field)
        return df

    def remembered(self, key: tuple, make: Callable[[], T]) -> T:
        """What `make` gives for `key`, made once per snapshot (a compiled leaf of a query:
        its df and idf are this commit's, so it never changes)."""
        known = self._plans.get(key)
        if known is None:
            if len(self._plans) >= PLAN_MEMO:
                self._plans.clear()
            known = self._plans[key] = make()
        return known  # type: ignore[return-value]

    def header(self, segment: int, article: int) -> ArticleHeader:
        """An article's header (remembered: decoding its record and keyword fields costs more
        than a small search, and a served index shows the same articles again and again)."""
        known = self._headers.get((segment, article))
        if known is not None:
            return known
        if len(self._headers) >= HEADER_MEMO:
            self._headers.clear()
        seg = self.segments[segment]
        art_id, title, source = seg.articles[article]
        meta = tuple((f, tuple(v)) for f, v in seg.meta.values(article).items())
        header = ArticleHeader(art_id, title, source, int(seg.meta.date[article]), meta)
        self._headers[(segment, article)] = header
        return header

    def _count_docs(self, term: str, field: str) -> int:
        df = 0
        for seg in self.segments:
            tid = seg.term_id(term)
            if tid >= 0:  # without deletions, df is read from the offsets: nothing decoded
                live = self.live_mask(seg, field)
                if live is None:
                    df += seg.fields[field].df(tid)
                else:
                    docs, _ = seg.fields[field].postings(tid)
                    df += int(np.count_nonzero(live[docs]))
        return df

    @cached_property
    def vocabulary(self) -> tuple[list[str], list[str]]:
        """Sorted union of terms of all segments, with a readable word form for each."""
        if len(self.segments) == 1:
            return self.segments[0].vocab, self.segments[0].surface
        merged = merge_vocabularies(self.segments)
        terms = sorted(merged)
        return terms, [merged[t] for t in terms]

    @cached_property
    def stems_text(self) -> str:
        """The commit's word → stem cache as text ("" if absent or damaged)."""
        data = self._extras.get("stems")
        return stems_text(bytes(data), self.manifest.get("stems_file")) if data else ""

    @cached_property
    def word_stems(self) -> dict[str, str]:
        """word → stem for the (folded, unstemmed) words the index has seen: its vocabulary of
        words as written. Empty with stemmer "none" (the terms are the words then) or if the
        file is damaged. Words of removed articles may linger until a rebuild."""
        return parse_stems(self.stems_text)

    def close(self) -> None:
        """Release open files now (they are also released when the snapshot is dropped)."""
        for seg in self.segments:
            seg.close()
        for data in self._extras.values():
            if isinstance(data, mmap.mmap):
                with contextlib.suppress(BufferError):
                    data.close()

    @property
    def paragraphs(self) -> int:
        return self.stats["text"].docs

    @property
    def articles(self) -> int:
        return self.stats["title"].docs


def _map_extra(root: Path, manifest: dict, key: str) -> Mapped | None:
    """The commit's file list or stem cache, mapped; None if it is missing."""
    name = manifest.get(key)
    if not name:
        return b""
    try:
        return map_file(root / name)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorruptIndex(f"index file unreadable: {name}: {exc.strerror or exc}") from None


def _changed(root: Path, manifest: dict) -> bool:
    """Whether a newer commit replaced `manifest` (so a missing file may just be old)."""
    try:
        latest = json.loads((root / MANIFEST).read_text("utf-8"))
        return latest.get("generation") != manifest["generation"]
    except (OSError, ValueError, AttributeError):
        return False


def check_commit(root: Path) -> list[str]:
    """Every file the latest commit names, verified against its recorded size and checksum
    without opening the index: what `searchlib check` lists when the index is too damaged to
    open, so the user sees every bad file, not only the first."""
    manifest = read_manifest(root)
    named = []
    for entry in manifest["segments"]:
        files = dict(entry["files"])
        if entry.get("deleted"):
            files[entry["deleted"]] = entry["deleted_file"]
        folder = Path(SEGMENTS) / entry["name"]
        named += [(folder / f, size, crc) for f, (size, crc) in files.items()]
    for key in EXTRAS:
        if manifest.get(key):
            named.append((Path(manifest[key]), *manifest[f"{key}_file"]))
    problems = []
    for rel, size, crc in named:
        try:
            data = verify(root / rel, size, crc, str(rel).replace(f"{SEGMENTS}/", "", 1))
        except CorruptIndex as exc:
            problems.append(str(exc))
        else:
            if isinstance(data, mmap.mmap):
                data.close()
    return problems
