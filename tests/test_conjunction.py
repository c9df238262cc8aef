"""A conjunction of words is matched from its rarest word (`ranking.conjunction`): over random
indexes (several segments, deletions, titles, words with many blocks) and random AND queries
(prefixes, typos, title:, repeats, NOT, filters, per article, other k1/b), it returns the
very hits, scores (==) and totals of exhaustive scoring, and scores only the paragraphs
every word holds."""

from __future__ import annotations

import random

import numpy as np
import pytest

from searchlib.ranking import conjunction, pruning, searcher

from .test_pruning import VOCAB, _answer, _options, assert_exhaustive, count_scored, index  # noqa: F401 (the fixture)


def _and_query(rng: random.Random) -> str:
    def word() -> str:
        w = VOCAB[min(int(rng.paretovariate(0.6)) - 1, len(VOCAB) - 1)]
        shape = rng.random()
        if shape < 0.1:
            return f"{w[:-1]}*"
        if shape < 0.2:
            return f"{w}~1"
        if shape < 0.3:
            return f"title:{w}"
        return w

    words = [word() for _ in range(rng.randint(2, 4))]
    if rng.random() < 0.15:
        words.append(words[0])  # a repeat
    text = " AND ".join(words)
    if rng.random() < 0.2:
        text += f" -{word()}"
    if rng.random() < 0.15:
        text = f"+{words[0]} +{words[1]} {word()}"  # required words and an optional one
    return text


@pytest.mark.parametrize("bounded", [False, True])
def test_conjunctions_equal_exhaustive_scoring(index, monkeypatch, bounded):  # noqa: F811
    """All candidates scored, or (`bounded`) the best-bounded first, then those that can
    reach their k-th best."""
    if bounded:
        monkeypatch.setattr(pruning, "CONJUNCTION_FROM", 0)
        monkeypatch.setattr(pruning, "FIRST_SCORED", 1)
    rng = random.Random(5)
    used = []
    real = conjunction.conjunction
    monkeypatch.setattr("searchlib.ranking.pruning.conjunction",
                        lambda *a: used.append(1) or real(*a))
    skipped = []
    real_best = pruning._SegmentPruner.best_of

    def best_of(self, cands, top, ordinal, k):
        out = real_best(self, cands, top, ordinal, k)
        skipped.append(out is not None and len(out[0]) < len(cands))
        return out

    monkeypatch.setattr(pruning._SegmentPruner, "best_of", best_of)
    for _ in range(200):
        query, options = _and_query(rng), _options(rng)
        assert_exhaustive(index, query, options, monkeypatch)
    assert len(used) > 200  # the conjunction path ran (once per segment and query)
    assert sum(skipped) > (50 if bounded else -1)  # some candidates were never scored


def test_a_conjunction_scores_only_what_every_word_holds(index, monkeypatch):  # noqa: F811
    """A frequent word AND a rare one: only the rare word's paragraphs that hold the frequent
    word are scored, not the frequent word's whole list."""
    seg = max(index.snapshot.segments, key=lambda s: s.n_paragraphs)
    sizes = np.diff(seg.fields["text"].ptr)
    common = seg.vocab[int(np.argmax(sizes))]
    rare = seg.vocab[int(np.flatnonzero((sizes >= 3) & (sizes <= 20))[0])]
    postings = sum(len(s.fields[f].postings(s.term_id(t))[0]) for s in index.snapshot.segments
                   for t in (common, rare) for f in ("text", "title") if s.term_id(t) >= 0)
    scored = count_scored(monkeypatch)
    res = index.search(f"{common} AND {rare}", k=3, fuzzy=False)
    assert 0 < sum(scored) < postings / 4
    assert res.total <= sum(scored)
    scored.clear()
    monkeypatch.setattr(searcher, "applies", lambda *a: False)
    full = index.search(f"{common} AND {rare}", k=3, fuzzy=False)
    assert sum(scored) >= postings - 5  # exhaustive scoring reads every list whole
    assert [(h._ref, h.score) for h in res.hits] == [(h._ref, h.score) for h in full.hits]
    assert res.total == full.total


@pytest.mark.parametrize("ids_n,pool_n", [(5, 4000), (3000, 4000), (4000, 30), (0, 9), (7, 0)])
def test_membership_agrees_whichever_way_it_looks(ids_n, pool_n):
    rng = np.random.default_rng(ids_n + pool_n)
    n = 10_000
    ids = np.sort(rng.integers(0, n, ids_n)).astype(np.int32)  # repeats, as articles have
    pool = np.unique(rng.integers(0, n, pool_n)).astype(np.int32)
    want = np.isin(ids, pool)
    assert np.array_equal(conjunction._found(ids, pool, n), want)
    for dense in (0.0, 1e9):  # force the dense marks, then the lookups
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(conjunction, "DENSE_NS", dense)
            assert np.array_equal(conjunction._found(ids, pool, n), want)


def test_bounded_conjunctions_over_titled_articles_equal_exhaustive_scoring(tmp_path,
                                                                          monkeypatch):
    """The bounded path scores in two rounds, and each round collapses title-only matches;
    many articles here are titled with every word and hold none in their text (their
    paragraphs tie on the title's score), at every k the answer is exhaustive scoring's."""
    import json

    import searchlib

    monkeypatch.setattr(pruning, "CONJUNCTION_FROM", 0)
    monkeypatch.setattr(pruning, "FIRST_SCORED", 1)
    rng = random.Random(3)
    docs = tmp_path / "docs"
    docs.mkdir()
    rows = []
    for i in range(400):
        titled = rng.random() < 0.15
        paragraphs = [" ".join(rng.choice(["alpha", "beta", "gamma", "delta", "eps"])
                               if not titled else rng.choice(["gamma", "delta", "eps"])
                               for _ in range(rng.randint(2, 30)))
                      for _ in range(rng.randint(1, 12))]
        rows.append({"id": f"a{i}", "title": "alpha beta" if titled else f"story {i}",
                     "paragraphs": paragraphs})
    (docs / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    idx = searchlib.Index.build([docs], tmp_path / "idx", jobs=1)
    for k in range(1, 40):
        options = {"k": k, "fuzzy": False}
        got, total, res = _answer(idx, "alpha AND beta", options)
        with monkeypatch.context() as off:
            off.setattr(searcher, "applies", lambda *a: False)
            want, want_total, _ = _answer(idx, "alpha AND beta", options)
        assert got == want and total == want_total, k


def test_a_large_conjunction_scores_few_beyond_its_k_best(index, monkeypatch):  # noqa: F811
    """The two commonest words: each candidate is bounded by its lists' contributions read
    per posting, so after the best-bounded few, hardly any other candidate can reach the
    k-th best and be scored (block bounds let most of them through)."""
    monkeypatch.setattr(pruning, "CONJUNCTION_FROM", 0)
    monkeypatch.setattr(pruning, "FIRST_SCORED", 1)
    seg = max(index.snapshot.segments, key=lambda s: s.n_paragraphs)
    sizes = np.diff(seg.fields["text"].ptr)
    a, b = (seg.vocab[int(t)] for t in np.argsort(-sizes)[:2])
    query = f"{a} AND {b}"
    cands, scored = [], []
    real_best = pruning._SegmentPruner.best_of
    real_init = conjunction.SetScorer.__init__

    def best_of(self, found, top, ordinal, k):
        cands.append(len(found))
        return real_best(self, found, top, ordinal, k)

    def init(self, seg, stats, params, paragraphs):
        scored.append(len(paragraphs))
        real_init(self, seg, stats, params, paragraphs)

    monkeypatch.setattr(pruning._SegmentPruner, "best_of", best_of)
    monkeypatch.setattr(conjunction.SetScorer, "__init__", init)
    res = index.search(query, k=3, fuzzy=False)
    hits = [(h._ref, h.score) for h in res.hits]
    assert sum(cands) > 100
    assert sum(scored) < sum(cands) / 4
    monkeypatch.setattr(searcher, "applies", lambda *a: False)
    full = index.search(query, k=3, fuzzy=False)
    assert hits == [(h._ref, h.score) for h in full.hits]
    assert res.total == full.total
