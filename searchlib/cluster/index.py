"""`ShardedIndex`: the `Index` API over a cluster of shards served by Ray actors.

A search compiles the query once against the cluster's global statistics (GlobalView:
phase 1 fetches df for the query's terms, through an LRU cache), sends the plan to every
shard (phase 2: each scores its own segments and returns its top k), and merges by score,
then shard order, then each shard's own order. The fuzzy-fallback gate, expansions and
"did you mean" are decided at the coordinator, so every shard scores the same terms.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..analysis import Analyzer
from ..budget import DEFAULT_BUDGET, QueryBudget, Spend
from ..errors import SearchlibError
from ..query import Bool, Fuzzy, Phrase, Term, capped, listing, parse, stopwords_warning
from ..ranking import BoolPlan, PhraseLeaf
from ..search import (
    BM25,
    DEFAULT_B,
    DEFAULT_K1,
    DEFAULT_TITLE_BOOST,
    MIN_HITS,
    Explanation,
    Hit,
    IndexStats,
    SearchResults,
    _as_list,
    _check_k,
    _check_operator,
    _checked,
    _unfuzz,
)
from . import runtime
from .layout import read_cluster
from .stats import GlobalCompiler, GlobalView, StatsCache

SHARD_BITS = 20  # Hit._ref packs (shard, segment) into one int: shard << SHARD_BITS | segment


@dataclass
class _Pinned:
    """One cluster commit: what a request uses from start to end."""

    data: dict
    folders: list[str]
    view: GlobalView
    infos: list


class ShardedIndex:
    """A sharded index: same API and result types as `searchlib.Index`."""

    def __init__(self, root: str | os.PathLike, *, k1: float = DEFAULT_K1, b: float = DEFAULT_B,
                 title_boost: float = DEFAULT_TITLE_BOOST, verify: bool = True,
                 budget: QueryBudget = DEFAULT_BUDGET, address: str | None = None) -> None:
        self.root = Path(root)
        self.params = _checked(BM25(k1, b, title_boost))
        self.budget = budget
        self.verify = verify
        self.cache = StatsCache()
        read_cluster(self.root)  # a clear error before starting Ray
        runtime.connect(address)
        self._actors: list = []
        self.refresh()

    # -- lifecycle ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Move to the latest cluster commit (requests in progress keep theirs)."""
        data = read_cluster(self.root)
        folders = [s["path"] for s in data["shards"]]
        while len(self._actors) < len(folders):
            self._actors.append(runtime.reader(self.root, len(self._actors), self.verify))
        infos = runtime.gather([a.info.remote(f) for a, f in zip(self._actors, folders)])
        settings = infos[0].analyzer
        analyzer = Analyzer(settings.get("stemmer", "snowball"), settings.get("stopwords", True))
        view = GlobalView(infos, analyzer, self.cache, self._fetcher(folders),
                          self._reacher(folders))
        self._pinned = _Pinned(data, folders, view, infos)

    def _fetcher(self, folders):
        def fetch(pairs):
            per_shard = runtime.gather([a.doc_freqs.remote(f, pairs)
                                        for a, f in zip(self._actors, folders)])
            return [sum(col) for col in zip(*per_shard)]
        return fetch

    def _reacher(self, folders):
        def reach(term, names):
            return sum(runtime.gather([a.reach.remote(f, term, names)
                                       for a, f in zip(self._actors, folders)]))
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

        report = update_cluster(_as_list(paths), self.root, warn=warn,
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

    def _params(self, k1, b, title_boost) -> BM25:
        p = self.params
        return _checked(BM25(p.k1 if k1 is None else k1, p.b if b is None else b,
                             p.title_boost if title_boost is None else title_boost))

    def _score(self, pin: _Pinned, plan, params, k, per_article, exact, hits):
        """Phase 2 on every shard; `exact` = (flag?, the exact plan). Merged best first."""
        flag, exact_plan = exact
        stats = pin.view.stats
        answers = runtime.gather([
            a.score.remote(f, plan, stats, params, k, per_article, flag, exact_plan, hits)
            for a, f in zip(self._actors, pin.folders)])
        total = sum(t for t, _ in answers)
        merged = [(e["score"], shard, rank, e) for shard, (_, entries) in enumerate(answers)
                  for rank, e in enumerate(entries)]
        merged.sort(key=lambda x: (-x[0], x[1], x[2]))
        return total, [(shard, e) for _, shard, _, e in merged[:k]]

    def _plan(self, query, pin: _Pinned, params, strict, default_operator, fuzzy, k,
              per_article=False, hits=True):
        view = pin.view
        parsed = parse(query, default_operator=default_operator, strict=strict,
                       max_chars=self.budget.max_chars)
        view.begin()
        view.prefetch(_pairs(parsed.root, view.analyzer))
        spend = Spend(self.budget)
        first = GlobalCompiler(view, params, spend=spend)
        plan = first.compile(parsed.root)
        state = first.state
        warnings = [*parsed.warnings[: len(parsed.warnings) - (parsed.omitted > 0)],
                    *first.state.warnings, *stopwords_warning(first.state.stopwords)]
        limits = dict(first.state.limits)
        # word~ in the query: its hits are flagged against the query read without the ~
        exact_plan = (GlobalCompiler(view, params, spend=spend).compile(_unfuzz(parsed.root))
                      if first.state.expanded else plan)
        ranked = self._score(pin, plan, params, k, per_article,
                             (first.state.expanded, exact_plan), hits)
        if fuzzy and parsed.root is not None and (state.unknown or ranked[0] < MIN_HITS):
            wide = GlobalCompiler(view, params, expand_unknown=True, expand_rare=True,
                                  spend=spend)
            wide_plan = wide.compile(parsed.root)
            if wide.state.expanded:  # its plan answers: its figures are the ones to show
                limits.update(wide.state.limits)
                plan, state = wide_plan, wide.state
                ranked = self._score(pin, plan, params, k, per_article, (True, exact_plan),
                                     hits)
            for cap, message in wide.state.limits.items():
                limits.setdefault(cap, message)
        warnings = [*limits.values(), *warnings]
        return parsed, plan, state, ranked, warnings

    def search(self, query: str, k: int = 10, *, strict: bool = False,
               default_operator: str = "OR", fuzzy: bool = True, k1: float | None = None,
               b: float | None = None, title_boost: float | None = None,
               articles: bool = False) -> SearchResults:
        """As `Index.search`, over all shards, with the scores one index would give."""
        k = _check_k(k)
        _check_operator(default_operator)
        t0 = time.perf_counter()
        pin = self._pinned
        params = self._params(k1, b, title_boost)
        parsed, plan, state, (total, top), warnings = self._plan(
            query, pin, params, strict, default_operator, fuzzy, k, articles)
        gen = self.generation
        hits = [Hit(article_id=e["article_id"], title=e["title"], paragraph=e["paragraph"],
                    score=e["score"], text=e["text"], spans=e["spans"], fuzzy=e["fuzzy"],
                    source=e["source"], _ref=(gen, shard << SHARD_BITS | e["si"], e["pid"]))
                for shard, e in top]
        did_you_mean = None
        if state.corrections:
            did_you_mean = query
            for raw, word in state.corrections.items():
                did_you_mean = re.sub(rf"(?<!\w){re.escape(raw)}(?!\w)", lambda _m, w=word: w,
                                      did_you_mean, count=1)
        if parsed.root is not None and plan is not None and state.unknown and not total:
            warnings.append(f"no paragraph contains: {listing(state.unknown)}")
        return SearchResults(query=query, hits=hits, total=total,
                             warnings=capped(warnings, parsed.omitted),
                             did_you_mean=did_you_mean,
                             took_ms=(time.perf_counter() - t0) * 1000, fuzzy=state.expanded)

    def rank(self, query: str, k: int = 10, *, default_operator: str = "OR", fuzzy: bool = True,
             k1: float | None = None, b: float | None = None, title_boost: float | None = None,
             articles: bool = False) -> list[tuple[str, int, float]]:
        """(article_id, paragraph, score) of the top k, best first (no text, no spans)."""
        k = _check_k(k)
        _check_operator(default_operator)
        params = self._params(k1, b, title_boost)
        _, _, _, (_, top), _ = self._plan(query, self._pinned, params, False, default_operator,
                                          fuzzy, k, articles, hits=False)
        return [(e["article_id"], e["paragraph"], e["score"]) for _, e in top]

    def explain(self, query: str, hit: Hit, *, default_operator: str = "OR", fuzzy: bool = True,
                k1: float | None = None, b: float | None = None,
                title_boost: float | None = None, articles: bool = False) -> Explanation:
        pin = self._pinned
        gen, packed, pid = hit._ref
        if gen != int(pin.data["generation"]):
            raise SearchlibError("the index changed since this hit was found; search again")
        shard, si = packed >> SHARD_BITS, packed & ((1 << SHARD_BITS) - 1)
        params = self._params(k1, b, title_boost)
        plan = self._plan(query, pin, params, False, default_operator, fuzzy, 1, articles,
                          hits=False)[1]
        pairs = {(t, f) for leaf in _leaf_list(plan) for t in leaf.terms for f, _ in leaf.fields}
        pin.view.prefetch(pairs)
        dfs = {p: pin.view.doc_freq(*p) for p in pairs}
        parts = runtime.gather([self._actors[shard].explain.remote(
            pin.folders[shard], plan, pin.view.stats, dfs, params, si, pid)])[0]
        phrases = {(leaf.label, f): leaf for leaf in _leaf_list(plan)
                   if isinstance(leaf, PhraseLeaf) for f, _ in leaf.fields}
        fixed = []
        for part in parts:  # a phrase's df is counted on every shard
            leaf = phrases.get((part.query, part.field))
            if leaf is not None:
                df = sum(runtime.gather([a.phrase_df.remote(f, part.field, leaf.terms,
                                                            leaf.offsets, leaf.slop)
                                         for a, f in zip(self._actors, pin.folders)]))
                part = replace(part, df=df)
            fixed.append(part)
        return Explanation(sum(p.score for p in fixed), fixed, params.k1, params.b)

    # -- browsing ----------------------------------------------------------------------------

    def article_of(self, hit: Hit) -> tuple[str, list[str]]:
        """(title, paragraphs) of the very article `hit` came from."""
        pin = self._pinned
        gen, packed, pid = hit._ref
        if gen != int(pin.data["generation"]):
            return self.article(hit.article_id)
        shard, si = packed >> SHARD_BITS, packed & ((1 << SHARD_BITS) - 1)
        return runtime.gather([self._actors[shard].paragraphs.remote(pin.folders[shard], si,
                                                                     pid)])[0]

    def article(self, article_id: str) -> tuple[str, list[str]]:
        pin = self._pinned
        for found in runtime.gather([a.article.remote(f, article_id)
                                     for a, f in zip(self._actors, pin.folders)]):
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
        for found in runtime.gather([a.top_candidates.remote(f, top)
                                     for a, f in zip(self._actors, pin.folders)]):
            cands.update(found)
        view.prefetch((t, "text") for t in cands)
        ranked = sorted(((view.doc_freq(t), t) for t in cands), key=lambda d: (-d[0], d[1]))
        return IndexStats(
            path=str(self.root), articles=view.articles, paragraphs=view.paragraphs,
            vocabulary=len(view.vocabulary[0]), segments=sum(i.segments for i in pin.infos),
            bytes=sum(i.size for i in pin.infos), generation=int(pin.data["generation"]),
            analyzer=dict(pin.infos[0].analyzer),
            top_terms=[(surface_of(view, t), df) for df, t in ranked[:top] if df])

    def check(self) -> list[str]:
        """Every shard's files against their checksums; [] means OK."""
        pin = self._pinned
        problems: list[str] = []
        for found in runtime.gather([a.check.remote(f)
                                     for a, f in zip(self._actors, pin.folders)]):
            problems += found
        return problems


def _pairs(node, analyzer: Analyzer):
    """(term, field) pairs the compiler will ask df for: phase 1 fetches them in one trip."""
    if isinstance(node, Bool):
        for child in node.must + node.should + node.must_not:
            yield from _pairs(child, analyzer)
    elif isinstance(node, (Term, Phrase, Fuzzy)):
        for tok in analyzer.tokens(node.text):
            if tok.term is not None:
                yield tok.term, "text"
                yield tok.term, "title"


def _leaf_list(plan):
    if isinstance(plan, BoolPlan):
        for child in plan.must + plan.should + plan.must_not:
            yield from _leaf_list(child)
    elif plan is not None:
        yield plan
