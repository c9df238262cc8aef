"""The library facade: `Index`, `SearchResults`, `Hit`, `Explanation` — what embedding users
import. Ranking (parsing, compiling, scoring, the fuzzy fallback) is `ranking.Searcher`'s;
this module opens the index, checks arguments and turns an `Execution` into hits with text
and highlight spans. A result keeps its execution, so explaining a hit runs no search.
"""

from __future__ import annotations

import operator
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import fuzzy as fuzzy_mod
from . import highlight
from .analysis import STEMMERS
from .budget import DEFAULT_BUDGET, QueryBudget
from .errors import CorruptIndex, InvalidArgument, SearchlibError
from .index.snapshot import Snapshot
from .index.storage import MANIFEST
from .ranking import BM25, FEW, Execution, ExplainPart, HitAddress, Searcher, SearchOptions

if TYPE_CHECKING:
    from .index.writer import UpdateReport

MIN_HITS = FEW  # below this many matching paragraphs the fuzzy fallback is tried
DEFAULT_K1, DEFAULT_B, DEFAULT_TITLE_BOOST = BM25.k1, BM25.b, BM25.title_boost


@dataclass
class Hit:
    article_id: str
    title: str
    paragraph: int  # 1-based within the article
    score: float
    text: str
    spans: list[tuple[int, int]]
    fuzzy: bool = False
    source: str = ""
    # (generation, segment, paragraph), and the shard in a sharded index
    _ref: tuple[int, ...] = field(default=(0, 0, 0), repr=False, compare=False)
    _execution: Execution | None = field(default=None, repr=False, compare=False)


@dataclass
class SearchResults:
    query: str
    hits: list[Hit]
    total: int  # matching paragraphs (all of them, not only the k returned)
    warnings: list[str] = field(default_factory=list)
    did_you_mean: str | None = None
    took_ms: float = 0.0
    fuzzy: bool = False  # the fuzzy fallback (or a term~) took part
    execution: Execution | None = field(default=None, repr=False, compare=False)

    def explain(self, hit: Hit) -> Explanation:
        """Why `hit` (one of these results) scored what it did, without searching again."""
        if self.execution is None or hit._execution is not self.execution:
            raise InvalidArgument("explain() takes a hit of these results")
        return _explanation(self.execution, hit)

    def __iter__(self):
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)


@dataclass
class Explanation:
    score: float
    parts: list[ExplainPart]
    k1: float
    b: float

    def __str__(self) -> str:
        lines = [f"score {self.score:.4f} = sum of (BM25 k1={self.k1:g} b={self.b:g}):"]
        for p in self.parts:
            df = f"df={p.df}" if p.df else "idf summed over its words"  # a phrase
            lines.append(
                f"  {p.score:8.4f}  {p.field}:{p.term!r} (from {p.query!r})  idf={p.idf:.4f} "
                f"[N={p.docs}, {df}]  tf={p.tf:g}  len={p.length} avg={p.avg_length:.1f}"
                + (f"  weight={p.weight:.3f}" if p.weight != 1.0 else "")
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class IndexStats:
    path: str
    articles: int
    paragraphs: int
    vocabulary: int
    segments: int
    bytes: int
    generation: int
    analyzer: dict
    top_terms: list[tuple[str, int]]


class Index:
    """An on-disk index. Reads are from an immutable snapshot; `update` commits atomically."""

    def __init__(self, root: str | os.PathLike, *, k1: float = DEFAULT_K1, b: float = DEFAULT_B,
                 title_boost: float = DEFAULT_TITLE_BOOST, verify: bool = True,
                 budget: QueryBudget = DEFAULT_BUDGET) -> None:
        """Open the latest commit at `root`. With verify=True (the default) every file is
        checked against its checksum first (~2 ms per MB), so damage is an error, never
        silently wrong results; pass verify=False to open very large indexes faster.
        `budget` caps the work one query may cause (see searchlib.budget)."""
        self.root = Path(root)
        self.params = _checked(BM25(k1, b, title_boost))
        self.budget = budget
        self.verify = verify
        self.snapshot = Snapshot(self.root, verify)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def roots(self) -> list[str]:
        """The files and folders this index was built from (what `update` re-syncs)."""
        return list(self.snapshot.manifest.get("roots") or [])

    @staticmethod
    def exists(root: str | os.PathLike) -> bool:
        """Whether `root` holds a committed searchlib index (without opening it)."""
        from .cluster.layout import is_cluster

        return (Path(root) / MANIFEST).is_file() or is_cluster(root)

    @classmethod
    def open(cls, root: str | os.PathLike, **params) -> Index:
        """The index at `root`; a `ShardedIndex` (same API) if it holds cluster.json."""
        from .cluster.layout import is_cluster

        if is_cluster(root):
            from . import cluster

            return cluster.ShardedIndex(root, **params)
        return cls(root, **params)

    @classmethod
    def build(cls, paths, root: str | os.PathLike, *, stemmer: str = "snowball",
              stopwords: bool = True, warn=None, progress=None, **params) -> Index:
        """Index `paths` from scratch into `root` (replacing an existing searchlib index)."""
        _check_stemmer(stemmer)
        from .index.writer import IndexWriter  # the writer is not needed to search

        IndexWriter(Path(root), rebuild=True, stemmer=stemmer, stopwords=stopwords).update(
            _as_list(paths), warn=warn, progress=progress
        )
        return cls(root, **params)

    @classmethod
    def create_or_update(cls, paths, root: str | os.PathLike, *, rebuild: bool = False,
                         stemmer: str | None = None, warn=None, progress=None,
                         prune_missing: bool = False, **params) -> tuple[Index, UpdateReport]:
        from .index.writer import IndexWriter  # the writer is not needed to search

        if stemmer is not None:
            _check_stemmer(stemmer)
        report = IndexWriter(Path(root), rebuild=rebuild, stemmer=stemmer,
                             prune_missing=prune_missing).update(
            _as_list(paths), warn=warn, progress=progress
        )
        return cls(root, **params), report

    def update(self, paths, *, warn=None, progress=None,
               prune_missing: bool = False) -> UpdateReport:
        """Add new files, re-index changed ones, drop deleted ones; then see the new commit.

        Articles from a folder or file that cannot be read now (permissions, a missing root
        such as an unmounted drive) are kept and listed in `report.kept_subtrees`, unless
        `prune_missing=True`, which drops them."""
        from .index.writer import IndexWriter

        report = IndexWriter(self.root, prune_missing=prune_missing).update(
            _as_list(paths), warn=warn, progress=progress)
        self.refresh()
        return report

    def refresh(self) -> None:
        """Move to the latest commit (searches in progress keep their snapshot)."""
        self.snapshot = Snapshot(self.root, self.verify)

    def close(self) -> None:
        """Release the index's open files (also done when the Index is garbage collected)."""
        self.snapshot.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- searching ---------------------------------------------------------------------------

    def _params(self, k1, b, title_boost) -> BM25:
        p = self.params
        return _checked(BM25(p.k1 if k1 is None else k1, p.b if b is None else b,
                             p.title_boost if title_boost is None else title_boost))

    def _options(self, k, strict, default_operator, fuzzy, k1, b, title_boost,
                 articles) -> SearchOptions:
        """Checked options of one search (InvalidArgument for a bad one)."""
        _check_operator(default_operator)
        return SearchOptions(_check_k(k), strict, default_operator, fuzzy,
                             self._params(k1, b, title_boost), articles)

    def _execute(self, query: str, options: SearchOptions) -> Execution:
        return Searcher(self.snapshot, self.budget).execute(query, options)

    def search(self, query: str, k: int = 10, *, strict: bool = False,
               default_operator: str = "OR", fuzzy: bool = True, k1: float | None = None,
               b: float | None = None, title_boost: float | None = None,
               articles: bool = False) -> SearchResults:
        """Rank paragraphs for `query`. Lenient by default: never raises on query syntax;
        with strict=True a malformed query raises QuerySyntaxError (with its position).

        `articles=True` returns the best paragraph of each of the top k articles instead,
        and `total` then counts matching articles rather than paragraphs."""
        t0 = time.perf_counter()
        options = self._options(k, strict, default_operator, fuzzy, k1, b, title_boost, articles)
        snap = self.snapshot
        ex = self._execute(query, options)
        terms = ex.terms
        hits = [self._hit(snap, h.address, h.score, terms, ex, h.fuzzy) for h in ex.hits]
        return SearchResults(
            query=query, hits=hits, total=ex.total, warnings=ex.warnings,
            did_you_mean=ex.did_you_mean, took_ms=(time.perf_counter() - t0) * 1000,
            fuzzy=ex.fuzzy, execution=ex,
        )

    def rank(self, query: str, k: int = 10, *, default_operator: str = "OR", fuzzy: bool = True,
             k1: float | None = None, b: float | None = None, title_boost: float | None = None,
             articles: bool = False) -> list[tuple[str, int, float]]:
        """(article_id, paragraph, score) of the top k, best first: `search` without building
        hits (no text, no highlighting), for evaluation and bulk ranking. Lenient parsing."""
        options = self._options(k, False, default_operator, fuzzy, k1, b, title_boost, articles)
        snap = self.snapshot
        out = []
        for h in self._execute(query, options).hits:
            seg, ai, paragraph = _locate(snap, h.address)
            out.append((seg.articles[ai][0], paragraph, h.score))
        return out

    def _hit(self, snap: Snapshot, address: HitAddress, score: float, terms: set[str],
             execution: Execution, fuzzy: bool) -> Hit:
        seg, ai, paragraph = _locate(snap, address)
        art_id, title, source = seg.articles[ai]
        text = seg.paragraph_text(address.paragraph)
        return Hit(
            article_id=art_id, title=title, paragraph=paragraph,
            score=score, text=text, spans=highlight.spans(snap.analyzer, text, terms),
            fuzzy=fuzzy, source=source,
            _ref=(snap.generation, address.segment, address.paragraph), _execution=execution,
        )

    def explain(self, query: str, hit: Hit, *, default_operator: str = "OR", fuzzy: bool = True,
                k1: float | None = None, b: float | None = None,
                title_boost: float | None = None, articles: bool = False) -> Explanation:
        """Why `hit` scored what it did: idf, tf and length normalization per matched term.

        A hit found by this very query and options is explained from its search's weights,
        without searching again; otherwise the query is run once to get them."""
        if hit._ref[0] != self.snapshot.generation:
            raise SearchlibError("the index changed since this hit was found; search again")
        options = self._options(1, False, default_operator, fuzzy, k1, b, title_boost, articles)
        ex = hit._execution
        if ex is None or ex.query != query or not ex.options.same_ranking(options):
            ex = self._execute(query, options)
        return _explanation(ex, hit)

    # -- browsing ----------------------------------------------------------------------------

    def article_of(self, hit: Hit) -> tuple[str, list[str]]:
        """(title, paragraphs) of the very article `hit` came from (ids may repeat)."""
        gen, si, pid = hit._ref
        snap = self.snapshot
        if gen != snap.generation:
            return self.article(hit.article_id)
        seg = snap.segments[si]
        ai = int(seg.para_article[pid])
        lo, hi = int(seg.art_first[ai]), int(seg.art_first[ai + 1])
        return seg.articles[ai][1], [seg.paragraph_text(p) for p in range(lo, hi)]

    def article(self, article_id: str) -> tuple[str, list[str]]:
        """(title, paragraphs) of an article, for showing a hit in context."""
        for seg in self.snapshot.segments:
            for ai, (aid, title, _src) in enumerate(seg.articles):
                if aid == article_id and (seg.deleted is None or not seg.deleted[ai]):
                    lo, hi = int(seg.art_first[ai]), int(seg.art_first[ai + 1])
                    return title, [seg.paragraph_text(p) for p in range(lo, hi)]
        raise SearchlibError(f"no article {article_id!r} in the index")

    def complete(self, prefix: str, limit: int = 20) -> list[str]:
        """Index words starting with `prefix`, most frequent first (for shell completion)."""
        word = self.snapshot.analyzer.normalize(prefix)
        if not word:
            return []
        terms, surfaces = self.snapshot.vocabulary
        found = [(s, df) for t, s in zip(terms, surfaces)
                 if s.startswith(word) and (df := self.snapshot.doc_freq(t))]  # live words
        return [s for s, _ in sorted(found, key=lambda sd: -sd[1])[:limit]]

    def stats(self, top: int = 10) -> IndexStats:
        snap = self.snapshot
        terms, surfaces = snap.vocabulary
        # Candidates: each segment's most frequent terms; then exact live document counts.
        candidates: set[str] = set()
        for seg in snap.segments:
            counts = np.diff(np.asarray(seg.fields["text"].ptr))
            candidates.update(seg.vocab[i] for i in np.argsort(-counts, kind="stable")[: top * 3])
        ranked = sorted(((snap.doc_freq(t), t) for t in candidates), key=lambda dt: (-dt[0], dt[1]))
        top_terms = [(fuzzy_mod.surface_of(snap, t), df) for df, t in ranked[:top] if df]
        return IndexStats(
            path=str(self.root), articles=snap.articles, paragraphs=snap.paragraphs,
            vocabulary=len(terms), segments=len(snap.segments), bytes=snap.size,
            generation=snap.generation, analyzer=dict(snap.manifest["analyzer"]),
            top_terms=top_terms,
        )

    def check(self) -> list[str]:
        """Verify every file of this index's commit against its checksum; [] means OK.

        It checks the commit this Index opened (call `refresh()` first for the latest), from
        the files it opened: a writer committing meanwhile cannot make it report damage."""
        return self.snapshot.check()


def _check_k(k) -> int:
    """k as an int: a float or a string is a mistake to report, not to round."""
    try:
        k = operator.index(k)
    except TypeError:
        raise InvalidArgument(f"k must be a whole number, not {k!r}") from None
    if k < 1:
        raise InvalidArgument(f"k must be at least 1, not {k}")
    return k


def _check_operator(default_operator) -> None:
    if not isinstance(default_operator, str) or default_operator.upper() not in ("AND", "OR"):
        raise InvalidArgument(f"default_operator must be 'AND' or 'OR', not {default_operator!r}")


def _check_stemmer(stemmer) -> None:
    if stemmer not in STEMMERS:
        raise InvalidArgument(f"unknown stemmer {stemmer!r} (choose from {', '.join(STEMMERS)})")


def _checked(params: BM25) -> BM25:
    """BM25 parameters in range (NaN fails every comparison, so it is rejected too)."""
    if not (params.k1 >= 0 and 0 <= params.b <= 1 and params.title_boost >= 0):
        raise InvalidArgument(f"BM25 parameters out of range: k1={params.k1} (≥ 0), "
                              f"b={params.b} (0..1), title_boost={params.title_boost} (≥ 0)")
    return params


def _locate(snap: Snapshot, address: HitAddress):
    """(segment, article ordinal, 1-based paragraph number) of the paragraph at `address`."""
    seg = snap.segments[address.segment]
    ai = int(seg.para_article[address.paragraph])
    return seg, ai, address.paragraph - int(seg.art_first[ai]) + 1


def _as_list(paths) -> list:
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    return list(paths)


def _explanation(execution: Execution, hit: Hit) -> Explanation:
    _gen, si, pid, *shard = hit._ref
    score, parts = execution.explain(HitAddress(si, pid, *shard))
    params = execution.options.params
    return Explanation(score, parts, params.k1, params.b)


def __getattr__(name: str):
    """`UpdateReport` on demand: importing the writer (and corpus readers) costs a one-shot
    search time it does not need."""
    if name == "UpdateReport":
        from .index.writer import UpdateReport

        return UpdateReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Index", "Hit", "SearchResults", "Explanation", "ExplainPart", "IndexStats",
           "UpdateReport", "CorruptIndex"]
