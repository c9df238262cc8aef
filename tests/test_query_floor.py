"""The fixed cost of a query: work a search repeats for nothing is done once (per snapshot, or
per search), and the answers stay what they were."""

from __future__ import annotations

import json

import pytest

import searchlib
from searchlib.index.segment import ArticleTable
from searchlib.ranking import pruning


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    docs = tmp_path_factory.mktemp("docs")
    with (docs / "news.jsonl").open("w") as out:
        for i in range(40):
            out.write(json.dumps({
                "id": f"a{i}", "title": f"oil report {i}" if i % 3 else f"wheat crop {i}",
                "text": f"oil prices rose {i}\n\nwheat harvest fell\n\nmarkets {i % 5}",
                "topics": ["crude", f"t{i % 4}"], "date": f"1987-03-{1 + i % 28:02d}"}) + "\n")
    idx = searchlib.Index.build([docs], tmp_path_factory.mktemp("idx") / "idx", jobs=1)
    yield idx
    idx.close()


def _shown(res):
    return [(h.article_id, h.title, h.paragraph, h.score, h.source, h.date, h.meta, h.text)
            for h in res.hits]


def test_a_shown_article_is_decoded_once_per_snapshot(index, monkeypatch):
    first = index.search("oil prices", k=10)
    assert len(first.hits) == 10 and first.hits[0].meta["topics"][0] == "crude"
    decoded = []
    real = ArticleTable._loads
    monkeypatch.setattr(ArticleTable, "_loads", lambda self, data: decoded.append(1)
                        or real(self, data))
    first.hits[0].meta["topics"].append("mine")  # a caller's change stays in its hit
    again = index.search("oil prices", k=10)
    assert decoded == []  # the ten articles were decoded by the first search
    assert again.hits[0].meta["topics"] == ["crude", first.hits[0].meta["topics"][1]]
    first.hits[0].meta["topics"].pop()
    assert _shown(again) == _shown(first)
    assert [r[0] for r in index.rank("oil prices", k=10)] == [h.article_id for h in again.hits]
    index.refresh()  # a new snapshot decodes its own
    assert _shown(index.search("oil prices", k=10)) == _shown(first)
    assert decoded


def test_a_search_builds_its_pruning_plan_once(index, monkeypatch):
    built = []
    real = pruning._plan_of
    monkeypatch.setattr(pruning, "_plan_of", lambda w: built.append(1) or real(w))
    res = index.search("oil wheat", k=3)
    assert len(res.hits) == 3 and built == [1]  # asked by the searcher, run and the pruner


def test_a_repeated_query_is_parsed_and_its_words_weighed_once(index, monkeypatch):
    from searchlib import query
    from searchlib.errors import QuerySyntaxError
    from searchlib.ranking.compiler import Compiler

    parsed, weighed = [], []
    real_parse, real_weight = query.parse, Compiler._term_weight
    monkeypatch.setattr(query, "parse", lambda *a, **kw: parsed.append(1)
                        or real_parse(*a, **kw))
    monkeypatch.setattr(Compiler, "_term_weight", lambda self, *a: weighed.append(a[0])
                        or real_weight(self, *a))
    index.refresh()  # a snapshot of its own: no word weighed yet
    first = index.search("wheat harvest -markets", k=5)
    again = index.search("wheat harvest -markets", k=5)
    assert len(parsed) == 1 and sorted(weighed) == ["harvest", "markets", "wheat"]
    assert _shown(again) == _shown(first) and again.total == first.total
    for _ in range(2):  # a malformed strict query is not remembered: it raises each time
        with pytest.raises(QuerySyntaxError):
            index.search('"wheat harvest', strict=True)


def test_an_explanation_names_the_word_as_each_query_typed_it(index):
    lower = index.search("oil prices", k=1)
    upper = index.search("OIL Prices", k=1)
    assert upper.hits[0].score == lower.hits[0].score
    assert {p.query for p in lower.explain(lower.hits[0]).parts} == {"oil", "prices"}
    assert {p.query for p in upper.explain(upper.hits[0]).parts} == {"OIL", "Prices"}


def test_a_segment_too_small_to_prune_looks_up_no_block(index, monkeypatch):
    made = []
    real = pruning._SegmentPruner.__init__
    monkeypatch.setattr(pruning._SegmentPruner, "__init__",
                        lambda self, *a: made.append(1) or real(self, *a))
    res = index.search("oil wheat markets", k=3)
    assert len(res.hits) == 3 and made == []  # 120 paragraphs: scored exhaustively
    monkeypatch.setattr(pruning, "PRUNE_FROM", 0)
    assert [(h._ref, h.score) for h in index.search("oil wheat markets", k=3).hits] == [
        (h._ref, h.score) for h in res.hits] and made


def test_scores_and_intersections_are_the_very_values_of_the_plain_formulas():
    import numpy as np

    from searchlib.ranking.postings import intersect
    from searchlib.ranking.scoring import tf_weight

    rng = np.random.default_rng(4)
    for _ in range(50):
        tf = rng.integers(1, 40, 500).astype(np.int32)
        dl = rng.integers(1, 3000, 500).astype(np.int32)
        avgdl, k1, b = rng.uniform(1, 200), rng.uniform(0, 3), rng.uniform(0, 1)
        ftf, fdl = tf.astype(np.float64), dl.astype(np.float64)
        want = ftf * (k1 + 1.0) / (ftf + k1 * (1.0 - b + b * (fdl / avgdl)))
        assert tf_weight(tf, dl, avgdl, k1, b).tobytes() == want.tobytes()
        a = np.unique(rng.integers(0, 2000, rng.integers(0, 300)))
        c = np.unique(rng.integers(0, 2000, rng.integers(0, 900)))
        common, i, j = intersect((a, a * 0.5), (c, c * 0.5))
        want_common, wi, wj = np.intersect1d(a, c, assume_unique=True, return_indices=True)
        assert common.tolist() == want_common.tolist()
        assert i.tolist() == wi.tolist() and j.tolist() == wj.tolist()


def test_a_long_list_cut_to_few_candidates_finds_the_very_postings(index):
    import numpy as np

    from searchlib.ranking.scoring import BM25

    rng = np.random.default_rng(9)
    seg = index.snapshot.segments[0]
    for kept in (3, 40, 400, 900):
        mask = np.zeros(1000, dtype=bool)
        mask[rng.choice(1000, kept, replace=False)] = True
        scorer = pruning._MaskScorer(seg, index.snapshot, BM25(), mask, mask)
        for size in (10, 500, 990):
            docs = np.sort(rng.choice(1000, size, replace=False)).astype(np.int32)
            tf = rng.integers(1, 9, size)
            got = scorer.restrict("text", docs, tf)
            rows = np.flatnonzero(mask[docs])
            assert got[0].tolist() == docs[rows].tolist() and got[1].tolist() == tf[rows].tolist()
