"""The top k of a phrase reads positions only for the paragraphs that can be in it
(`ranking.phrasetop`): over random indexes (several segments, deletions, titles) and random
phrases (slop, repeated words, other k1/b/title_boost), the hits, scores (==) and totals
are those of exhaustive scoring."""

from __future__ import annotations

import random

import numpy as np
import pytest

from searchlib.index.postinglists import FieldPostings
from searchlib.ranking import phrasetop

from .test_pruning import VOCAB, _answer, assert_exhaustive, index  # noqa: F401 (the fixture)


@pytest.fixture(autouse=True)
def bound_small_segments(monkeypatch):
    """Bound however few candidates a segment has, and match few of them first (so the
    second round runs)."""
    monkeypatch.setattr(phrasetop, "PHRASE_FROM", 0)
    monkeypatch.setattr(phrasetop, "FIRST", 1)


def _phrase(rng: random.Random) -> str:
    def word() -> str:
        return VOCAB[min(int(rng.paretovariate(0.5)) - 1, len(VOCAB) - 1)]

    words = [word() for _ in range(rng.randint(2, 3))]
    if rng.random() < 0.15:
        words.append(words[0])  # a repeated word
    text = f'"{" ".join(words)}"'
    if rng.random() < 0.25:
        text += f"~{rng.randint(1, 3)}"
    return text


def _options(rng: random.Random) -> dict:
    options: dict = {"k": rng.choice([1, 2, 3, 10, 50]), "fuzzy": False}
    if rng.random() < 0.3:
        options.update(k1=rng.choice([0.0, 1.2, 3.0]), b=rng.choice([0.0, 0.75, 1.0]),
                       title_boost=rng.choice([0.0, 0.5, 2.0]))
    return options


def test_phrase_top_equals_exhaustive_scoring(index, monkeypatch):  # noqa: F811
    rng = random.Random(7)
    bounded = []
    real = phrasetop._best

    def spy(*args):
        out = real(*args)
        bounded.append(out is not None and not out[2])  # some candidates left unmatched
        return out

    monkeypatch.setattr(phrasetop, "_best", spy)
    for _ in range(200):
        query, options = _phrase(rng), _options(rng)
        assert_exhaustive(index, query, options, monkeypatch, module=phrasetop)
    assert sum(bounded) > 100  # most segments were bounded, not matched whole


def test_a_common_phrase_reads_positions_of_few_paragraphs(index, monkeypatch):  # noqa: F811
    seg = max(index.snapshot.segments, key=lambda s: s.n_paragraphs)
    sizes = np.diff(seg.fields["text"].ptr)
    a, b = (seg.vocab[int(t)] for t in np.argsort(-sizes)[:2])  # the two commonest words
    read = []
    original = FieldPostings.positions

    def spy(self, tid, rows):
        read.append(len(rows))
        return original(self, tid, rows)

    monkeypatch.setattr(FieldPostings, "positions", spy)
    query = f'"{a} {b}"'
    res = index.search(query, k=1, fuzzy=False)
    bounded = sum(read)
    read.clear()
    monkeypatch.setattr(phrasetop, "applies", lambda *a: False)
    full = index.search(query, k=1, fuzzy=False)
    assert [(h._ref, h.score) for h in res.hits] == [(h._ref, h.score) for h in full.hits]
    assert 0 < bounded < sum(read) / 2
    assert res.total == full.total
