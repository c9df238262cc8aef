"""Exact matches of a conjunction of words, found from the rarest word instead of by merging.

A paragraph matches a word through its own text or through its article's title. Exhaustive
scoring turns every list into paragraph postings (a title list spread over its articles'
paragraphs), scores them all and intersects. Here the rarest word's paragraphs are the
candidates, and each other word only checks them: a candidate is looked up in the word's
text lists, and its article in the word's title lists (`searchsorted` of the shorter side in
the longer), so no long list is scored or spread. Live, filtered candidates that every
required word holds are exactly the paragraphs exhaustive scoring would match (before NOT
words); the ordinary `SegmentScorer`, its lists cut to those paragraphs and their articles,
then gives their very scores, and the title-only collapse decides on the same paragraphs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..index.segment import Segment, expand_ranges
from .postings import lookup
from .scoring import BM25, CollectionStats
from .weights import SegmentScorer, TermWeight, merged_ids

if TYPE_CHECKING:  # pruning imports this module
    from .pruning import Plan

# a list this many times longer than the ids it is cut to looks each id up in itself
# instead of looking each of its postings up in the ids
LOOKUP_SHARE = 8
DENSE_NS = 1.0  # scale of the dense marks' cost against lookups' (tests force either way)


def _lists(seg: Segment, leaf: TermWeight) -> list[tuple[str, np.ndarray]]:
    """The word's decoded (field, documents) lists in this segment."""
    out = []
    for fld, _ in leaf.fields:
        fp = seg.fields[fld]
        for term in leaf.terms:
            tid = seg.term_id(term)
            if tid >= 0 and fp.df(tid):
                out.append((fld, fp.postings(tid)[0]))
    return out


def _cost(seg: Segment, leaf: TermWeight) -> float:
    """Paragraphs the word matches at most (a title posting as its article's paragraphs on
    average), read from the offsets without decoding."""
    spread = seg.n_paragraphs / max(seg.n_articles, 1)
    total = 0.0
    for fld, _ in leaf.fields:
        fp = seg.fields[fld]
        for term in leaf.terms:
            tid = seg.term_id(term)
            if tid >= 0:
                total += fp.df(tid) * (spread if fld == "title" else 1.0)
    return total


def _found(ids: np.ndarray, pool: np.ndarray, n: int) -> np.ndarray:
    """Bool per sorted id (repeats allowed, all below `n`): is it in the sorted unique `pool`
    (same dtype)? The cheapest of three ways, by a cost model measured on this machine (ns):
    each id looked up in the pool, each posting of the pool looked up in the ids, or the pool
    marked in a dense array of `n` read at each id."""
    found = np.zeros(len(ids), dtype=bool)
    if not len(pool) or not len(ids):
        return found
    c, m = len(ids), len(pool)
    forward, backward = c * np.log2(m + 1) * 2, m * np.log2(c + 1) * 2
    dense = DENSE_NS * (n * 0.05 + m * 3.5 + c * 1.5)
    if dense < min(forward, backward):
        marks = np.zeros(n, dtype=bool)
        marks[pool] = True
        return marks[ids]
    if backward < forward:  # each posting finds its run of equal ids
        lo = ids.searchsorted(pool, side="left")
        hi = ids.searchsorted(pool, side="right")
        found[expand_ranges(lo, hi - lo)] = True
        return found
    return lookup(pool, ids)[1]


def conjunction(seg: Segment, plan: Plan) -> np.ndarray:
    """Sorted live paragraphs (int64) holding every required word of `plan` (text or title)
    and passing its filters: a superset of what the plan matches (NOT words not applied)."""
    first = seg.art_first64
    by_cost = sorted(plan.required, key=lambda leaf: _cost(seg, leaf))
    runs = []
    for fld, docs in _lists(seg, by_cost[0]):
        if fld == "text":
            runs.append(np.asarray(docs, dtype=np.int32))
        else:
            arts = np.asarray(docs, dtype=np.int64)
            runs.append(expand_ranges(first[arts], first[arts + 1] - first[arts])
                        .astype(np.int32))
    cands = merged_ids(runs) if len(runs) != 1 else runs[0]
    live = seg.live_paragraphs
    if live is not None and len(cands):
        cands = cands[live[cands]]
    owner = seg.para_article
    for f in plan.filters:
        if len(cands):
            cands = cands[f.articles(seg)[owner[cands]]]
    for f in plan.banned:
        if len(cands):
            cands = cands[~f.articles(seg)[owner[cands]]]
    for leaf in by_cost[1:]:
        if not len(cands):
            break
        held = np.zeros(len(cands), dtype=bool)
        arts = None
        for fld, docs in _lists(seg, leaf):
            if fld == "text":
                held |= _found(cands, np.asarray(docs), seg.n_paragraphs)
            else:
                if arts is None:
                    arts = owner[cands]
                held |= _found(arts, np.asarray(docs), seg.n_articles)
        cands = cands[held]
    return cands.astype(np.int64)


class SetScorer(SegmentScorer):
    """A `SegmentScorer` that sees only the postings of some paragraphs (sorted ids) and of
    their articles: each list is cut by looking the shorter side up in the longer."""

    def __init__(self, seg: Segment, stats: CollectionStats, params: BM25,
                 paragraphs: np.ndarray) -> None:
        super().__init__(seg, stats, params)
        arts = seg.para_article[paragraphs]
        if len(arts) > 1:
            new = np.empty(len(arts), dtype=bool)
            new[0] = True
            np.not_equal(arts[1:], arts[:-1], out=new[1:])
            arts = arts[new]
        self._ids = {"text": paragraphs.astype(np.int32), "title": arts}

    def within(self, fld: str) -> np.ndarray:
        return self._ids[fld]

    def restrict(self, fld: str, docs: np.ndarray, *columns: np.ndarray) -> tuple:
        ids = self._ids[fld]
        docs = np.asarray(docs)
        if len(ids) * LOOKUP_SHARE < len(docs):  # each id looked up in the list
            wanted = ids.astype(docs.dtype, copy=False)
            at = docs.searchsorted(wanted)
            inside = at < len(docs)
            at = at[inside]
            rows = at[docs[at] == wanted[inside]]
        else:
            rows = _found(docs, ids.astype(docs.dtype, copy=False),
                          self.seg.fields[fld].n_docs).nonzero()[0]
        return (docs[rows], *(np.asarray(c)[rows] for c in columns))
