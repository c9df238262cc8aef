"""An OR whose paragraphs reach the threshold only through several of its words has its
candidates bounded per posting (not per interval of blocks). Over random indexes and queries
the answers stay those of exhaustive scoring (hits, scores ==, totals)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from searchlib.ranking import pruning, searcher

from .test_pruning import _answer, _options, _query, assert_exhaustive, count_scored, index  # noqa: F401 (the fixture)


@pytest.fixture(autouse=True)
def bound_per_posting(monkeypatch):
    """Prune however few postings a segment has, and bound every OR per posting."""
    monkeypatch.setattr(pruning, "PRUNE_FROM", 0)
    monkeypatch.setattr(pruning, "PRUNE_SHARE", float("inf"))
    monkeypatch.setattr(pruning, "PER_POSTING", 0.0)


def test_per_posting_bounds_equal_exhaustive_scoring(index, monkeypatch):  # noqa: F811
    rng = random.Random(23)
    used = []
    real = pruning._SegmentPruner._co_occurring
    monkeypatch.setattr(pruning._SegmentPruner, "_co_occurring",
                        lambda self, theta: (lambda out: used.append(out is not None) or out)(
                            real(self, theta)))
    for _ in range(250):
        query, options = _query(rng), _options(rng)
        assert_exhaustive(index, query, options, monkeypatch)
    assert sum(used) > 100


def test_two_common_words_score_only_paragraphs_that_can_hold_both(index, monkeypatch):  # noqa: F811
    """Each of two common words alone stays below the k-th best score: only paragraphs
    that may hold both (or whose title helps) are scored, not every posting."""
    monkeypatch.setattr(pruning, "PER_POSTING", pruning.PRUNE_SHARE)  # the default split
    seg = max(index.snapshot.segments, key=lambda s: s.n_paragraphs)
    sizes = np.diff(seg.fields["text"].ptr)
    a, b = (seg.vocab[int(t)] for t in np.argsort(-sizes)[:2])
    scored = count_scored(monkeypatch)
    res = index.search(f"{a} {b}", k=1, fuzzy=False)
    bounded = sum(scored)
    scored.clear()
    monkeypatch.setattr(searcher, "applies", lambda *a: False)
    full = index.search(f"{a} {b}", k=1, fuzzy=False)
    assert [(h._ref, h.score) for h in res.hits] == [(h._ref, h.score) for h in full.hits]
    assert res.total == full.total
    assert bounded < 0.75 * sum(scored)
