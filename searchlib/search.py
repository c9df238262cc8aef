"""The library facade: `Index`, `SearchResults`, `Hit`, `Explanation` — what embedding users
import. Ranking (parsing, compiling, scoring, the fuzzy fallback) is `ranking.Searcher`'s;
this module opens the index, checks arguments and turns an `Execution` into hits with text
and highlight spans. A result keeps its execution, so explaining a hit runs no search.
"""

from __future__ import annotations

import datetime as dt
import operator
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from . import filterargs, highlight
from . import fuzzy as fuzzy_mod
from .analysis import STEMMERS
from .budget import DEFAULT_BUDGET, QueryBudget
from .errors import CorruptIndex, InvalidArgument, SearchlibError
from .index.schema import NO_DATE
from .index.snapshot import Snapshot
from .index.storage import MANIFEST
from .ranking import BM25, Execution, ExplainPart, HitAddress, Searcher, SearchOptions
from .ranking.collectors import CountOnRead
from .ranking.filters import present_fields
from .ranking.prf import Feedback
from .ranking.rerank import DEFAULT_PROXIMITY, Proximity

if TYPE_CHECKING:
    from .index.writer import UpdateReport

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@lru_cache(maxsize=4096)
def date_of(seconds: int) -> dt.datetime | None:
    """An article's stored date (seconds UTC, or NO_DATE) as a Hit shows it."""
    return None if seconds == NO_DATE else _EPOCH + dt.timedelta(seconds=seconds)
DEFAULT_K1, DEFAULT_B, DEFAULT_TITLE_BOOST = BM25.k1, BM25.b, BM25.title_boost
DEFAULT_PROXIMITY_WEIGHT = DEFAULT_PROXIMITY.weight if DEFAULT_PROXIMITY else 0.0


@dataclass
class Hit:
    """One ranked paragraph. `text` and `spans` (highlight offsets into `text`) are decoded
    and computed when first read: a search for k=1000 that shows ten pays for ten."""

    article_id: str
    title: str
    paragraph: int  # 1-based within the article
    score: float
    fuzzy: bool = False
    source: str = ""
    date: dt.datetime | None = None  # the article's date (UTC), if it has one
    meta: dict[str, list[str]] = field(default_factory=dict)  # its keyword fields
    # (generation, segment, paragraph), and the shard in a sharded index
    _ref: tuple[int, ...] = field(default=(0, 0, 0), repr=False, compare=False)
    _execution: Execution | None = field(default=None, repr=False, compare=False)
    _body: _HitBody | KnownBody | None = field(default=None, repr=False, compare=False)

    @property
    def text(self) -> str:
        return self._body.text if self._body is not None else ""

    @property
    def spans(self) -> list[tuple[int, int]]:
        return self._body.spans if self._body is not None else []


class KnownBody(NamedTuple):
    """A hit's text and spans computed elsewhere (a shard sends them with the hit)."""

    text: str
    spans: list[tuple[int, int]]


class _HitBody:
    """A hit's paragraph text and highlight spans, computed once, on first access."""

    __slots__ = ("_analyzer", "_seg", "_pid", "_terms", "_text", "_spans")

    def __init__(self, analyzer, seg, pid: int, terms: set[str]) -> None:
        self._analyzer, self._seg, self._pid, self._terms = analyzer, seg, pid, terms
        self._text: str | None = None
        self._spans: list[tuple[int, int]] | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self._seg.paragraph_text(self._pid)
        return self._text

    @property
    def spans(self) -> list[tuple[int, int]]:
        if self._spans is None:
            self._spans = highlight.spans(self._analyzer, self.text, self._terms)
        return self._spans


@dataclass
class SearchResults:
    query: str
    hits: list[Hit]
    # matching paragraphs (all of them, not only the k returned); when pruning skipped most
    # postings, counted exactly the first time it is read
    total: int = CountOnRead()
    warnings: list[str] = field(default_factory=list)
    did_you_mean: str | None = None
    took_ms: float = 0.0
    fuzzy: bool = False  # the fuzzy fallback (or a term~) took part
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # matching articles
    execution: Execution | None = field(default=None, repr=False, compare=False)

    def explain(self, hit: Hit) -> Explanation:
        """Why `hit` (one of these results) scored what it did, without searching again."""
        if self.execution is None or hit._execution is not self.execution:
            raise InvalidArgument("explain() takes a hit of these results")
        return explanation_of(self.execution, hit)

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
            if p.query == "proximity":  # the second stage's bonus: no idf of its own
                lines.append(
                    f"  {p.score:8.4f}  proximity:{p.term!r}  pair tf={p.tf:.4g} (1/distance² "
                    f"of neighbouring words, saturated, times each pair's smaller idf)  "
                    f"len={p.length} avg={p.avg_length:.1f}  weight={p.weight:.3f}")
                continue
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
    dates: tuple[dt.datetime, dt.datetime] | None = None  # oldest and newest article date
    fields: list[str] = field(default_factory=list)  # metadata fields some article has


class Index:
    """An on-disk index. Reads are from an immutable snapshot; `update` commits atomically."""

    def __init__(self, root: str | os.PathLike, *, k1: float = DEFAULT_K1, b: float = DEFAULT_B,
                 title_boost: float = DEFAULT_TITLE_BOOST, verify: bool = False,
                 budget: QueryBudget = DEFAULT_BUDGET) -> None:
        """Open the latest commit at `root`. Opening checks the index's structure (manifest,
        file sizes, array headers and shapes, offsets), which costs the same at any index
        size; stored text is checked per block as hits read it. verify=True also checks
        every byte of every file against its checksum first (~2 ms per MB), as `check()`
        does. `budget` caps the work one query may cause (see searchlib.budget)."""
        self.root = Path(root)
        self.params = checked_params(BM25(k1, b, title_boost))
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
    def open(cls, root: str | os.PathLike, *, replicas: int | None = None,
             address: str | None = None, **params) -> Index:
        """The index at `root`; a `ShardedIndex` (same API) if it holds cluster.json, with
        `replicas` actors per shard, served by the Ray cluster at `address` (default
        $RAY_ADDRESS, else a local Ray). A single index has no use for either."""
        from .cluster.layout import is_cluster

        if is_cluster(root):
            from . import cluster

            return cluster.ShardedIndex(root, replicas=replicas, address=address, **params)
        return cls(root, **params)

    @classmethod
    def build(cls, paths, root: str | os.PathLike, *, stemmer: str | None = None,
              stopwords: bool | None = None, warn=None, progress=None, jobs: int | None = None,
              memory_budget: float | None = None, optimize: bool = False, **params) -> Index:
        """Index `paths` from scratch into `root` (replacing an existing searchlib index).
        `stemmer` and `stopwords` default to the replaced index's own settings, or to
        Snowball with stopwords removed for a new index. `jobs`: analysis processes
        (default: every core); `memory_budget`: MB (1024); `optimize`: one segment."""
        if stemmer is not None:
            _check_stemmer(stemmer)
        from .index.writer import IndexWriter  # the writer is not needed to search

        IndexWriter(Path(root), rebuild=True, stemmer=stemmer, stopwords=stopwords).update(
            as_path_list(paths), warn=warn, progress=progress, jobs=jobs,
            memory_budget=memory_budget, optimize=optimize
        )
        return cls(root, **params)

    @classmethod
    def create_or_update(cls, paths, root: str | os.PathLike, *, rebuild: bool = False,
                         stemmer: str | None = None, warn=None, progress=None,
                         prune_missing: bool = False, jobs: int | None = None,
                         memory_budget: float | None = None, optimize: bool = False,
                         **params) -> tuple[Index, UpdateReport]:
        from .index.writer import IndexWriter  # the writer is not needed to search

        if stemmer is not None:
            _check_stemmer(stemmer)
        report = IndexWriter(Path(root), rebuild=rebuild, stemmer=stemmer,
                             prune_missing=prune_missing).update(
            as_path_list(paths), warn=warn, progress=progress, jobs=jobs,
            memory_budget=memory_budget, optimize=optimize
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
            as_path_list(paths), warn=warn, progress=progress)
        self.refresh()
        return report

    def optimize(self, *, memory_budget: float | None = None) -> UpdateReport:
        """Merge the whole index into one segment (its deletions dropped), the fastest to
        search; files are not re-read. Updates merge too, but leave up to a few segments."""
        from .index.writer import IndexWriter

        report = IndexWriter(self.root).update([], memory_budget=memory_budget, optimize=True)
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
        return checked_params(BM25(p.k1 if k1 is None else k1, p.b if b is None else b,
                             p.title_boost if title_boost is None else title_boost))

    def _options(self, k, strict, default_operator, fuzzy, k1, b, title_boost,
                 articles, since=None, until=None, where=None, sort="score",
                 facets=None, recency=None, now=None, scope="paragraph", *,
                 proximity=None, prf=None) -> SearchOptions:
        """Checked options of one search (InvalidArgument for a bad one)."""
        _check_operator(default_operator)
        return SearchOptions(_check_k(k), strict, default_operator, fuzzy,
                             self._params(k1, b, title_boost), articles,
                             filterargs.filters(since, until, where),
                             filterargs.sort_key(sort), filterargs.facet_names(facets),
                             filterargs.recency(recency, now), filterargs.scope(scope),
                             proximity_option(proximity), feedback_option(prf))

    def _execute(self, query: str, options: SearchOptions) -> Execution:
        return Searcher(self.snapshot, self.budget).execute(query, options)

    def search(self, query: str, k: int = 10, *, strict: bool = False,
               default_operator: str = "OR", fuzzy: bool = True, k1: float | None = None,
               b: float | None = None, title_boost: float | None = None,
               articles: bool = False, since: filterargs.DateArg = None,
               until: filterargs.DateArg = None, where: dict | None = None,
               sort: str = "score", facets: list[str] | str | None = None,
               recency: str | float | None = None,
               now: filterargs.DateArg = None, scope: str = "paragraph",
               proximity: float | Proximity | None = None,
               prf: bool | Feedback | None = None) -> SearchResults:
        """Rank paragraphs for `query`. Lenient by default: never raises on query syntax;
        with strict=True a malformed query raises QuerySyntaxError (with its position).

        `articles=True` returns the best paragraph of each of the top k articles instead,
        and `total` then counts matching articles rather than paragraphs.

        Metadata: `since`/`until` (dates, both inclusive: `until="1987-03"` is up to the end
        of March), `where={"topics": ["crude"]}` (any of the values, case-insensitive);
        `sort="-date"` (newest first) or `"date"` gives one hit per article, and a query of
        filters alone lists its articles newest first; `facets=["topics", "date:month"]`
        counts matching articles per value (top 10 each) in `SearchResults.facets`;
        `recency="30d"` multiplies scores by 0.5 per 30 days of age (from `now`, or the
        newest matching date; off by default). `scope="article"` applies AND, NOT and
        phrases-as-terms to whole articles (any of their paragraphs), one hit each: its best
        paragraph.

        Second stages of a ranked paragraph list: `proximity` (a weight, 0 for off; default
        `DEFAULT_PROXIMITY`) adds a bonus to the top max(k, 100) paragraphs whose query words
        occur close together; `prf=True` (or a `Feedback`) expands the query with terms of
        the top paragraphs (RM3) and searches again."""
        t0 = time.perf_counter()
        options = self._options(k, strict, default_operator, fuzzy, k1, b, title_boost, articles,
                                since, until, where, sort, facets, recency, now, scope,
                                proximity=proximity, prf=prf)
        snap = self.snapshot
        ex = self._execute(query, options)
        terms = ex.terms
        hits = [self._hit(snap, h.address, h.score, terms, ex, h.fuzzy) for h in ex.hits]
        return SearchResults(
            query=query, hits=hits, total=ex.lazy_total, warnings=ex.warnings,
            did_you_mean=ex.did_you_mean, took_ms=(time.perf_counter() - t0) * 1000,
            fuzzy=ex.fuzzy, facets=ex.facets, execution=ex,
        )

    def rank(self, query: str, k: int = 10, *, default_operator: str = "OR", fuzzy: bool = True,
             k1: float | None = None, b: float | None = None, title_boost: float | None = None,
             articles: bool = False, proximity: float | Proximity | None = None,
             prf: bool | Feedback | None = None) -> list[tuple[str, int, float]]:
        """(article_id, paragraph, score) of the top k, best first: `search` without building
        hits (no text, no highlighting), for evaluation and bulk ranking. Lenient parsing."""
        options = self._options(k, False, default_operator, fuzzy, k1, b, title_boost, articles,
                                proximity=proximity, prf=prf)
        snap = self.snapshot
        out = []
        for h in self._execute(query, options).hits:
            _seg, ai, paragraph = _locate(snap, h.address)
            out.append((snap.header(h.address.segment, ai).id, paragraph, h.score))
        return out

    def _hit(self, snap: Snapshot, address: HitAddress, score: float, terms: set[str],
             execution: Execution, fuzzy: bool) -> Hit:
        seg, ai, paragraph = _locate(snap, address)
        head = snap.header(address.segment, ai)
        seg.store  # noqa: B018 - maps the text now: it stays readable after close()/refresh()
        return Hit(
            article_id=head.id, title=head.title, paragraph=paragraph, score=score,
            fuzzy=fuzzy, source=head.source, date=date_of(head.date),
            meta={f: list(values) for f, values in head.meta},
            _ref=(snap.generation, address.segment, address.paragraph), _execution=execution,
            _body=_HitBody(snap.analyzer, seg, address.paragraph, terms),
        )

    def explain(self, query: str, hit: Hit, *, default_operator: str = "OR", fuzzy: bool = True,
                k1: float | None = None, b: float | None = None,
                title_boost: float | None = None, articles: bool = False,
                proximity: float | Proximity | None = None,
                prf: bool | Feedback | None = None) -> Explanation:
        """Why `hit` scored what it did: idf, tf and length normalization per matched term
        (and the proximity bonus, the expansion terms, when those stages took part).

        A hit found by this very query and options is explained from its search's weights,
        without searching again; otherwise the query is run once to get them."""
        if hit._ref[0] != self.snapshot.generation:
            raise SearchlibError("the index changed since this hit was found; search again")
        options = self._options(1, False, default_operator, fuzzy, k1, b, title_boost, articles,
                                proximity=proximity, prf=prf)
        ex = hit._execution
        if ex is None or ex.query != query or not ex.options.same_ranking(options):
            ex = self._execute(query, options)
        return explanation_of(ex, hit)

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
            top_terms=top_terms, dates=date_range(snap),
            fields=sorted(present_fields(snap.segments)),
        )

    @staticmethod
    def check_files(root: str | os.PathLike) -> list[str]:
        """Verify every file of the latest commit at `root` without opening the index (for an
        index too damaged to open): one line per damaged or missing file."""
        from .index.snapshot import check_commit

        return check_commit(Path(root))

    def check(self) -> list[str]:
        """Verify every file of this index's commit against its checksum; [] means OK.

        It checks the commit this Index opened (call `refresh()` first for the latest), from
        the files it opened: a writer committing meanwhile cannot make it report damage."""
        return self.snapshot.check()


def date_range(snap: Snapshot) -> tuple[dt.datetime, dt.datetime] | None:
    """The oldest and newest date of the live articles (None: none is dated)."""
    lo, hi = None, None
    for seg in snap.segments:
        dates = seg.meta.date if seg.deleted is None else seg.meta.date[~seg.deleted]
        dates = dates[dates != NO_DATE]
        if len(dates):
            lo = int(dates.min()) if lo is None else min(lo, int(dates.min()))
            hi = int(dates.max()) if hi is None else max(hi, int(dates.max()))
    if lo is None or hi is None:
        return None
    return _EPOCH + dt.timedelta(seconds=lo), _EPOCH + dt.timedelta(seconds=hi)


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


def checked_params(params: BM25) -> BM25:
    """BM25 parameters in range (NaN fails every comparison, so it is rejected too)."""
    if not (params.k1 >= 0 and 0 <= params.b <= 1 and params.title_boost >= 0):
        raise InvalidArgument(f"BM25 parameters out of range: k1={params.k1} (≥ 0), "
                              f"b={params.b} (0..1), title_boost={params.title_boost} (≥ 0)")
    return params


def proximity_option(value: float | Proximity | None) -> Proximity | None:
    """The proximity stage a search runs: None → the default, a weight (0: off)."""
    if value is None:
        return DEFAULT_PROXIMITY
    if isinstance(value, Proximity):
        return value if value.weight else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e6:
        raise InvalidArgument(f"proximity must be a weight ≥ 0 (0: off), got {value!r}")
    return Proximity(float(value)) if value else None


def feedback_option(value: bool | Feedback | None) -> Feedback | None:
    """The feedback stage a search runs: off unless asked for (True: the defaults)."""
    if value is None or value is False:
        return None
    if value is True:
        return Feedback()
    if isinstance(value, Feedback):
        return value
    raise InvalidArgument(f"prf must be True, False or a Feedback, got {value!r}")


def _locate(snap: Snapshot, address: HitAddress):
    """(segment, article ordinal, 1-based paragraph number) of the paragraph at `address`."""
    seg = snap.segments[address.segment]
    ai = int(seg.para_article[address.paragraph])
    return seg, ai, address.paragraph - int(seg.art_first[ai]) + 1


def as_path_list(paths) -> list:
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    return list(paths)


def explanation_of(execution: Execution, hit: Hit) -> Explanation:
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
