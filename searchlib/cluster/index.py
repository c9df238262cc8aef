"""`ShardedIndex`: the `Index` API over a cluster of shards served by Ray actors.

A search is `ranking.Searcher.execute` — the same parse, compile, fuzzy fallback and
did-you-mean as one index — on a `ClusterSearcher`, whose statistics and compile-time view
are the cluster's (GlobalView: phase 1 fetches df for the query's terms, through an LRU
cache) and whose `gather` step sends the compiled weights to every shard (phase 2: each
runs `ranking.run` on its own segments) and merges their fruits with the collectors' own
`merge`: score, then shard, then segment, then paragraph. Explain asks the owning shard,
with the same weights.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..analysis import Analyzer, AnalyzerSettings
from ..budget import DEFAULT_BUDGET, QueryBudget, Spend
from ..errors import InvalidArgument, SearchlibError
from ..ranking import BM25, Execution, ExplainPart, HitAddress, Searcher, SearchOptions, Weight
from ..ranking.collectors import Collector
from ..search import (
    DEFAULT_B,
    DEFAULT_K1,
    DEFAULT_TITLE_BOOST,
    Explanation,
    Hit,
    Index,
    IndexStats,
    KnownBody,
    SearchResults,
    as_path_list,
    checked_params,
    date_of,
    explanation_of,
)
from . import runtime
from .layout import read_cluster
from .stats import GlobalCompiler, GlobalView, StatsCache


@dataclass
class _Pinned:
    """One cluster commit: what a request uses from start to end."""

    data: dict
    folders: list[str]
    view: GlobalView
    infos: list


class ClusterSearcher(Searcher):
    """A `Searcher` over a cluster commit: global statistics and vocabulary at compile time,
    its shards' segments at run time."""

    matches_are_free = False  # every shard would ship its matching paragraph ids

    def __init__(self, pin: _Pinned, pool: runtime.ShardPool, budget: QueryBudget) -> None:
        super().__init__(pin.view, budget, stats=pin.view)  # type: ignore[arg-type]
        self.pin = pin
        self.pool = pool

    def _compiler(self, params: BM25, spend: Spend, **expand: bool) -> GlobalCompiler:
        return GlobalCompiler(self.snapshot, params, spend=spend, stats=self.stats, **expand)

    def gather(self, weight: Weight | None, options: SearchOptions,
               collectors: Sequence[Collector]) -> list:
        shipped = self.pin.view.shipped
        article_scope = options.scope == "article"
        recency = options.recency
        if recency is not None:  # decay from the cluster's newest (and oldest) match
            spans = [s for s in self.pool.each("date_span", [
                (f, weight, shipped, options.params, article_scope)
                for f in self.pin.folders]) if s is not None]
            recency = recency.pinned((min(s[0] for s in spans), max(s[1] for s in spans))
                                     if spans else None)
        answers = self.pool.each("run", [(f, weight, shipped, options.params, list(collectors),
                                          article_scope, recency) for f in self.pin.folders])
        return [c.merge([c.on_shard(fruits[i], shard) for shard, fruits in enumerate(answers)])
                for i, c in enumerate(collectors)]

    def explain(self, weight: Weight | None, address: HitAddress,
                params: BM25) -> tuple[float, list[ExplainPart]]:
        folder = self.pin.folders[address.shard]
        return self.pool.call([(address.shard, "explain", (
            folder, weight, self.pin.view.shipped, params, address.segment,
            address.paragraph))])[0]


REPLICAS_ENV = "SEARCHLIB_REPLICAS"


def replicas_wanted(replicas: int | None) -> int:
    """Replicas per shard: the argument, else $SEARCHLIB_REPLICAS, else 1."""
    if replicas is None:
        raw = os.environ.get(REPLICAS_ENV, "").strip() or "1"
        try:
            replicas = int(raw)
        except ValueError:
            raise InvalidArgument(f"{REPLICAS_ENV} must be a whole number, not {raw!r}") from None
    if isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= 64:
        raise InvalidArgument(f"replicas must be between 1 and 64, not {replicas!r}")
    return replicas


class ShardedIndex:
    """A sharded index: same API and result types as `searchlib.Index`. `replicas` (default
    $SEARCHLIB_REPLICAS, else 1) actors serve each shard: concurrent searches spread over
    them, and a dead one is skipped while Ray restarts it."""

    def __init__(self, root: str | os.PathLike, *, k1: float = DEFAULT_K1, b: float = DEFAULT_B,
                 title_boost: float = DEFAULT_TITLE_BOOST, verify: bool = True,
                 budget: QueryBudget = DEFAULT_BUDGET, address: str | None = None,
                 replicas: int | None = None) -> None:
        self.root = Path(root)
        self.replicas = replicas_wanted(replicas)
        self.params = checked_params(BM25(k1, b, title_boost))
        self.budget = budget
        self.verify = verify
        self.cache = StatsCache()
        read_cluster(self.root)  # a clear error before starting Ray
        runtime.connect(address)
        self.pool = runtime.ShardPool(self.root, verify, self.replicas)
        self.refresh()

    # -- lifecycle ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Move to the latest cluster commit (requests in progress keep theirs)."""
        data = read_cluster(self.root)
        folders = [s["path"] for s in data["shards"]]
        self.pool.ensure(len(folders))
        infos = self.pool.each("info", [(f,) for f in folders])
        analyzer = Analyzer(AnalyzerSettings.from_manifest(infos[0].analyzer))
        view = GlobalView(infos, analyzer, self.cache, self._fetcher(folders),
                          self._reacher(folders))
        self._pinned = _Pinned(data, folders, view, infos)

    def _fetcher(self, folders):
        def fetch(pairs):
            per_shard = self.pool.each("doc_freqs", [(f, pairs) for f in folders])
            return [sum(col) for col in zip(*per_shard)]
        return fetch

    def _reacher(self, folders):
        def reach(term, names):
            return sum(self.pool.each("reach", [(f, term, names) for f in folders]))
        return reach

    @property
    def shards(self) -> int:
        return len(self._pinned.folders)

    @property
    def roots(self) -> list[str]:
        return list(self._pinned.data.get("roots") or [])

    @property
    def generation(self) -> int:
        return int(self._pinned.data["generation"])

    def update(self, paths, *, warn=None, progress=None, prune_missing: bool = False):
        """Re-sync the shards owning changed files, then commit cluster.json and see it."""
        from .writer import update_cluster

        report = update_cluster(as_path_list(paths), self.root, warn=warn,
                                prune_missing=prune_missing)
        self.refresh()
        return report

    def close(self) -> None:
        """The shard actors stay up for other users of this Ray job."""

    def __enter__(self) -> ShardedIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- searching ---------------------------------------------------------------------------

    _params = Index._params  # the facade's own argument checks
    _options = Index._options

    def _execute(self, pin: _Pinned, query: str, options: SearchOptions) -> Execution:
        pin.view.begin()
        return ClusterSearcher(pin, self.pool, self.budget).execute(query, options)

    def _entries(self, pin: _Pinned, ex: Execution, text: bool) -> list[dict]:
        """The hits' articles (and text with spans), from their shards: one call per shard."""
        terms = ex.terms if text else set()
        wanted: dict[int, list[int]] = {}
        for i, h in enumerate(ex.hits):
            wanted.setdefault(h.address.shard, []).append(i)
        shards = list(wanted)
        answers = self.pool.call([(s, "hits", (
            pin.folders[s], [tuple(ex.hits[i].address[:2]) for i in wanted[s]], terms, text))
            for s in shards])
        out: list[dict] = [{} for _ in ex.hits]
        for s, entries in zip(shards, answers):
            for i, entry in zip(wanted[s], entries):
                out[i] = entry
        return out

    def search(self, query: str, k: int = 10, *, strict: bool = False,
               default_operator: str = "OR", fuzzy: bool = True, k1: float | None = None,
               b: float | None = None, title_boost: float | None = None,
               articles: bool = False, **metadata) -> SearchResults:
        """As `Index.search`, over all shards, with the scores one index would give
        (`metadata`: since, until, where, sort, facets, recency, now, scope)."""
        t0 = time.perf_counter()
        options = self._options(k, strict, default_operator, fuzzy, k1, b, title_boost, articles,
                                **metadata)
        pin = self._pinned
        ex = self._execute(pin, query, options)
        gen = int(pin.data["generation"])
        hits = [Hit(article_id=e["article_id"], title=e["title"], paragraph=e["paragraph"],
                    score=h.score, _body=KnownBody(e["text"], e["spans"]), fuzzy=h.fuzzy,
                    source=e["source"], date=date_of(e["date"]), meta=e["meta"],
                    _execution=ex,
                    _ref=(gen, h.address.segment, h.address.paragraph, h.address.shard))
                for h, e in zip(ex.hits, self._entries(pin, ex, True))]
        return SearchResults(query=query, hits=hits, total=ex.total, warnings=ex.warnings,
                             did_you_mean=ex.did_you_mean, fuzzy=ex.fuzzy, facets=ex.facets,
                             execution=ex,
                             took_ms=(time.perf_counter() - t0) * 1000)

    def rank(self, query: str, k: int = 10, *, default_operator: str = "OR", fuzzy: bool = True,
             k1: float | None = None, b: float | None = None, title_boost: float | None = None,
             articles: bool = False) -> list[tuple[str, int, float]]:
        """(article_id, paragraph, score) of the top k, best first (no text, no spans)."""
        options = self._options(k, False, default_operator, fuzzy, k1, b, title_boost, articles)
        pin = self._pinned
        ex = self._execute(pin, query, options)
        return [(e["article_id"], e["paragraph"], h.score)
                for h, e in zip(ex.hits, self._entries(pin, ex, False))]

    def explain(self, query: str, hit: Hit, *, default_operator: str = "OR", fuzzy: bool = True,
                k1: float | None = None, b: float | None = None,
                title_boost: float | None = None, articles: bool = False) -> Explanation:
        """As `Index.explain`: the owning shard scores the hit's paragraph with the weights
        of the search that found it (or of this query, run once, if the options differ)."""
        pin = self._pinned
        if hit._ref[0] != int(pin.data["generation"]) or len(hit._ref) != 4:
            raise SearchlibError("the index changed since this hit was found; search again")
        options = self._options(1, False, default_operator, fuzzy, k1, b, title_boost, articles)
        ex = hit._execution
        if ex is None or ex.query != query or not ex.options.same_ranking(options):
            ex = self._execute(pin, query, options)
        return explanation_of(ex, hit)

    # -- browsing ----------------------------------------------------------------------------

    def article_of(self, hit: Hit) -> tuple[str, list[str]]:
        """(title, paragraphs) of the very article `hit` came from."""
        pin = self._pinned
        if hit._ref[0] != int(pin.data["generation"]) or len(hit._ref) != 4:
            return self.article(hit.article_id)
        _gen, si, pid, shard = hit._ref
        return self.pool.call([(shard, "paragraphs", (pin.folders[shard], si, pid))])[0]

    def article(self, article_id: str) -> tuple[str, list[str]]:
        pin = self._pinned
        for found in self.pool.each("article", [(f, article_id) for f in pin.folders]):
            if found is not None:
                return found
        raise SearchlibError(f"no article {article_id!r} in the index")

    def complete(self, prefix: str, limit: int = 20) -> list[str]:
        view = self._pinned.view
        word = view.analyzer.normalize(prefix)
        if not word:
            return []
        cands = [(t, s) for t, s in zip(*view.vocabulary) if s.startswith(word)]
        view.prefetch((t, "text") for t, _ in cands)
        found = [(s, df) for t, s in cands if (df := view.doc_freq(t))]
        return [s for s, _ in sorted(found, key=lambda sd: -sd[1])[:limit]]

    def stats(self, top: int = 10) -> IndexStats:
        from ..fuzzy import surface_of

        pin = self._pinned
        view = pin.view
        cands: set[str] = set()
        for found in self.pool.each("top_candidates", [(f, top) for f in pin.folders]):
            cands.update(found)
        view.prefetch((t, "text") for t in cands)
        ranked = sorted(((view.doc_freq(t), t) for t in cands), key=lambda d: (-d[0], d[1]))
        spans = [d for d in self.pool.each("date_range", [(f,) for f in pin.folders]) if d]
        fields = frozenset().union(*(i.fields for i in pin.infos))
        return IndexStats(
            path=str(self.root), articles=view.num_docs("title"),
            paragraphs=view.num_docs("text"),
            vocabulary=len(view.vocabulary[0]), segments=sum(i.segments for i in pin.infos),
            bytes=sum(i.size for i in pin.infos), generation=int(pin.data["generation"]),
            analyzer=dict(pin.infos[0].analyzer),
            top_terms=[(surface_of(view, t), df) for df, t in ranked[:top] if df],
            dates=(min(d[0] for d in spans), max(d[1] for d in spans)) if spans else None,
            fields=sorted(fields | ({"date"} if any(i.dated for i in pin.infos) else set())))

    def check(self) -> list[str]:
        """Every shard's files against their checksums; [] means OK."""
        pin = self._pinned
        problems: list[str] = []
        for found in self.pool.each("check", [(f,) for f in pin.folders]):
            problems += found
        return problems
