"""An OR of words keeps a title match per article (`SegmentScorer.collapsed`) instead of
spreading it over the article's paragraphs and collapsing them again: over random indexes
(titles, deletions, several segments) and queries, its matches, scores (bit for bit) and
their order are those of scoring in paragraphs and collapsing after."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

import searchlib
from searchlib.query import parse
from searchlib.ranking.collectors import apply_mask, collapse_title_only, filter_mask
from searchlib.ranking.compiler import Compiler
from searchlib.ranking.pruning import collected
from searchlib.ranking.scoring import BM25
from searchlib.ranking.weights import SegmentScorer

from .test_pruning import VOCAB, _write


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    rng = random.Random(5)
    docs = tmp_path_factory.mktemp("docs")
    _write(docs / "one.jsonl", rng, 0, 200)
    _write(docs / "two.jsonl", rng, 200, 60)
    root = tmp_path_factory.mktemp("idx") / "idx"
    idx = searchlib.Index.build([docs], root, jobs=1)
    _write(docs / "two.jsonl", rng, 300, 40)  # replaced: its old articles are deleted
    idx.update([docs])
    assert any(seg.deleted is not None and seg.deleted.any() for seg in idx.snapshot.segments)
    yield idx
    idx.close()


def _spread(seg, weight, params, stats):
    """Scored in paragraphs (titles spread), masked, then collapsed: the general path."""
    scorer = SegmentScorer(seg, stats, params)
    docs, scores = apply_mask(filter_mask(seg), *scorer.evaluate(weight))
    if scorer.title_hit and len(docs):
        docs, scores = collapse_title_only(seg, docs, scores, scorer.text_hits)
    return docs, scores


def test_or_of_words_scores_titles_per_article_with_identical_results(index):
    rng = random.Random(7)
    snap = index.snapshot
    dropped = taken = 0
    for _ in range(150):
        words = [VOCAB[min(int(rng.paretovariate(0.8)) - 1, len(VOCAB) - 1)]
                 for _ in range(rng.randint(1, 5))]
        query = " ".join(words + words[:rng.randint(0, 1)])  # sometimes a repeated word
        if rng.random() < 0.2:
            query = f"{words[0][:-1]}* {query}"  # a prefix: blended terms
        params = BM25(title_boost=rng.choice([0.5, 0.5, 2.0, 0.0]))
        weight = Compiler(snap, params).compile(parse(query).root)
        for seg in snap.segments:
            want = _spread(seg, weight, params, snap)
            scorer = SegmentScorer(seg, snap, params)
            assert scorer.collapsed(weight, filter_mask(seg)) is not None  # this path
            got = collected(scorer, weight)
            assert np.array_equal(got[0], want[0]), query
            assert got[1].tobytes() == want[1].tobytes(), query  # bit for bit
            taken += 1
            full = SegmentScorer(seg, snap, params)
            spread = apply_mask(filter_mask(seg), *full.evaluate(weight))[0]
            dropped += len(spread) - len(want[0])  # title-only paragraphs collapsed
    assert taken and dropped > 100  # titles did lend their score to whole articles


def test_other_shapes_take_the_general_path(index):
    snap = index.snapshot
    seg = snap.segments[0]
    for query in ("w0a AND w1a", "w0a -w1a", '"w0a w1a"  (w0a OR w2a) w3a'):
        weight = Compiler(snap, BM25()).compile(parse(query).root)
        assert SegmentScorer(seg, snap, BM25()).collapsed(weight, None) is None
        got = collected(SegmentScorer(seg, snap, BM25()), weight)
        want = _spread(seg, weight, BM25(), snap)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_a_title_matched_only_by_deleted_or_empty_articles(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.jsonl").write_text(
        json.dumps({"id": "z", "title": "zebra crossing", "text": "stripes here"}) + "\n"
        + json.dumps({"id": "y", "title": "oil news", "text": "oil prices rose"}) + "\n")
    idx = searchlib.Index.build([docs], tmp_path / "idx", jobs=1)
    (docs / "a.jsonl").write_text(
        json.dumps({"id": "y", "title": "oil news", "text": "oil prices rose"}) + "\n")
    idx.update([docs])  # article z is deleted
    assert idx.search("zebra", fuzzy=False).hits == []
    assert [h.article_id for h in idx.search("zebra oil", fuzzy=False).hits] == ["y"]
    idx.close()
