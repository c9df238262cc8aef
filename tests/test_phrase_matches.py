"""Exact phrases (slop 0) are matched fewest positions first, reading a later word's
positions only in the paragraphs still holding a possible start (`postings._exact_phrase`):
over random indexes and phrases (repeated words, every segment, with and without `within`)
the matches and their frequencies are those of reading every word's positions
(`postings._windowed_phrase`), and those of the paragraphs' stored positions."""

from __future__ import annotations

import random

import numpy as np

from searchlib.index.postinglists import FieldPostings
from searchlib.ranking import postings

from .test_pruning import VOCAB, index  # noqa: F401 (the fixture)


def _by_positions(seg, terms: tuple[str, ...], offsets: tuple[int, ...]) -> dict[int, int]:
    """Phrase frequency per paragraph, from each term's positions one paragraph at a time."""
    fp = seg.fields["text"]
    where: list[dict[int, set[int]]] = []
    for term in terms:
        tid = seg.term_id(term)
        docs, _ = fp.postings(tid)
        pos, lens = fp.positions(tid, np.arange(len(docs)))
        split = np.split(pos, np.cumsum(lens)[:-1]) if len(docs) else []
        where.append({int(d): set(p.tolist()) for d, p in zip(docs, split)})
    out = {}
    for doc in set.intersection(*(set(w) for w in where)):
        starts = set.intersection(*({p - off for p in w[doc]}
                                    for w, off in zip(where, offsets)))
        if starts:
            out[doc] = len(starts)
    return out


def test_exact_phrases_match_as_reading_every_position(index):  # noqa: F811
    rng = random.Random(5)
    checked = 0
    for _ in range(150):
        words = [VOCAB[min(int(rng.paretovariate(0.5)) - 1, len(VOCAB) - 1)]
                 for _ in range(rng.randint(2, 4))]
        if rng.random() < 0.2:
            words.append(words[0])  # a repeated word at another place
        terms = tuple(words)
        offsets = tuple(range(len(terms)))
        if rng.random() < 0.2:  # a gap (a stopword left out)
            offsets = offsets[:1] + tuple(o + 1 for o in offsets[1:])
        for seg in index.snapshot.segments:
            if min(seg.term_id(t) for t in terms) < 0:
                continue
            within = None
            if rng.random() < 0.3:
                within = np.flatnonzero(np.random.default_rng(checked).random(
                    seg.n_paragraphs) < 0.5).astype(np.int64)
            docs, freq = postings.phrase_matches(seg, "text", terms, offsets, 0, within)
            cands, rows = postings.phrase_candidates(seg, "text", terms, within)
            want = (postings._windowed_phrase(seg, "text", terms, offsets, 0, cands, rows)
                    if len(cands) else (cands, cands))
            assert np.array_equal(docs, want[0]) and np.array_equal(freq, want[1]), terms
            by_positions = _by_positions(seg, terms, offsets)
            if within is not None:
                by_positions = {d: f for d, f in by_positions.items() if d in set(within)}
            assert dict(zip(docs.tolist(), freq.tolist())) == by_positions, terms
            checked += 1
    assert checked > 100


def test_a_sparse_phrase_reads_few_positions_of_its_common_word(index, monkeypatch):  # noqa: F811
    """A common word after a rarer one: its positions are read only where the rarer word's
    possible starts are left, not in every paragraph holding both."""
    seg = max(index.snapshot.segments, key=lambda s: s.n_paragraphs)
    fp = seg.fields["text"]
    sizes = np.diff(np.asarray(fp.ptr))
    common = seg.vocab[int(np.argmax(sizes))]
    read: dict[str, int] = {}
    original = FieldPostings.positions

    def spy(self, tid, rows):
        read[seg.vocab[tid]] = read.get(seg.vocab[tid], 0) + len(rows)
        return original(self, tid, rows)

    monkeypatch.setattr(FieldPostings, "positions", spy)
    fewer = 0
    for rare in VOCAB:
        if rare == common or seg.term_id(rare) < 0:
            continue
        terms = (rare, common, rare)
        cands, _ = postings.phrase_candidates(seg, "text", terms)
        want = _by_positions(seg, terms, (0, 1, 2))
        read.clear()
        docs, freq = postings.phrase_matches(seg, "text", terms, (0, 1, 2), 0)
        assert dict(zip(docs.tolist(), freq.tolist())) == want
        assert read.get(common, 0) <= len(cands)
        fewer += read.get(common, 0) < len(cands)
    assert fewer > 0  # some phrase left paragraphs holding both words unread
