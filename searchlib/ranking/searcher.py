"""One query from text to scored hits: parse → compile → run → fuzzy fallback → which hits
only the fallback found. The result, an `Execution`, keeps its weights, so explaining a hit
never runs the query again.

The fallback policy: the query is compiled exactly first; if a word is unknown or fewer than
`FEW` paragraphs match, it is compiled again with rare and unknown words expanded to close
vocabulary terms (never inside NOT). Hits the exact query would not have matched are
flagged fuzzy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..budget import DEFAULT_BUDGET, QueryBudget, Spend
from ..index.segment import Segment
from ..index.snapshot import Snapshot
from ..query import (
    Bool,
    Filter,
    Fuzzy,
    Node,
    ParsedQuery,
    Term,
    cached_parse,
    capped,
    listing,
    stopwords_warning,
)
from . import phrasetop
from .collectors import (
    BestPerArticle,
    ByDate,
    Collector,
    Count,
    CountOnRead,
    Deferred,
    Facets,
    HitAddress,
    Matches,
    ScoredHit,
    TopK,
    counted,
)
from .compiler import FEW, Compiler, CompileState
from .filters import all_of, index_fields
from .postings import EMPTY, member
from .prf import Feedback, expand, relevance_model
from .pruning import applies, collected, prunable_collectors, run_pruned
from .recency import Recency
from .rerank import Proximity, Word, explain_part, query_words, rerank
from .scoring import BM25, CollectionStats, avg_length
from .weights import BoolWeight, ExplainPart, SegmentScorer, Weight, leaves, positive_terms

SECOND_STAGES_IGNORED = ("feedback and proximity re-rank paragraphs by score on one index: "
                         "ignored per article, by date, with recency and on a sharded index")


@dataclass(frozen=True)
class SearchOptions:
    k: int = 10
    strict: bool = False  # malformed queries raise QuerySyntaxError instead of being repaired
    default_operator: str = "OR"
    fuzzy: bool = True  # try the fuzzy fallback
    params: BM25 = BM25()
    per_article: bool = False  # the best paragraph of each of the top k articles
    filters: tuple[Filter, ...] = ()  # metadata conditions every hit meets (since/until/where)
    sort: str = "score"  # or "-date" (newest first) / "date": one hit per article
    facets: tuple[str, ...] = ()  # fields to count matching articles by
    recency: Recency | None = None  # scores decay with the article's age (off: None)
    scope: str = "paragraph"  # "article": AND/NOT over an article's paragraphs together
    proximity: Proximity | None = None  # second stage: close query words rank higher
    prf: Feedback | None = None  # RM3 pseudo-relevance feedback (opt-in)

    def same_ranking(self, other: SearchOptions) -> bool:
        """Whether a query run with `other` scores every paragraph as with these."""
        return (self.default_operator, self.fuzzy, self.params, self.per_article,
                self.proximity, self.prf) == (
            other.default_operator, other.fuzzy, other.params, other.per_article,
            other.proximity, other.prf)

    def second_stages(self) -> bool:
        """Whether proximity or feedback re-rank this search: a ranked list of paragraphs
        (not per article, by date, or decayed by recency)."""
        return bool((self.proximity and self.proximity.weight) or self.prf) and (
            self.sort == "score" and not self.per_article and self.recency is None)


@dataclass
class Execution:
    """Everything one run of a query decided, for the facade to present and explain."""

    query: str
    options: SearchOptions
    parsed: ParsedQuery
    weight: Weight | None  # the weights that produced the hits (the fallback's, if it ran)
    state: CompileState
    hits: list[ScoredHit]  # best first, at most k
    # matching paragraphs (articles, per_article), not only the k returned: counted when
    # first read if pruning deferred it (`lazy_total` hands it on unread)
    total: int = CountOnRead()
    warnings: list[str]
    fuzzy: bool  # expansions took part (the fallback or a word~)
    did_you_mean: str | None
    searcher: Searcher = field(repr=False)
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    near: tuple[Word, ...] = ()  # the words the proximity stage looked for (none: it was off)

    @property
    def lazy_total(self) -> int | Deferred:
        return type(self).__dict__["total"].raw(self)

    @property
    def terms(self) -> set[str]:
        """Terms to mark in a hit's paragraph."""
        return positive_terms(self.weight)

    def explain(self, address: HitAddress) -> tuple[float, list[ExplainPart]]:
        """(score, its leaf contributions) of the paragraph at `address`, by the very
        weights that scored it (and its proximity bonus, a part of its own)."""
        score, parts = self.searcher.explain(self.weight, address, self.options.params)
        if self.near and self.options.proximity:
            searcher = self.searcher
            part = explain_part(searcher.snapshot.segments[address.segment], address.paragraph,
                                self.near, self.options.params,
                                avg_length(searcher.stats, "text"),
                                searcher.stats.num_docs("text"), self.options.proximity)
            if part is not None:
                score, parts = score + part.score, [*parts, part]
        return score, parts


def segment_matches(seg: Segment, stats: CollectionStats, weight: Weight | None,
                    params: BM25, article_scope: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A segment's scored matches, filtered (live, metadata) and collapsed (article scope:
    one paragraph per matching article already)."""
    if weight is None:
        return EMPTY
    return collected(SegmentScorer(seg, stats, params, article_scope=article_scope), weight)


def run(segments: Sequence[Segment], stats: CollectionStats, weight: Weight | None,
        params: BM25, collectors: Sequence[Collector],
        recency: Recency | None = None, article_scope: bool = False) -> list:
    """Score every segment, filter and collapse its matches, feed them to each collector;
    the collectors' merged fruits, in their order. With `recency`, every segment is scored
    first: the decay counts from the newest date among all matches. A top-k by score of an
    AND/OR of words skips the postings that cannot reach it (`pruning`), with the same
    fruits."""
    if (recency is None and not article_scope and prunable_collectors(collectors)
            and applies(weight, params)):
        return run_pruned(segments, stats, weight, params, collectors)
    if recency is None and not article_scope and phrasetop.applies(weight, params, collectors):
        return phrasetop.run_phrase(segments, stats, weight, params, collectors)
    fruits: list[list] = [[] for _ in collectors]
    matched = None
    if recency is not None:
        matched = recency.apply(segments, [segment_matches(seg, stats, weight, params,
                                                           article_scope) for seg in segments])
    for ordinal, seg in enumerate(segments):
        docs, scores = (matched[ordinal] if matched is not None
                        else segment_matches(seg, stats, weight, params, article_scope))
        for collector, out in zip(collectors, fruits):
            out.append(collector.collect(ordinal, seg, docs, scores))
    return [collector.merge(out) for collector, out in zip(collectors, fruits)]


class Searcher:
    """Runs queries on one snapshot; `stats` (default: the snapshot's own) is where idf and
    average lengths come from, so a sharded index can inject global statistics."""

    # Whether collecting every matching paragraph costs nothing (one index: references to
    # arrays it has anyway), so the first run keeps them for the fallback's fuzzy flags; a
    # sharded index would ship them from every shard, so it runs the exact query again
    # in the rare case the fallback answers without an unknown word.
    matches_are_free = True

    def __init__(self, snapshot: Snapshot, budget: QueryBudget = DEFAULT_BUDGET,
                 stats: CollectionStats | None = None) -> None:
        self.snapshot = snapshot
        self.budget = budget
        self.stats: CollectionStats = snapshot if stats is None else stats

    def execute(self, query: str, options: SearchOptions) -> Execution:
        # the metadata fields are read only for a query that may name one
        fields = index_fields(self.snapshot.segments) if ":" in query else frozenset()
        parsed = cached_parse(query, default_operator=options.default_operator,
                              strict=options.strict, max_chars=self.budget.max_chars,
                              filters=fields)
        if options.scope == "article":  # one hit (its best paragraph) per article
            options = replace(options, per_article=True)
        spend = Spend(self.budget)  # shared by this search's compiles
        first = self._compiler(options.params, spend)
        weight = _restricted(first.compile(parsed.root), options, first)
        if weight is not None and not any(leaves(weight)):  # filters alone: list articles
            options = replace(options, per_article=True,
                              sort="-date" if options.sort == "score" else options.sort)
        # which paragraphs the exact query matched: needed only if the fallback answers
        # (unless they would cost the pruning of the top k: then only if the fallback answers)
        keep = (self.matches_are_free and not applies(weight, options.params)
                and not phrasetop.prunable(weight, options.params)) or bool(
            options.fuzzy and first.state.unknown)
        # second stages (proximity, feedback) re-rank a deeper first stage, on one index
        staged = options.second_stages() and isinstance(self.snapshot, Snapshot)
        run_options = _deeper(options) if staged else options
        top, total, exact, facets = self._run(weight, run_options, keep)
        # the parser's "… and N more" line is left out: capped() counts again with ours
        warnings = [*parsed.warnings[: len(parsed.warnings) - (parsed.omitted > 0)],
                    *first.state.warnings, *stopwords_warning(first.state.stopwords)]
        if not staged and (options.prf or (options.proximity and options.proximity.weight)):
            warnings.append(SECOND_STAGES_IGNORED)
        for fld in dict.fromkeys(name.split(":")[0] for name in options.facets):
            if fld not in first.present():  # as a filter on such a field says so
                warnings.append(f"no article has a '{fld}' field: its facet counts nothing")
        limits = dict(first.state.limits)  # the caps of the budget the query hit
        state = first.state
        if options.fuzzy and parsed.root is not None and (state.unknown or _few(top, total)):
            wide = self._compiler(options.params, spend, expand_unknown=True, expand_rare=True)
            wide_weight = _restricted(wide.compile(parsed.root), options, wide)
            if wide.state.expanded:  # its weights answer: its figures are the ones to show
                if exact is None and not first.state.expanded:  # (word~: see below)
                    exact = self.gather(weight, options, [Matches()])[0]
                limits.update(wide.state.limits)
                weight, state = wide_weight, wide.state
                top, total, _, facets = self._run(weight, run_options, False)
            for cap, message in wide.state.limits.items():  # e.g. why no typo was fixed
                limits.setdefault(cap, message)
        if state.expanded and first.state.expanded:  # word~ in the query: the plain word
            plain_compiler = self._compiler(options.params, spend)
            plain = _restricted(plain_compiler.compile(_unfuzz(parsed.root)), options,
                                plain_compiler)
            exact = self.gather(plain, options, [Matches()])[0]
        hits = top.hits()
        near: tuple[Word, ...] = ()
        if staged and weight is not None and any(leaves(weight)):
            near = query_words(weight) if options.proximity else ()
            model = relevance_model(self.snapshot, hits, options.prf) if options.prf else []
            if model:  # nothing to add (no hit, no usable word): the first run stands
                weight = expand(weight, model, len(near or query_words(weight)),
                                self._compiler(options.params, spend), options.prf)
                top, total, _, facets = self._run(weight, run_options, False)
                hits = top.hits()
            if options.proximity:
                hits = rerank(self.snapshot.segments, hits, near, options.params,
                              avg_length(self.stats, "text"), options.proximity)
        hits = hits[: options.k]
        if state.expanded:
            hits = [ScoredHit(h.address, h.score, _fuzzy_only(h.address, exact)) for h in hits]
        if (parsed.root is not None and weight is not None and state.unknown
                and not counted(total)):
            warnings.append(f"no paragraph contains: {listing(state.unknown)}")
        warnings = [*limits.values(), *warnings]  # caps first: capped() keeps the first lines
        return Execution(query, options, parsed, weight, state, hits, total,
                         capped(warnings, parsed.omitted), state.expanded,
                         _did_you_mean(query, state), self, facets, near)

    def gather(self, weight: Weight | None, options: SearchOptions,
               collectors: Sequence[Collector]) -> list:
        """Each collector's merged fruit over the whole collection: the one step a sharded
        index replaces (its shards `run` the same weight, their fruits are merged)."""
        return run(self.snapshot.segments, self.stats, weight, options.params, collectors,
                   options.recency, options.scope == "article")

    def explain(self, weight: Weight | None, address: HitAddress,
                params: BM25) -> tuple[float, list[ExplainPart]]:
        seg = self.snapshot.segments[address.segment]
        return SegmentScorer(seg, self.stats, params, only=address.paragraph).explain(weight)

    def _compiler(self, params: BM25, spend: Spend, **expand: bool) -> Compiler:
        return Compiler(self.snapshot, params, spend=spend, stats=self.stats, **expand)

    def _run(self, weight: Weight | None, options: SearchOptions, matches: bool) -> tuple:
        """(top hits, total, matches per (shard, segment) or None, facets)."""
        by_date = options.sort in ("date", "-date")
        top: Collector = (ByDate(options.k, newest=options.sort == "-date") if by_date
                          else BestPerArticle(options.k) if options.per_article
                          else TopK(options.k))
        collectors = [top, Count(options.per_article or by_date)]
        if options.facets:
            collectors.append(Facets(options.facets))
        fruits = self.gather(weight, options, collectors + [Matches()] * matches)
        facets = fruits[2] if options.facets else {}
        return fruits[0], fruits[1], (fruits[-1] if matches else None), facets


def _few(top: Any, total: int | Deferred) -> bool:
    """Whether fewer than `FEW` paragraphs matched: not when the top k already holds that
    many hits (then a deferred total stays uncounted)."""
    if isinstance(total, Deferred) and len(top.hits()) >= FEW:
        return False
    return counted(total) < FEW


def _deeper(options: SearchOptions) -> SearchOptions:
    """The options of a first stage deep enough for the second stages to re-rank."""
    depth = max(options.k, options.proximity.depth if options.proximity else 0,
                options.prf.fb_docs if options.prf else 0)
    return replace(options, k=depth)


def _restricted(weight: Weight | None, options: SearchOptions,
                compiler: Compiler) -> Weight | None:
    """The query's weight required to pass the options' filters (unchanged without any)."""
    if not options.filters:
        return weight
    required = all_of(map(compiler.compile_filter, options.filters))
    return required if weight is None else BoolWeight(must=(weight, required))


def _fuzzy_only(address: HitAddress, exact: dict[tuple[int, int], np.ndarray]) -> bool:
    docs = exact.get((address.shard, address.segment), EMPTY[0])
    return not bool(member(np.array([address.paragraph]), docs)[0])


def _did_you_mean(query: str, state: CompileState) -> str | None:
    """The query with each corrected word replaced by its correction."""
    if not state.corrections:
        return None
    fixed = query
    for raw, word in state.corrections.items():
        # the typed word itself, not the same letters inside another word
        fixed = re.sub(rf"(?<!\w){re.escape(raw)}(?!\w)", lambda _m, w=word: w, fixed, count=1)
    return fixed


def _unfuzz(node: Node | None) -> Node | None:
    """The query with `word~` read as the plain word (to tell which hits are fuzzy-only)."""
    if isinstance(node, Fuzzy):
        return Term(node.text, node.field)
    if isinstance(node, Bool):
        return Bool(tuple(map(_unfuzz, node.must)), tuple(map(_unfuzz, node.should)),
                    tuple(map(_unfuzz, node.must_not)))
    return node
