"""What runs next to a shard: the long-lived reader (a Ray actor) and the build task.

Plain Python (no Ray import): `runtime` wraps these with `ray.remote`. Every error names
the shard's folder, so a user learns which of many shards is missing or damaged.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .. import highlight
from ..errors import CorruptIndex, IndexNotFound, SearchlibError
from ..index.snapshot import Snapshot
from ..ranking import BM25, ExplainPart, SegmentScorer, Weight, run
from ..ranking.compiler import paragraph_reach
from ..ranking.recency import Recency, date_span, matched_dates
from ..ranking.searcher import segment_matches
from .layout import Partition, clone
from .stats import GlobalStats, ShardInfo

KEEP_OPEN = 3  # generations a shard keeps mapped: requests in flight pin older ones


class ShardReader:
    """Serves one shard of the cluster at `root`. A request names the shard folder of the
    cluster commit it started with; snapshots stay open per folder (memory-mapped, warm)."""

    def __init__(self, root: str, verify: bool = True) -> None:
        self.root = Path(root)
        self.verify = verify
        self._snaps: OrderedDict[str, Snapshot] = OrderedDict()
        self._served = 0  # phase-2 requests answered since (re)start

    def _snap(self, folder: str) -> Snapshot:
        snap = self._snaps.get(folder)
        if snap is None:
            path = self.root / folder
            if not path.is_dir():
                raise CorruptIndex(f"shard {folder} is missing from {self.root}")
            try:
                snap = Snapshot(path, self.verify)
            except SearchlibError as exc:
                raise CorruptIndex(f"shard {folder}: {exc}") from None
            self._snaps[folder] = snap
            while len(self._snaps) > KEEP_OPEN:
                self._snaps.popitem(last=False)[1].close()
        self._snaps.move_to_end(folder)
        return snap

    def ping(self) -> bool:
        return True

    def load(self) -> tuple[int, int]:
        """(process id, phase-2 requests answered since it started): which incarnation of
        this replica answers, and how much of the shard's load it took."""
        return os.getpid(), self._served

    def info(self, folder: str) -> ShardInfo:
        snap = self._snap(folder)
        terms, surfaces = snap.vocabulary
        return ShardInfo({f: (s.docs, s.total_length) for f, s in snap.stats.items()},
                         list(terms), list(surfaces), snap.stems_text,
                         dict(snap.manifest["analyzer"]), len(snap.segments), snap.size,
                         snap.generation,
                         frozenset().union(*(s.meta.fields for s in snap.segments)),
                         any(s.meta.dated for s in snap.segments))

    def doc_freqs(self, folder: str, pairs: list[tuple[str, str]]) -> list[int]:
        snap = self._snap(folder)
        return [snap.doc_freq(t, f) for t, f in pairs]

    def reach(self, folder: str, term: str, names: tuple[str, ...]) -> int:
        return paragraph_reach(self._snap(folder).segments, term, names)

    def run(self, folder: str, weight: Weight | None, stats: GlobalStats, params: BM25,
            collectors: list, article_scope: bool = False,
            recency: Recency | None = None) -> list:
        """Phase 2: `ranking.run` of a weight compiled with global statistics on this
        shard's segments; each collector's fruit, for the coordinator to merge. `recency`
        comes pinned to the cluster's matching dates."""
        self._served += 1
        return run(self._snap(folder).segments, stats, weight, params, collectors,
                   recency=recency, article_scope=article_scope)

    def date_span(self, folder: str, weight: Weight | None, stats: GlobalStats, params: BM25,
                  article_scope: bool = False) -> tuple[int, int] | None:
        """(oldest, newest) date of this shard's matches, for recency over the cluster."""
        segments = self._snap(folder).segments
        matched = [segment_matches(seg, stats, weight, params, article_scope)
                   for seg in segments]
        return date_span(matched_dates(segments, matched))

    def explain(self, folder: str, weight: Weight | None, stats: GlobalStats, params: BM25,
                segment: int, paragraph: int) -> tuple[float, list[ExplainPart]]:
        seg = self._snap(folder).segments[segment]
        return SegmentScorer(seg, stats, params, only=paragraph).explain(weight)

    def hits(self, folder: str, addresses: list[tuple[int, int]], terms: set[str],
             text: bool = True) -> list[dict]:
        """What the facade shows of each (segment, paragraph): its article (id, title,
        source, date in seconds or NO_DATE, keyword fields), its number in the article,
        and (text) the paragraph with the spans of `terms`."""
        snap = self._snap(folder)
        out = []
        for si, pid in addresses:
            seg = snap.segments[si]
            ai = int(seg.para_article[pid])
            art_id, title, source = seg.articles[ai]
            entry = {"article_id": art_id, "paragraph": pid - int(seg.art_first[ai]) + 1,
                     "title": title, "source": source, "text": "", "spans": [],
                     "date": int(seg.meta.date[ai]), "meta": seg.meta.values(ai)}
            if text:
                entry["text"] = seg.paragraph_text(pid)
                entry["spans"] = highlight.spans(snap.analyzer, entry["text"], terms)
            out.append(entry)
        return out

    def paragraphs(self, folder: str, si: int, pid: int) -> tuple[str, list[str]]:
        seg = self._snap(folder).segments[si]
        ai = int(seg.para_article[pid])
        lo, hi = int(seg.art_first[ai]), int(seg.art_first[ai + 1])
        return seg.articles[ai][1], [seg.paragraph_text(p) for p in range(lo, hi)]

    def article(self, folder: str, article_id: str) -> tuple[str, list[str]] | None:
        for seg in self._snap(folder).segments:
            for ai, (aid, title, _src) in enumerate(seg.articles):
                if aid == article_id and (seg.deleted is None or not seg.deleted[ai]):
                    lo, hi = int(seg.art_first[ai]), int(seg.art_first[ai + 1])
                    return title, [seg.paragraph_text(p) for p in range(lo, hi)]
        return None

    def date_range(self, folder: str):
        """The oldest and newest date of this shard's live articles (None: none dated)."""
        from ..search import date_range

        return date_range(self._snap(folder))

    def top_candidates(self, folder: str, top: int) -> list[str]:
        out: list[str] = []
        for seg in self._snap(folder).segments:
            counts = np.diff(np.asarray(seg.fields["text"].ptr))
            out += [seg.vocab[i] for i in np.argsort(-counts, kind="stable")[: top * 3]]
        return out

    def check(self, folder: str) -> list[str]:
        try:
            snap = self._snap(folder)
        except SearchlibError as exc:
            return [str(exc)]
        return [f"shard {folder}: {p}" for p in snap.check()]


def build_shard(root: str, folder: str, previous: str | None, shard: int, shards: int,
                paths: list[str], stemmer: str | None, prune_missing: bool, chunk: int):
    """Build (previous None) or update one shard into the new folder `folder`: an update
    works on a hard-linked clone of `previous`, which stays as it was. Returns (the folder
    the cluster should name, its generation, the writer's report)."""
    from ..index.storage import read_manifest
    from ..index.writer import IndexWriter

    base = Path(root)
    target = base / folder
    if previous is not None:
        if not (base / previous).is_dir():
            raise IndexNotFound(f"shard {previous} is missing from {root}")
        clone(base / previous, target)
    try:
        report = IndexWriter(target, rebuild=previous is None, stemmer=stemmer,
                             prune_missing=prune_missing,
                             select=Partition(shard, shards, chunk)).update(paths)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(target)
        raise
    if previous is not None and not report.committed:  # nothing of this shard changed
        shutil.rmtree(target, ignore_errors=True)
        folder = previous
    generation = int(read_manifest(base / folder)["generation"])
    return folder, generation, report
