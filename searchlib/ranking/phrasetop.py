"""The k best paragraphs of a phrase, reading positions only for those that can be among them.

A phrase of common words (`"company said"`) has tens of thousands of paragraphs holding all
its words, and finding which hold them in order means reading all their positions. Its
frequency in a paragraph is at most the smallest tf of its words (slop 0; the first word's
otherwise), and BM25 rises with frequency, so the score at that frequency bounds each
candidate, computed from the decoded postings alone. The phrase is matched exactly in the
candidates with the best bounds (and every paragraph of an article whose title holds the
phrase: the title-only collapse must see them all); their k-th best score θ leaves out every
candidate whose bound is below it, and the phrase is matched exactly in the others. Scores
come from the ordinary scorer restricted to those paragraphs (`conjunction.SetScorer`), so
they are the very scores of exhaustive scoring; the exact total is counted when first read
(`collectors.Deferred`), from every candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np

from ..index.segment import Segment, expand_ranges
from .collectors import Collector, Count, TopK
from .conjunction import SetScorer
from .postings import phrase_candidates
from .pruning import SAFETY, collected
from .scoring import BM25, CollectionStats, avg_length, leaf_score
from .weights import PhraseWeight, SegmentScorer, Weight

# a segment where a word of the phrase has fewer postings is matched whole: there the
# bounds cost more than the positions they spare (measured on Reuters-21578 ×10)
PHRASE_FROM = 10_000
FIRST = 64  # candidates with the best bounds matched first (at least 2k)


def prunable(weight: Weight | None, params: BM25) -> bool:
    """A phrase alone, matched in the paragraphs' text, with BM25's tf weight rising with
    frequency and falling with length (k1 ≥ 0, 0 ≤ b ≤ 1)."""
    return (isinstance(weight, PhraseWeight) and weight.scale >= 0
            and all(w >= 0 for _, w in weight.fields)
            and any(f == "text" for f, _ in weight.fields)
            and params.k1 >= 0 and 0 <= params.b <= 1)


def applies(weight: Weight | None, params: BM25, collectors: Sequence[Collector]) -> bool:
    """A prunable phrase, collected as a top k of paragraphs by score and their count."""
    return (prunable(weight, params) and len(collectors) == 2
            and type(collectors[0]) is TopK and type(collectors[1]) is Count
            and not collectors[1].articles)


def run_phrase(segments: Sequence[Segment], stats: CollectionStats, weight: PhraseWeight,
               params: BM25, collectors: Sequence[Collector]) -> list:
    """`ranking.run` for a phrase and a top k: the same fruits (the count `Deferred` where
    positions were read for some candidates only)."""
    top, count = collectors
    tops, counts = [], []
    for ordinal, seg in enumerate(segments):
        found = _best(seg, stats, weight, params, top.k)
        if found is None:  # a word too rare for bounds to pay: match the phrase everywhere
            docs, scores = collected(SegmentScorer(seg, stats, params), weight)
            counts.append(count.collect(ordinal, seg, docs, scores))
        else:
            docs, scores, every = found
            counts.append(count.collect(ordinal, seg, docs, scores) if every else
                          partial(_count, seg, stats, weight, params, count, ordinal))
        tops.append(top.collect(ordinal, seg, docs, scores))
    return [top.merge(tops), count.merge(counts)]


def _count(seg: Segment, stats: CollectionStats, weight: PhraseWeight, params: BM25,
           count: Count, ordinal: int) -> int:
    return count.collect(ordinal, seg, *collected(SegmentScorer(seg, stats, params), weight))


def _best(seg: Segment, stats: CollectionStats, weight: PhraseWeight, params: BM25,
          k: int) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """(matches of the segment holding its k best, exactly scored; whether they are all its
    matches). None: a word of the phrase is too rare for bounds to pay."""
    fp = seg.fields["text"]
    tids = [seg.term_id(t) for t in weight.terms]
    if min(tids) < 0 or min(fp.df(t) for t in tids) < PHRASE_FROM:
        return None
    cands, rows = phrase_candidates(seg, "text", weight.terms)
    fields = dict(weight.fields)
    whole = np.zeros(0, dtype=np.int64)  # paragraphs of live articles whose title matches
    arts, scores = np.zeros(0, dtype=np.int64), np.zeros(0)
    if "title" in fields:
        arts, scores, _ = weight.field_scores(SegmentScorer(seg, stats, params), "title",
                                              fields["title"] * weight.scale)
        if len(arts) and seg.deleted is not None:
            alive = ~seg.deleted[arts]
            arts, scores = arts[alive], scores[alive]
        first = seg.art_first64
        whole = expand_ranges(first[arts], first[arts + 1] - first[arts])
    cands = cands.astype(np.int64)
    if not len(cands) or len(cands) < PHRASE_FROM // 4:  # every candidate: all matches
        return (*_matched(seg, stats, weight, params, np.union1d(cands, whole)), True)
    tfs = [fp.postings(tid)[1][at] for tid, at in zip(tids, rows)]
    most = np.minimum.reduce(tfs) if weight.slop == 0 else tfs[0]
    bound = leaf_score(weight.idfs["text"], most, fp.length[cands], avg_length(stats, "text"),
                       params, fields["text"] * weight.scale) * (1 + SAFETY)
    done = np.zeros(len(cands), dtype=bool)  # candidates matched already (or in `whole`)
    if len(arts):
        owner = seg.para_article[cands]
        at = np.searchsorted(arts, owner)
        at[at == len(arts)] = 0
        done = arts[at] == owner
        bound[done] += scores[at[done]] * (1 + SAFETY)
    live = seg.live_paragraphs
    if live is not None:
        keep = live[cands]
        cands, bound, done = cands[keep], bound[keep], done[keep]
    # the best-bounded candidates first, with the title-matched articles whole ...
    first_n = min(len(cands), max(FIRST, 2 * k))
    best = np.argpartition(-bound, first_n - 1)[:first_n] if first_n else done[:0]
    done[best] = True
    docs, scores = _matched(seg, stats, weight, params, np.union1d(cands[best], whole))
    if len(scores) < k:  # too few matches there: every candidate
        return (*_matched(seg, stats, weight, params, np.union1d(cands, whole)), True)
    # ... then the others that can reach their k-th best score: articles without a title
    # match, whose matches the collapse keeps as they are
    theta = np.partition(scores, len(scores) - k)[len(scores) - k]
    more, more_scores = _matched(seg, stats, weight, params, cands[~done & (bound >= theta)])
    if len(more):
        docs, scores = np.concatenate([docs, more]), np.concatenate([scores, more_scores])
        order = np.argsort(docs, kind="stable")
        docs, scores = docs[order], scores[order]
    return docs, scores, False


def _matched(seg: Segment, stats: CollectionStats, weight: PhraseWeight, params: BM25,
             paragraphs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact matches (scored, collapsed) among some paragraphs (sorted, unique)."""
    if not len(paragraphs):
        return paragraphs, np.zeros(0)
    return collected(SetScorer(seg, stats, params, paragraphs), weight)
