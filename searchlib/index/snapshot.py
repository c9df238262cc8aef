"""A reader's view of one commit: its segments, deletions and global statistics.

Global statistics (live paragraph count, average field length, document frequencies) are
sums over live documents of all segments, so a score never depends on how the index
happens to be split into segments or whether deleted documents await a merge.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..analysis import Analyzer, check_version
from ..errors import CorruptIndex
from .segment import FIELDS, Segment, merge_vocabularies
from .storage import SEGMENTS, load_stems, read_manifest


@dataclass(frozen=True)
class FieldStats:
    docs: int  # live documents of the field (paragraphs for text, articles for title)
    total_length: int

    @property
    def avg_length(self) -> float:
        return self.total_length / self.docs if self.docs else 0.0


def load_deleted(seg_dir: Path, entry: dict) -> np.ndarray | None:
    name = entry.get("deleted")
    if not name:
        return None
    path = seg_dir / name
    try:
        if "deleted_file" in entry:
            size, crc = entry["deleted_file"]
            data = path.read_bytes()
            if len(data) != size or zlib.crc32(data) != crc:
                raise CorruptIndex(f"index file damaged: {entry['name']}/{name} fails its checksum")
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise CorruptIndex(f"index file missing: {entry['name']}/{name}") from None
    except (ValueError, OSError) as exc:
        raise CorruptIndex(f"index file damaged: {entry['name']}/{name} ({exc})") from None
    return arr.astype(bool, copy=False)


class Snapshot:
    """Immutable once opened: later commits by a writer do not change what it answers."""

    def __init__(self, root: Path, verify: bool = True) -> None:
        self.root = Path(root)
        # A writer may delete files of an older commit between our manifest read and opening
        # them; re-reading the manifest then finds the newer commit.
        for attempt in range(5):
            manifest = read_manifest(self.root)
            try:
                self.segments = [
                    Segment(self.root / SEGMENTS / e["name"], e,
                            load_deleted(self.root / SEGMENTS / e["name"], e), verify)
                    for e in manifest["segments"]
                ]
                break
            except CorruptIndex:
                if attempt == 4 or read_manifest(self.root)["generation"] == manifest["generation"]:
                    raise
                time.sleep(0.01)
        self.manifest = manifest
        self.generation = int(manifest["generation"])
        settings = manifest["analyzer"]
        check_version(settings, self.root)
        self.analyzer = Analyzer(settings.get("stemmer", "snowball"),
                                 settings.get("stopwords", True))
        self.stats = {f: self._field_stats(f) for f in FIELDS}

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

    def live_mask(self, seg: Segment, field: str) -> np.ndarray | None:
        return seg.live_paragraphs if field == "text" else seg.live_articles

    def doc_freq(self, term: str, field: str = "text") -> int:
        df = 0
        for seg in self.segments:
            tid = seg.term_id(term)
            if tid >= 0:
                docs, _ = seg.fields[field].postings(tid)
                live = self.live_mask(seg, field)
                df += len(docs) if live is None else int(np.count_nonzero(live[docs]))
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
    def word_stems(self) -> dict[str, str]:
        """word → stem for the (folded, unstemmed) words the index has seen: its vocabulary of
        words as written. Empty with stemmer "none" (the terms are the words then) or if the
        file is damaged. Words of removed articles may linger until a rebuild."""
        return load_stems(self.root, self.manifest)

    def close(self) -> None:
        """Release open files now (they are also released when the snapshot is dropped)."""
        for seg in self.segments:
            seg.close()

    @property
    def paragraphs(self) -> int:
        return self.stats["text"].docs

    @property
    def articles(self) -> int:
        return self.stats["title"].docs
