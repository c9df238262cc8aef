"""What a search keeps of each scored segment (tantivy's Collector is the model).

A collector has a per-segment step, `collect(ordinal, segment, docs, scores) -> fruit`, and
`merge(fruits)`, which combines the fruits of segments — and, after `on_shard(fruit, shard)`
has labelled each shard's merged fruit, the fruits of a sharded index's shards. Before
collection each segment's matches pass a filter mask (its live paragraphs: where a metadata
filter will plug in) and the title-only collapse.

Ties are broken the same way everywhere: score descending, then shard, then segment order,
then paragraph id, so an answer never depends on k or on how a partial sort chose among ties.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, Protocol

import numpy as np

from ..index.schema import NO_DATE
from ..index.segment import Segment
from .postings import Postings


class HitAddress(NamedTuple):
    """Where a hit is: the segment's ordinal in its snapshot and the paragraph's id in it
    (and, in a sharded index, the shard holding that snapshot). Immutable and cheap to
    make, k per query."""

    segment: int
    paragraph: int
    shard: int = 0


class ScoredHit(NamedTuple):
    address: HitAddress
    score: float
    fuzzy: bool = False  # only an expanded (fuzzy) query matched it


class Collector(Protocol):
    def collect(self, ordinal: int, seg: Segment, docs: np.ndarray,
                scores: np.ndarray) -> Any: ...

    def merge(self, fruits: list) -> Any: ...

    def on_shard(self, fruit: Any, shard: int) -> Any: ...


# -- steps before collection -------------------------------------------------------------------


def filter_mask(seg: Segment) -> np.ndarray | None:
    """The paragraphs of a segment a search may return (None: all of them)."""
    return seg.live_paragraphs


def apply_mask(mask: np.ndarray | None, docs: np.ndarray, scores: np.ndarray) -> Postings:
    if mask is None or not len(docs):
        return docs, scores
    keep = mask[docs]
    return docs[keep], scores[keep]


def collapse_title_only(seg: Segment, docs: np.ndarray, scores: np.ndarray,
                        text_hits: list[np.ndarray]) -> Postings:
    """A title match lends its score to every paragraph of the article; paragraphs matched
    through the title alone would then tie and crowd out other articles. Keep paragraphs
    whose text matches, and from an article with none of those only its first paragraph
    (docs are sorted, so an article's paragraphs are consecutive in them)."""
    said = np.zeros(seg.n_paragraphs, dtype=bool)  # dense: O(postings), no sorting
    for hits in text_hits:
        said[hits] = True
    keep = said[docs]
    if keep.all():
        return docs, scores
    arts = seg.para_article[docs]
    new = np.empty(len(docs), dtype=bool)
    new[0] = True
    np.not_equal(arts[1:], arts[:-1], out=new[1:])
    starts = np.flatnonzero(new)  # each article's first paragraph among docs
    keep[starts[~np.logical_or.reduceat(keep, starts)]] = True
    return docs[keep], scores[keep]


# -- collectors --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopDocs:
    """Hits as parallel arrays; best first once merged."""

    scores: np.ndarray
    segments: np.ndarray
    paragraphs: np.ndarray
    shards: np.ndarray | None = None  # None: all in shard 0

    def shard_ids(self) -> np.ndarray:
        return np.zeros(len(self.scores), dtype=np.int64) if self.shards is None else self.shards

    def hits(self) -> list[ScoredHit]:
        return [ScoredHit(HitAddress(s, p, h), score) for score, s, p, h in
                zip(self.scores.tolist(), self.segments.tolist(), self.paragraphs.tolist(),
                    self.shard_ids().tolist())]


def top_k(docs: np.ndarray, scores: np.ndarray, k: int) -> Postings:
    """The k best (docs sorted ascending); among equal scores the lowest ids win, so the
    answer never depends on k or on argpartition's arbitrary choice among ties."""
    kth = -np.partition(-scores, k - 1)[k - 1]
    cand = np.flatnonzero(scores >= kth)
    if len(cand) > k:
        cand = cand[np.lexsort((docs[cand], -scores[cand]))[:k]]
        cand.sort()
    return docs[cand], scores[cand]


class TopK:
    """The k best paragraphs."""

    def __init__(self, k: int) -> None:
        self.k = k

    def collect(self, ordinal: int, seg: Segment, docs: np.ndarray,
                scores: np.ndarray) -> TopDocs:
        if len(docs) > self.k:
            docs, scores = top_k(docs, scores, self.k)
        return TopDocs(scores, np.full(len(docs), ordinal), docs)

    def merge(self, fruits: list[TopDocs]) -> TopDocs:
        if not fruits:
            return TopDocs(np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        sc = np.concatenate([f.scores for f in fruits])
        sg = np.concatenate([f.segments for f in fruits])
        pid = np.concatenate([f.paragraphs for f in fruits])
        sh = np.concatenate([f.shard_ids() for f in fruits])
        order = np.lexsort((pid, sg, sh, -sc))[: self.k]
        return TopDocs(sc[order], sg[order], pid[order], sh[order])

    def on_shard(self, fruit: TopDocs, shard: int) -> TopDocs:
        return replace(fruit, shards=np.full(len(fruit.scores), shard, dtype=np.int64))


class BestPerArticle(TopK):
    """The best paragraph of each of the k best articles (ties: the earlier paragraph)."""

    def collect(self, ordinal: int, seg: Segment, docs: np.ndarray,
                scores: np.ndarray) -> TopDocs:
        return super().collect(ordinal, seg, *best_per_article(seg, docs, scores))


def best_per_article(seg: Segment, docs: np.ndarray, scores: np.ndarray) -> Postings:
    """The best-scoring paragraph of each article among `docs` (ties: the earlier one)."""
    if not len(docs):
        return docs, scores
    arts = seg.para_article[docs]
    order = np.lexsort((docs, -scores, arts))
    arts_sorted = arts[order]
    first = np.empty(len(order), dtype=bool)
    first[:1] = True
    np.not_equal(arts_sorted[1:], arts_sorted[:-1], out=first[1:])
    keep = np.sort(order[first])
    return docs[keep], scores[keep]


class Count:
    """How many paragraphs matched (or, `articles`, how many articles). A fruit is an int, or
    (from pruning) a `Deferred` count: exact, but counted only when read."""

    def __init__(self, articles: bool = False) -> None:
        self.articles = articles

    def collect(self, ordinal: int, seg: Segment, docs: np.ndarray, scores: np.ndarray) -> int:
        if not self.articles or len(docs) < 2:
            return len(docs)
        arts = seg.para_article[docs]  # sorted docs: an article's paragraphs are adjacent
        return 1 + int(np.count_nonzero(arts[1:] != arts[:-1]))

    def merge(self, fruits: list) -> int | Deferred:
        if any(isinstance(f, Deferred) or callable(f) for f in fruits):
            return Deferred(fruits)
        return sum(fruits)

    def on_shard(self, fruit: int, shard: int) -> int:
        return fruit


class Deferred:
    """A sum of counts, some of them functions that count when called: summed once, when
    first read (`value`). Pruning's exact total is a pass over every posting of the query,
    which a caller reading only the top k never needs. It pickles as its value, so what
    leaves the process (a shard's fruit) is a plain int."""

    def __init__(self, parts: list[int | Deferred | Callable[[], int]]) -> None:
        self._parts = parts
        self._value: int | None = None
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        with self._lock:
            if self._value is None:
                self._value = sum(p.value if isinstance(p, Deferred) else
                                  p() if callable(p) else p for p in self._parts)
                self._parts = []
            return self._value

    def __reduce__(self):
        return int, (self.value,)


def counted(total: int | Deferred) -> int:
    """A count's value, counting now if it was deferred."""
    return total.value if isinstance(total, Deferred) else total


class CountOnRead:
    """A dataclass field holding a count that may be `Deferred`: stored as given, read as an
    int (counted at the first read); `raw(obj)` hands it on still deferred."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = "_" + name

    def __get__(self, obj: Any, owner: type | None = None) -> int:
        if obj is None:
            raise AttributeError(self._name)  # a field without a default
        return counted(getattr(obj, self._name))

    def __set__(self, obj: Any, value: int | Deferred) -> None:
        setattr(obj, self._name, value)

    def raw(self, obj: Any) -> int | Deferred:
        return getattr(obj, self._name)


class Matches:
    """Every matching paragraph id (sorted), by (shard, segment)."""

    def collect(self, ordinal: int, seg: Segment, docs: np.ndarray,
                scores: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
        return {(0, ordinal): docs}

    def merge(self, fruits: list[dict]) -> dict[tuple[int, int], np.ndarray]:
        return {key: docs for fruit in fruits for key, docs in fruit.items()}

    def on_shard(self, fruit: dict, shard: int) -> dict[tuple[int, int], np.ndarray]:
        return {(shard, seg): docs for (_, seg), docs in fruit.items()}


@dataclass(frozen=True)
class DatedTopDocs(TopDocs):
    """`TopDocs` with each hit's sort key by date, which a shard's fruit must keep for the
    coordinator to merge shards by date."""

    keys: np.ndarray = field(default_factory=lambda: np.zeros(0))


class ByDate(TopK):
    """The best paragraph of each matching article, the k newest (`newest`) or oldest
    articles first; undated articles come last either way. Exact: each segment (and each
    shard) keeps its k best by date, and the merge picks among those (ties: score, shard,
    segment, paragraph)."""

    def __init__(self, k: int, newest: bool = True) -> None:
        super().__init__(k)
        self.newest = newest

    def _keys(self, seg: Segment, docs: np.ndarray) -> np.ndarray:
        dates = seg.meta.date[seg.para_article[docs]]
        if self.newest:
            return -dates.astype(np.float64)  # NO_DATE (the minimum) becomes the largest key
        return np.where(dates == NO_DATE, np.inf, dates.astype(np.float64))

    def collect(self, ordinal: int, seg: Segment, docs: np.ndarray,
                scores: np.ndarray) -> DatedTopDocs:
        docs, scores = best_per_article(seg, docs, scores)
        keys = self._keys(seg, docs)
        if len(docs) > self.k:  # the k first by date (then score, then paragraph)
            keep = np.sort(np.lexsort((docs, -scores, keys))[: self.k])
            docs, scores, keys = docs[keep], scores[keep], keys[keep]
        return DatedTopDocs(scores, np.full(len(docs), ordinal), docs, keys=keys)

    def merge(self, fruits: list[DatedTopDocs]) -> DatedTopDocs:
        if not fruits:
            return DatedTopDocs(np.zeros(0), np.zeros(0, dtype=np.int64),
                                np.zeros(0, dtype=np.int64))
        sc = np.concatenate([f.scores for f in fruits])
        sg = np.concatenate([f.segments for f in fruits])
        pid = np.concatenate([f.paragraphs for f in fruits])
        sh = np.concatenate([f.shard_ids() for f in fruits])
        keys = np.concatenate([f.keys for f in fruits])
        order = np.lexsort((pid, sg, sh, -sc, keys))[: self.k]
        return DatedTopDocs(sc[order], sg[order], pid[order], sh[order], keys[order])


class FacetCounts(dict):
    """What a search shows of facets — each field's top values, `{field: [(value, articles),
    ...]}` — keeping every value's count (`every`) so that shards' counts add up exactly."""

    def __init__(self, every: dict[str, Counter], limit: int) -> None:
        super().__init__({name: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
                          for name, c in every.items()})
        self.every = every


class Facets:
    """Counts of matching articles per value of each field (`date:month`/`date:year`/
    `date:day` bucket the dates), the `limit` most frequent values of each. Exact across
    shards: an article lives on one shard, so its counts are summed."""

    def __init__(self, fields: tuple[str, ...], limit: int = 10) -> None:
        self.fields = fields
        self.limit = limit

    def collect(self, ordinal: int, seg: Segment, docs: np.ndarray,
                scores: np.ndarray) -> dict[str, Counter]:
        articles = np.zeros(seg.n_articles, dtype=bool)
        articles[seg.para_article[docs]] = True
        out: dict[str, Counter] = {}
        for name in self.fields:
            if name.startswith("date"):
                out[name] = _date_counts(seg.meta.date[articles], name.partition(":")[2])
            else:
                out[name] = Counter(seg.meta.counts(name, articles))
        return out

    def merge(self, fruits: list) -> FacetCounts:
        """Segments' counts (or shards' `FacetCounts`) summed."""
        every: dict[str, Counter] = {name: Counter() for name in self.fields}
        for fruit in fruits:
            counts = fruit.every if isinstance(fruit, FacetCounts) else fruit
            for name in self.fields:
                every[name].update(counts[name])
        return FacetCounts(every, self.limit)

    def on_shard(self, fruit: FacetCounts, shard: int) -> FacetCounts:
        return fruit


_BUCKETS = {"year": ("Y", 4), "month": ("M", 7), "day": ("D", 10), "": ("M", 7)}


def _date_counts(dates: np.ndarray, unit: str) -> Counter:
    dates = dates[dates != NO_DATE]
    code, width = _BUCKETS[unit]
    buckets, counts = np.unique(dates.astype("datetime64[s]").astype(f"datetime64[{code}]"),
                                return_counts=True)
    return Counter({str(b)[:width]: int(c) for b, c in zip(buckets, counts.tolist())})
