"""Exact top-k with dynamic pruning: block-max bounds skip postings that cannot reach the top.

Block-max MaxScore (Ding & Suel 2011; Mallia et al. 2019) adapted to numpy. In a segment, the
block boundaries of every query list (term × field, title blocks mapped to their articles'
paragraphs) cut the paragraph ids into intervals; within one interval each list has one
block, whose stored max tf and min length bound its BM25 contribution for any k1, b ≥ 0, so
the sum over lists bounds every score in the interval. A first pass scores exactly the
intervals with the highest bounds; the k-th best of those (or of the segments already
collected) is a threshold θ, and the second pass scores only the intervals whose bound
reaches θ (equal bounds are kept, so ties break as in exhaustive scoring). Both passes run
the ordinary `SegmentScorer` with its postings cut to the chosen intervals, widened to whole
articles so the title-only collapse and best-per-article decide as they would on the whole
segment; scores are therefore identical, not approximations.

`total` must stay exact: it is counted from the query's postings as dense marks over the
segment's paragraphs (no scoring), and only when it is read (`collectors.Deferred`). Pruning
applies to a top-k by score (`TopK` or `BestPerArticle`, with `Count`) of an AND/OR of
word leaves (text and title, prefix and fuzzy alternatives, repeats), with metadata filters,
NOT words and deletions as masks. Every other shape — phrases, nested groups, article
scope, recency, date order, facets, the `Matches` collector — is scored exhaustively.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, partial

import numpy as np

from ..index.schema import POSTING_BLOCK
from ..index.segment import Segment, expand_ranges
from .collectors import (
    BestPerArticle,
    Collector,
    Count,
    TopK,
    apply_mask,
    collapse_title_only,
    filter_mask,
)
from .conjunction import SetScorer, conjunction
from .filters import FilterWeight
from .postings import EMPTY, Postings, lookup, union
from .scoring import BM25, CollectionStats, tf_weight
from .weights import BoolWeight, SegmentScorer, TermWeight, Weight, merged_ids

SAFETY = 1e-9  # relative slack on bounds: a sum in another order may round differently
# a segment whose query lists hold fewer postings is scored exhaustively: below this, the
# fixed cost of two passes and the exact count exceeds scoring every posting (measured on
# Reuters-21578 ×10, whose segments hold about 82k paragraphs each: see the README)
PRUNE_FROM = 60_000
# ... but from this many when the segments already collected give the threshold (no first
# pass): measured on Reuters-21578 ×10 in 14 segments (see the README)
PRUNE_KNOWN_FROM = 20_000
PRUNE_SHARE = 0.25  # ... and so is one whose candidates hold more paragraphs than this share
# ... and whose essential lists hold more than this share are bounded per posting
PER_POSTING = PRUNE_SHARE
# a conjunction with fewer candidates scores them all (and counts them at once)
CONJUNCTION_FROM = 5_000
FIRST_SCORED = 64  # ... otherwise the best-bounded are scored first (at least 2k)
# a list of postings holding more than this many times the kept documents looks them up in
# itself rather than reading the mask at every posting
LOOKUP_SHARE = 8


@dataclass(frozen=True)
class Plan:
    """A query pruning can handle: documents matching all `required` words (or, with none,
    any `optional` one), passing `filters` and no `banned` filter or `excluded` word; the
    score is the sum of the matched positive words' contributions, times `scale`."""

    required: tuple[TermWeight, ...]
    optional: tuple[TermWeight, ...]
    excluded: tuple[TermWeight, ...]
    filters: tuple[FilterWeight, ...]
    banned: tuple[FilterWeight, ...]
    scale: float

    @property
    def positive(self) -> tuple[TermWeight, ...]:
        return self.required + self.optional


_last_plan: tuple[Weight | None, Plan | None] = (None, None)  # a search asks three times


def plan_of(weight: Weight | None) -> Plan | None:
    """The weight as a `Plan`, or None when it has a shape pruning leaves alone (the last
    one remembered: weights are immutable, and a search asks for its plan three times)."""
    global _last_plan
    last = _last_plan
    if weight is not None and last[0] is weight:
        return last[1]
    plan = _plan_of(weight)
    _last_plan = (weight, plan)
    return plan


def _plan_of(weight: Weight | None) -> Plan | None:
    if isinstance(weight, TermWeight):
        return Plan((), (weight,), (), (), (), 1.0) if weight.scale >= 0 else None
    if not isinstance(weight, BoolWeight) or weight.scale < 0:
        return None
    filters = tuple(c for c in weight.must if isinstance(c, FilterWeight))
    banned = tuple(c for c in weight.must_not if isinstance(c, FilterWeight))
    scored = [c for c in weight.must if not isinstance(c, FilterWeight)]
    excluded = [c for c in weight.must_not if not isinstance(c, FilterWeight)]
    if not all(_word(c) for c in (*weight.should, *excluded)):
        return None
    if len(scored) == 1 and isinstance(scored[0], BoolWeight) and not weight.should:
        inner = _plan_of(scored[0])  # a query under filters: BoolWeight(must=(query, filter))
        if inner is None:
            return None
        return Plan(inner.required, inner.optional, inner.excluded + tuple(excluded),
                    inner.filters + filters, inner.banned + banned, inner.scale * weight.scale)
    if not all(_word(c) for c in scored) or not (scored or weight.should):
        return None
    return Plan(tuple(scored), tuple(weight.should), tuple(excluded), filters, banned,
                weight.scale)


def _word(weight: Weight) -> bool:
    return (isinstance(weight, TermWeight) and weight.scale >= 0
            and all(w >= 0 for _, w in weight.fields) and all(w >= 0 for w in weight.weights))


def applies(weight: Weight | None, params: BM25) -> bool:
    """Whether `run` can prune this weight (BM25's tf weight must rise with tf and fall with
    length: k1 ≥ 0 and 0 ≤ b ≤ 1)."""
    return params.k1 >= 0 and 0 <= params.b <= 1 and plan_of(weight) is not None


def prunable_collectors(collectors: Sequence[Collector]) -> bool:
    """A top-k by score and a count, nothing else."""
    if len(collectors) != 2:
        return False
    top, count = collectors
    return type(top) in (TopK, BestPerArticle) and type(count) is Count and (
        count.articles == (type(top) is BestPerArticle))


def collected(scorer: SegmentScorer, weight: Weight) -> Postings:
    """A scorer's matches for `weight`, filtered (live, metadata) and collapsed (title-only)."""
    seg = scorer.seg
    live = filter_mask(seg)
    found = scorer.collapsed(weight, live)
    if found is not None:  # an OR of words: title matches not spread over paragraphs
        return found
    docs, scores = apply_mask(live, *scorer.evaluate(weight))
    if scorer.title_hit and len(docs):
        docs, scores = collapse_title_only(seg, docs, scores, scorer.text_hits)
    return docs, scores


def run_pruned(segments: Sequence[Segment], stats: CollectionStats, weight: Weight,
               params: BM25, collectors: Sequence[Collector]) -> list:
    """`ranking.run` for a prunable weight and collectors: the same fruits, merged (the count
    `Deferred` when a segment was pruned: its exact total is counted when first read)."""
    plan = plan_of(weight)
    assert plan is not None
    top, count = collectors
    k = top.k
    tops, counts = [], []
    best = np.zeros(0)  # scores of the k best so far, over the segments collected
    for ordinal, seg in enumerate(segments):
        if plan.required:  # a conjunction: every match found from the rarest word, exactly
            cands = conjunction(seg, plan)
            found = None
            if len(cands) >= CONJUNCTION_FROM and not plan.optional:
                found = _SegmentPruner(seg, stats, weight, plan, params).best_of(
                    cands, top, ordinal, k)
            if found is None:  # every candidate scored: every match, counted now
                docs, scores = (collected(SetScorer(seg, stats, params, cands), weight)
                                if len(cands) else EMPTY)
                counts.append(count.collect(ordinal, seg, docs, scores))
            else:
                docs, scores = found
                counts.append(partial(_count_all, seg, stats, weight, params, count,
                                      ordinal, cands))
            tops.append(top.collect(ordinal, seg, docs, scores))
            best = _best(best, tops[-1].scores, k)
            continue
        theta = float(np.partition(best, len(best) - k)[len(best) - k]) if len(best) >= k \
            else -np.inf
        least = PRUNE_FROM if theta == -np.inf else min(PRUNE_FROM, PRUNE_KNOWN_FROM)
        pruner = (_SegmentPruner(seg, stats, weight, plan, params)
                  if _most_postings(seg, plan) >= least else None)
        pruned = (pruner.top(top, ordinal, k, theta)
                  if pruner is not None and pruner.postings >= least else None)
        if pruned is None:  # cheaper to score every posting than to prune
            docs, scores = collected(SegmentScorer(seg, stats, params), weight)
            fruit = top.collect(ordinal, seg, docs, scores)
            counts.append(count.collect(ordinal, seg, docs, scores))
        else:
            assert pruner is not None
            fruit = top.collect(ordinal, seg, *pruned)
            counts.append(partial(pruner.count, count.articles))  # counted when read
        tops.append(fruit)
        best = _best(best, fruit.scores, k)
    return [top.merge(tops), count.merge(counts)]


def _count_all(seg: Segment, stats: CollectionStats, weight: Weight, params: BM25,
               count: Count, ordinal: int, cands: np.ndarray) -> int:
    """A conjunction's exact count: every candidate scored (when the total is read)."""
    return count.collect(ordinal, seg, *collected(SetScorer(seg, stats, params, cands),
                                                  weight))


def _best(best: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """The k best of two sets of scores."""
    best = np.concatenate([best, scores])
    return np.partition(best, len(best) - k)[len(best) - k:] if len(best) > k else best


def _most_postings(seg: Segment, plan: Plan) -> int:
    """A bound of `_SegmentPruner.postings` read from the segment's size alone (no term
    looked up): every list of a word holds at most one block per 128 documents."""
    lists = sum(len(leaf.terms) * len(leaf.fields) for leaf in plan.positive)
    return lists * POSTING_BLOCK * -(-max(seg.n_paragraphs, seg.n_articles) // POSTING_BLOCK)


class _MaskScorer(SegmentScorer):
    """A `SegmentScorer` that sees only the postings of some paragraphs (and articles)."""

    def __init__(self, seg: Segment, stats: CollectionStats, params: BM25,
                 paragraphs: np.ndarray, articles: np.ndarray) -> None:
        super().__init__(seg, stats, params)
        self._keep = {"text": paragraphs, "title": articles}
        self._ids: dict[str, np.ndarray] = {}  # each mask's ids, once a long list asks

    def restrict(self, fld: str, docs: np.ndarray, *columns: np.ndarray) -> tuple:
        """The postings of the kept documents: the mask read at each posting, or (a list
        far longer than the kept documents) each kept document looked up in the list."""
        docs, mask = np.asarray(docs), self._keep[fld]
        rows = None
        if len(docs) * LOOKUP_SHARE >= len(mask):
            ids = self._ids.get(fld)
            if ids is None:
                ids = self._ids[fld] = mask.nonzero()[0]
            if len(ids) * LOOKUP_SHARE < len(docs):
                wanted = ids.astype(docs.dtype, copy=False)
                at = docs.searchsorted(wanted)
                inside = at < len(docs)
                at = at[inside]
                rows = at[docs[at] == wanted[inside]]
        if rows is None:
            rows = mask[docs].nonzero()[0]
        return (docs[rows], *(np.asarray(c)[rows] for c in columns))


@dataclass
class _List:
    """One query list of a segment (a word's term on one field) with its blocks' bounds."""

    leaf: TermWeight
    fld: str
    tid: int
    last: np.ndarray  # last paragraph each block reaches (title: its last article's)
    bound: np.ndarray  # upper bound of the list's contribution in each block
    weight: float  # bound of its contribution per unit of tf weight
    at: np.ndarray | None = None  # its block in each interval (len(last): none)

    @property
    def top(self) -> float:
        return float(self.bound.max())


class _SegmentPruner:
    """One segment's query lists with their block bounds, the two passes, the exact count."""

    def __init__(self, seg: Segment, stats: CollectionStats, weight: Weight, plan: Plan,
                 params: BM25) -> None:
        self.seg, self.stats, self.weight, self.plan, self.params = (seg, stats, weight, plan,
                                                                     params)
        # the lists as (leaf, field, its weight × idf, term id, first and end block)
        self._spans = []
        blk = {fld: seg.columns[f"{fld}.blk"] for fld in ("text", "title")}
        for leaf in plan.positive:
            for fld, fw in leaf.fields:
                for i, (term, w) in enumerate(zip(leaf.terms, leaf.weights)):
                    tid = seg.term_id(term)
                    if tid < 0:
                        continue
                    idf = leaf.idfs[fld][0] if leaf.blended else w * leaf.idfs[fld][i]
                    lo, hi = int(blk[fld][tid]), int(blk[fld][tid + 1])
                    if lo < hi:
                        self._spans.append((leaf, fld, idf * fw * leaf.scale, tid, lo, hi))
        self.postings = POSTING_BLOCK * sum(hi - lo for *_, lo, hi in self._spans)
        self._titles: np.ndarray | None = None

    @cached_property
    def lists(self) -> list[_List]:
        """The lists with their blocks' bounds (read only for a segment worth pruning)."""
        seg, cols = self.seg, self.seg.columns
        avgdl = SegmentScorer(seg, self.stats, self.params).avgdl
        out = []
        for leaf, fld, factor, tid, lo, hi in self._spans:
            last = np.asarray(cols[f"{fld}.blast"][lo:hi], dtype=np.int64)
            if fld == "title":
                last = seg.art_first64[last + 1] - 1
            weight = factor * self.plan.scale * (1 + SAFETY)
            bound = weight * tf_weight(cols[f"{fld}.bmax_tf"][lo:hi],
                                       cols[f"{fld}.bmin_len"][lo:hi], avgdl(fld),
                                       self.params.k1, self.params.b)
            out.append(_List(leaf, fld, tid, last, bound, weight))
        return out

    def _avgdl(self, fld: str) -> float:
        return SegmentScorer(self.seg, self.stats, self.params).avgdl(fld)

    def intervals(self) -> tuple[np.ndarray, np.ndarray]:
        """(last paragraph, score bound) of each interval between block boundaries; notes
        each list's block in each interval."""
        n = self.seg.n_paragraphs
        ends = np.unique(np.clip(np.concatenate([q.last for q in self.lists] + [[n - 1]]),
                                 0, n - 1))
        starts = np.r_[0, ends[:-1] + 1]
        bound = np.zeros(len(starts))
        covered = {id(leaf): np.zeros(len(starts), dtype=bool) for leaf in self.plan.required}
        for q in self.lists:
            q.at = np.searchsorted(q.last, starts)
            inside = q.at < len(q.last)
            bound[inside] += q.bound[q.at[inside]]
            if id(q.leaf) in covered:
                covered[id(q.leaf)] |= inside
        for hit in covered.values():
            bound[~hit] = -np.inf  # a required word has no posting there
        return ends, bound

    # -- the two passes ------------------------------------------------------------------------

    def top(self, top: Collector, ordinal: int, k: int, theta: float) -> Postings | None:
        """Matches holding the segment's k best (by `top`): exact scores, fewer postings
        (None: too many candidates to be worth it)."""
        if not self.lists or not self.seg.n_paragraphs:
            return EMPTY
        ends, bound = self.intervals()
        if theta == -np.inf:  # first pass (unless earlier segments gave a threshold): the
            theta = self._threshold(top, ordinal, k)  # best blocks of the top lists
        # second pass: the candidates, scored exactly (unless they are not few)
        essential = self._essential(theta)
        if POSTING_BLOCK * sum(len(q.last) for q in essential) > PER_POSTING * self.postings:
            candidates = self._co_occurring(theta)  # words that must meet in a paragraph
        else:
            candidates = self._candidates(essential, bound >= theta, ends)
        if candidates is None or np.count_nonzero(candidates) > PRUNE_SHARE * self.postings:
            return None
        return self._score(candidates)

    def _co_occurring(self, theta: float) -> np.ndarray | None:
        """Candidates bounded per posting, for an OR whose paragraphs reach θ only through
        several of its words (each word's text and the titles alone stay below θ). A
        paragraph's bound is the sum of its essential text lists' block bounds, its
        article's title scores, and the largest contributions of the text lists that cannot
        reach θ together with the titles (never read); an article whose titles (and those
        lists) can reach θ is a candidate whole. The shorter lists are added in a dense
        array kept zero between queries; the longest is looked up, not added, and its own
        paragraphs are checked only if it can reach θ without the other lists. None: a
        required word (the rarest word's postings are the candidates then)."""
        if self.plan.required:
            return None
        seg = self.seg
        first = seg.art_first64
        pieces = []  # (articles, bounded title scores) of each title list
        for q in self.lists:
            if q.fld == "title":
                docs, tf = seg.fields["title"].postings(q.tid)
                pieces.append((docs, q.weight * self._tf_weights("title", docs, tf)))
        arts, titles = union(pieces) if pieces else (EMPTY[0], EMPTY[1])
        most = float(titles.max()) if len(titles) else 0.0
        extra, essential = 0.0, []  # text lists that cannot reach θ with the titles: their
        for q in sorted((q for q in self.lists if q.fld == "text"), key=lambda q: q.top):
            if not essential and extra + q.top + most < theta:  # largest contributions
                extra += q.top
            else:
                essential.append(q)
        marks = np.zeros(seg.n_paragraphs, dtype=bool)
        arts = np.asarray(arts, dtype=np.int64)
        spans = first[arts + 1] - first[arts]
        reach = (titles + extra >= theta) & (spans > 0)  # titles alone: whole (`_score`)
        marks[first[arts[reach]]] = True
        if not essential:
            return marks
        lists = sorted(((np.asarray(seg.fields["text"].postings(q.tid)[0]), q)
                        for q in essential), key=lambda item: len(item[0]))
        (longest, top_list), shorter = lists[-1], lists[:-1]
        titled = expand_ranges(first[arts], spans)  # paragraphs of title-matched articles
        with _scratch(seg) as sums:  # zero everywhere, and left so
            sums[titled] = np.repeat(titles, spans)
            for docs, q in shorter:
                sums[docs] += _per_posting(q.bound, len(docs))
            longest_bound = _per_posting(top_list.bound, len(longest))
            for docs, _ in shorter:
                at = longest.searchsorted(docs)
                at[at == len(longest)] = 0
                also = np.where(longest[at] == docs, longest_bound[at], 0.0)
                marks[docs[sums[docs] + also + extra >= theta]] = True
            if top_list.top + extra + most >= theta:
                marks[longest[sums[longest] + longest_bound + extra >= theta]] = True
            for docs, _ in shorter:
                sums[docs] = 0.0
            sums[titled] = 0.0
        return marks

    def _tf_weights(self, fld: str, docs: np.ndarray, tf: np.ndarray) -> np.ndarray:
        return tf_weight(tf, self.seg.fields[fld].length[docs], self._avgdl(fld),
                         self.params.k1, self.params.b)

    def best_of(self, cands: np.ndarray, top: Collector, ordinal: int,
                k: int) -> Postings | None:
        """Matches among a conjunction's candidates (every paragraph holding its words)
        holding the segment's k best by `top`: each candidate bounded by the sum of its
        lists' contributions (tf and length read per posting, plus slack: its score, so few
        are scored beyond the k best); the best-bounded scored first (with every
        candidate of an article whose title holds all the words: only there can the
        title-only collapse drop one), then the others whose bound reaches the k-th best
        (None: too few matches among the first)."""
        seg = self.seg
        bound = np.zeros(len(cands))
        ids = {"text": cands.astype(np.int32), "title": seg.para_article[cands]}
        for q in self.lists:  # its very tf and length: each list's contribution (+ slack)
            docs, tf = seg.fields[q.fld].postings(q.tid)
            mine = ids[q.fld].astype(docs.dtype, copy=False)
            at, found = lookup(docs, mine)
            held = np.flatnonzero(found)
            bound[held] += q.weight * self._tf_weights(q.fld, mine[held], tf[at[held]])
        titled = None  # articles whose title holds every word
        for leaf in self.plan.required:
            arts = [np.asarray(seg.fields["title"].postings(q.tid)[0])
                    for q in self.lists if q.leaf is leaf and q.fld == "title"]
            held = merged_ids(arts) if arts else EMPTY[0]
            titled = held if titled is None else np.intersect1d(titled, held,
                                                                assume_unique=True)
        done = np.zeros(len(cands), dtype=bool)
        if titled is not None and len(titled):
            done = np.isin(seg.para_article[cands], titled)
        first_n = min(len(cands), max(FIRST_SCORED, 2 * k))
        done[np.argpartition(-bound, first_n - 1)[:first_n]] = True
        docs, scores = collected(SetScorer(seg, self.stats, self.params, cands[done]),
                                 self.weight)
        fruit = top.collect(ordinal, seg, docs, scores)
        if len(fruit.scores) < k:
            return None
        theta = float(fruit.scores.min())
        rest = cands[~done & (bound >= theta)]
        if not len(rest):
            return docs, scores
        more, more_scores = collected(SetScorer(seg, self.stats, self.params, rest),
                                      self.weight)
        docs, scores = np.concatenate([docs, more]), np.concatenate([scores, more_scores])
        order = np.argsort(docs, kind="stable")
        return docs[order], scores[order]

    def _threshold(self, top: Collector, ordinal: int, k: int) -> float:
        """The k-th best score among the best blocks of the lists with the highest bounds."""
        blocks = -(-2 * k // POSTING_BLOCK)
        marks = np.zeros(self.seg.n_paragraphs, dtype=bool)
        seen = 0
        for q in sorted(self.lists, key=lambda q: -q.top):
            chosen = np.sort(np.argsort(-q.bound, kind="stable")[:blocks])
            seen += self._mark(marks, q, self._block_docs(q, chosen))
            if seen >= 2 * k:
                break
        docs, scores = self._score(marks)
        fruit = top.collect(ordinal, self.seg, docs, scores)
        return float(fruit.scores.min()) if len(fruit.scores) >= k else -np.inf

    def _essential(self, theta: float) -> list[_List]:
        """Lists every paragraph scoring θ or more is in one of (MaxScore: together, the
        others' bounds stay below θ; with required words, the rarest one's lists)."""
        if self.plan.required:
            leaf = min(self.plan.required, key=lambda w: sum(
                len(q.last) for q in self.lists if q.leaf is w))
            return [q for q in self.lists if q.leaf is leaf]
        by_top = sorted(self.lists, key=lambda q: q.top)
        reach = np.cumsum([q.top for q in by_top])
        return [q for q, r in zip(by_top, reach) if r >= theta]

    def _candidates(self, essential: list[_List], live: np.ndarray,
                    ends: np.ndarray) -> np.ndarray:
        """Paragraphs of the essential lists in intervals whose bound reaches θ (`live`)."""
        marks = np.zeros(self.seg.n_paragraphs, dtype=bool)
        for q in essential:
            chosen = np.zeros(len(q.last), dtype=bool)
            chosen[q.at[live & (q.at < len(q.last))]] = True
            if not chosen.any():
                continue
            docs = self._block_docs(q, np.flatnonzero(chosen))
            if q.fld == "text":  # a paragraph in a hopeless interval is no candidate
                docs = docs[live[np.searchsorted(ends, docs)]]
            self._mark(marks, q, docs)
        return marks

    def _block_docs(self, q: _List, chosen: np.ndarray) -> np.ndarray:
        docs = self.seg.fields[q.fld].postings(q.tid)[0]
        start = chosen * POSTING_BLOCK
        rows = expand_ranges(start, np.minimum(len(docs) - start, POSTING_BLOCK))
        return np.asarray(docs)[rows]

    def _mark(self, marks: np.ndarray, q: _List, docs: np.ndarray) -> int:
        """Mark a list's documents as candidate paragraphs (a title's: its article's)."""
        if q.fld == "text":
            marks[docs] = True
        else:
            first = self.seg.art_first64
            arts = np.asarray(docs, dtype=np.int64)
            marks[expand_ranges(first[arts], first[arts + 1] - first[arts])] = True
        return len(docs)

    def _score(self, marks: np.ndarray) -> Postings:
        """Exact matches among marked paragraphs. An article whose title matches is taken
        whole, so the title-only collapse and best-per-article decide as on the whole
        segment; elsewhere a paragraph's score depends on its own postings alone."""
        seg = self.seg
        first = seg.art_first64
        arts = np.zeros(seg.n_articles, dtype=bool)
        arts[seg.para_article[np.flatnonzero(marks)]] = True
        whole = arts & self._titled()
        if whole.any():
            wide = np.flatnonzero(whole)
            marks[expand_ranges(first[wide], first[wide + 1] - first[wide])] = True
        scorer = _MaskScorer(seg, self.stats, self.params, marks, arts)
        return collected(scorer, self.weight)

    def _titled(self) -> np.ndarray:
        """Articles whose title holds a positive word of the query."""
        if self._titles is None:
            self._titles = np.zeros(self.seg.n_articles, dtype=bool)
            for q in self.lists:
                if q.fld == "title":
                    self._titles[self.seg.fields["title"].postings(q.tid)[0]] = True
        return self._titles

    # -- the exact count -----------------------------------------------------------------------

    def _marks(self, leaf: TermWeight) -> tuple[np.ndarray, np.ndarray]:
        """(paragraphs the word matches, those whose own text it matches)."""
        seg = self.seg
        text = np.zeros(seg.n_paragraphs, dtype=bool)
        titled = []
        for fld, _ in leaf.fields:
            for term in leaf.terms:
                tid = seg.term_id(term)
                if tid >= 0:
                    docs = seg.fields[fld].postings(tid)[0]
                    if fld == "text":
                        text[docs] = True
                    else:
                        titled.append(np.asarray(docs, dtype=np.int64))
        if not titled:
            return text, text
        arts = np.concatenate(titled)
        first = seg.art_first64
        marks = text.copy()
        marks[expand_ranges(first[arts], first[arts + 1] - first[arts])] = True
        return marks, text

    def count(self, articles: bool) -> int:
        """How many paragraphs (articles) the exhaustive search would count."""
        seg, plan = self.seg, self.plan
        said = np.zeros(seg.n_paragraphs, dtype=bool)
        match = None
        for leaf in plan.required:
            marks, text = self._marks(leaf)
            said |= text
            match = marks if match is None else match & marks
        for leaf in plan.optional:
            marks, text = self._marks(leaf)
            said |= text
            if not plan.required:
                match = marks if match is None else match | marks
        assert match is not None
        live = filter_mask(seg)
        if live is not None:
            match &= live
        owner = seg.para_article
        for f in plan.filters:
            match &= f.articles(seg)[owner]
        for f in plan.banned:
            match &= ~f.articles(seg)[owner]
        for leaf in plan.excluded:
            match &= ~self._marks(leaf)[0]
        if articles:
            return _articles_of(seg, match).size
        shown = match & said
        hidden = match & ~shown  # matched through a title alone: one per article, if
        if not hidden.any():  # the article has no paragraph matching in its text
            return int(np.count_nonzero(shown))
        lone = np.setdiff1d(_articles_of(seg, hidden), _articles_of(seg, shown),
                            assume_unique=True)
        return int(np.count_nonzero(shown)) + len(lone)


_SCRATCH: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # segment → (lock, array)
_SCRATCH_LOCK = threading.Lock()


@contextmanager
def _scratch(seg: Segment) -> Iterator[np.ndarray]:
    """A float per paragraph of the segment, all zero, to be left all zero: one array kept per
    segment (a fresh one costs its pages' faults on every query), or a new one while another
    thread holds it."""
    with _SCRATCH_LOCK:
        kept = _SCRATCH.get(seg)
        if kept is None:
            kept = _SCRATCH[seg] = (threading.Lock(), np.zeros(seg.n_paragraphs))
    lock, array = kept
    if not lock.acquire(blocking=False):
        yield np.zeros(seg.n_paragraphs)
        return
    try:
        yield array
    except BaseException:
        array[:] = 0.0  # interrupted midway: zero it whole
        raise
    finally:
        lock.release()


def _per_posting(block_bounds: np.ndarray, n: int) -> np.ndarray:
    """Each posting's bound: its block's."""
    return np.repeat(block_bounds, POSTING_BLOCK)[:n]


def _articles_of(seg: Segment, mark: np.ndarray) -> np.ndarray:
    """The sorted articles with a marked paragraph."""
    arts = seg.para_article[np.flatnonzero(mark)]
    if len(arts) < 2:
        return arts
    return arts[np.r_[True, arts[1:] != arts[:-1]]]
