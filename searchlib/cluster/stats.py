"""The one seam between the cluster and the ranking code: statistics summed over shards.

BM25 of a paragraph needs N, the average field length and df over the whole collection.
`GlobalView` is the cluster's `CollectionStats` and presents it to `ranking.Compiler` as one
snapshot would (global field statistics, df summed over shards, the union vocabulary and
word → stem text for fuzzy and prefix expansion), so the query is compiled once, with
global idf, at the coordinator. `GlobalStats` is the picklable part a shard needs to score
(N and total length per field): every shard's `ranking.run` then scores its paragraphs
exactly as the single index would.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .. import fuzzy as fz
from ..analysis import Analyzer
from ..index.snapshot import FieldStats
from ..index.storage import parse_stems
from ..query import Bool, Fuzzy, Node, Phrase, Term
from ..ranking import Compiler

Pair = tuple[str, str]  # (term, field)
FIELDS = ("text", "title")


@dataclass
class ShardInfo:
    """What a shard reports once per generation (phase 0): its statistics and words."""

    stats: dict[str, tuple[int, int]]  # field -> (live documents, total length)
    terms: list[str]
    surfaces: list[str]
    stems_text: str
    analyzer: dict
    segments: int
    size: int
    generation: int
    fields: frozenset[str] = frozenset()  # metadata fields its articles have
    dated: bool = False  # whether one of its articles has a date


def sum_stats(infos: Iterable[ShardInfo]) -> dict[str, FieldStats]:
    infos = list(infos)
    return {f: FieldStats(sum(i.stats[f][0] for i in infos), sum(i.stats[f][1] for i in infos))
            for f in FIELDS}


@dataclass(frozen=True)
class GlobalStats:
    """What a shard's `SegmentScorer` reads of the collection (N and total length per
    field), picklable; document frequencies travel inside the weights."""

    fields: dict[str, tuple[int, int]]  # field -> (live documents, total length)

    def num_docs(self, field: str) -> int:
        return self.fields[field][0]

    def total_length(self, field: str) -> int:
        return self.fields[field][1]

    def doc_freq(self, term: str, field: str) -> int:
        raise LookupError("document frequencies are resolved when the query is compiled")


def union_vocabulary(infos: Iterable[ShardInfo]) -> tuple[list[str], list[str]]:
    """Sorted union of the shards' terms; the shortest word seen for each (as a merge of
    segments does)."""
    merged: dict[str, str] = {}
    for info in infos:
        for term, word in zip(info.terms, info.surfaces):
            if term not in merged or len(word) < len(merged[term]):
                merged[term] = word
    terms = sorted(merged)
    return terms, [merged[t] for t in terms]


class StatsCache:
    """LRU of global df by (shard generations, term, field), like Solr's LRUStatsCache: a
    term seen before skips phase 1. Keys carry the generations, so a commit never serves
    stale figures."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._lru: OrderedDict[tuple, int] = OrderedDict()
        self._lock = threading.Lock()  # concurrent searchers share one cache
        self.hits = self.misses = 0

    def get(self, key: tuple, count: bool = True) -> int | None:
        """The cached df; `count`: a lookup phase 1 would otherwise make (for hit_rate)."""
        with self._lock:
            value = self._lru.get(key)
            if count:
                if value is None:
                    self.misses += 1
                else:
                    self.hits += 1
            if value is not None:
                self._lru.move_to_end(key)
            return value

    def put(self, key: tuple, value: int) -> None:
        with self._lock:
            self._lru[key] = value
            self._lru.move_to_end(key)
            while len(self._lru) > self.size:
                self._lru.popitem(last=False)

    @property
    def hit_rate(self) -> float:
        asked = self.hits + self.misses
        return self.hits / asked if asked else 0.0


class _Fields:
    def __init__(self, fields: frozenset[str], dated: bool) -> None:
        self.fields = fields
        self.dated = dated


class _Words:
    """Stands in for a segment where fuzzy.prefix_terms scans the sorted vocabulary and the
    parser asks which metadata fields the index has."""

    def __init__(self, vocab: list[str], fields: frozenset[str], dated: bool) -> None:
        self.vocab = vocab
        self.meta = _Fields(fields, dated)


class GlobalView:
    """The whole cluster as the compiler sees a snapshot: global stats, summed df (phase 1,
    through `fetch`: pairs → per-pair sums over shards), union vocabulary."""

    def __init__(self, infos: list[ShardInfo], analyzer: Analyzer, cache: StatsCache,
                 fetch: Callable[[list[Pair]], list[int]],
                 reach: Callable[[str, tuple[str, ...]], int]) -> None:
        self.analyzer = analyzer
        self.stats = sum_stats(infos)
        self.shipped = GlobalStats({f: (s.docs, s.total_length) for f, s in self.stats.items()})
        self.vocabulary = union_vocabulary(infos)
        self.stems_text = "".join(t if t.endswith("\n") else t + "\n"
                                  for t in (i.stems_text for i in infos) if t)
        self.word_stems = parse_stems(self.stems_text)
        fields = frozenset().union(*(i.fields for i in infos))
        self.segments = [_Words(self.vocabulary[0], fields, any(i.dated for i in infos))]
        self.generations = tuple(i.generation for i in infos)
        self.cache = cache
        self._fetch = fetch
        self._reach = reach
        self._request = threading.local()  # pairs this thread's request already looked up
        self.round_trips = 0  # phase-1 calls made (each asks every shard once)

    def begin(self) -> None:
        """A new request: its lookups count for the cache's hit rate."""
        self._request.seen = set()

    def _seen(self) -> set:
        if not hasattr(self._request, "seen"):
            self._request.seen = set()
        return self._request.seen

    def _fetched(self, pairs: list[Pair]) -> list[int]:
        self.round_trips += 1
        values = self._fetch(pairs)
        for pair, df in zip(pairs, values):
            self.cache.put((self.generations, *pair), df)
        return values

    def prefetch(self, pairs: Iterable[Pair]) -> None:
        """Phase 1 for all missing pairs in one round trip."""
        seen = self._seen()
        missing = []
        for pair in dict.fromkeys(pairs):
            if self.cache.get((self.generations, *pair), count=pair not in seen) is None:
                missing.append(pair)
            seen.add(pair)
        if missing:
            self._fetched(missing)

    def doc_freq(self, term: str, field: str = "text") -> int:
        seen = self._seen()
        df = self.cache.get((self.generations, term, field), count=(term, field) not in seen)
        seen.add((term, field))
        return self._fetched([(term, field)])[0] if df is None else df

    # -- ranking.CollectionStats ---------------------------------------------------------------

    def num_docs(self, field: str) -> int:
        return self.stats[field].docs

    def total_length(self, field: str) -> int:
        return self.stats[field].total_length

    def reach(self, term: str, fields: tuple[str, ...]) -> int:
        return self._reach(term, fields)

    def close_terms(self, word: str, term: str, edits: int) -> set[str]:
        """Terms whose word (as written, or readable form) or term is within `edits` of the
        typed word or its term: the candidates fuzzy weighs (rapidfuzz, on first use)."""
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        terms, surfaces = self.vocabulary
        words, stems = list(self.word_stems), list(self.word_stems.values())
        found: set[str] = set()
        for query, choices, mapped in ((word, surfaces, terms), (word, words, stems),
                                       (term, terms, terms)):
            for _c, _d, idx in process.extract(query, choices, scorer=OSA.distance,
                                               score_cutoff=edits, limit=None):
                found.add(mapped[idx])
        return found


class GlobalCompiler(Compiler):
    """`ranking.Compiler` over a GlobalView, unchanged but for where figures come from:
    the df of the query's words, of a prefix's words and of a typo's candidates are fetched
    in one phase-1 round trip each, and `reach` is summed over shards (articles never span
    shards, so the sum is the single index's count)."""

    def compile(self, node: Node | None):
        self.snap.prefetch(_pairs(node, self.analyzer))
        return super().compile(node)

    def title_reach(self, term: str, names: tuple[str, ...]) -> int:
        return self.snap.reach(term, names)

    def _expand(self, word: str, term: str, edits: int, *args, **kwargs):
        if edits > 0 and word:
            self.snap.prefetch((t, f) for t in self.snap.close_terms(word, term, edits)
                               for f in FIELDS)
        return super()._expand(word, term, edits, *args, **kwargs)

    def _prefix(self, node):
        word = self.analyzer.normalize(node.text)
        if word:
            found = fz.prefix_terms(self.snap, word)
            self.snap.prefetch((t, f) for t in found for f, _ in self.fields(node.field))
        return super()._prefix(node)


def _pairs(node: Node | None, analyzer: Analyzer):
    """(term, field) pairs the compiler will ask df for: phase 1 fetches them in one trip."""
    if isinstance(node, Bool):
        for child in node.must + node.should + node.must_not:
            yield from _pairs(child, analyzer)
    elif isinstance(node, (Term, Phrase, Fuzzy)):
        for tok in analyzer.tokens(node.text):
            if tok.term is not None:
                for fld in FIELDS:
                    yield tok.term, fld
