"""A pruned search's exact total is counted only when read (issue 11): the top k never waits
for a pass over every posting, and the total read later is the exhaustive one."""

from __future__ import annotations

import json
import pickle

import pytest

import searchlib
from searchlib.ranking import pruning

# 40 articles of 3 paragraphs: "alpha" in every paragraph of even articles, "beta" in the
# first paragraph of every third one
ALPHA = 20 * 3
BETA_ONLY = sum(1 for i in range(40) if i % 3 == 0 and i % 2)  # its paragraph has no alpha


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    docs = tmp_path_factory.mktemp("docs")
    with (docs / "a.jsonl").open("w") as out:
        for i in range(40):
            paragraphs = [f"{'alpha ' * (1 + j) if i % 2 == 0 else 'gamma'} "
                          f"{'beta' if i % 3 == 0 and j == 0 else 'delta'} words {i}"
                          for j in range(3)]
            out.write(json.dumps({"id": f"a{i}", "title": f"story {i}",
                                  "text": "\n\n".join(paragraphs)}) + "\n")
    idx = searchlib.Index.build([docs], tmp_path_factory.mktemp("idx") / "idx", jobs=1)
    yield idx
    idx.close()


@pytest.fixture
def counts(monkeypatch):
    """Prune these small segments, and note each exact count pruning makes."""
    monkeypatch.setattr(pruning, "PRUNE_FROM", 0)
    monkeypatch.setattr(pruning, "PRUNE_SHARE", float("inf"))
    calls = []
    real = pruning._SegmentPruner.count
    monkeypatch.setattr(pruning._SegmentPruner, "count",
                        lambda self, articles: calls.append(1) or real(self, articles))
    return calls


def test_the_total_is_counted_when_read_and_is_exact(index, counts):
    res = index.search("alpha beta", k=3, fuzzy=False)
    assert len(res.hits) == 3 and [h.text for h in res.hits]
    assert counts == []  # hits read, total not yet counted
    assert res.total == ALPHA + BETA_ONLY
    assert res.total == ALPHA + BETA_ONLY and len(counts) == 1  # counted once
    assert res.execution.total == res.total


def test_the_fuzzy_gate_counts_only_when_the_top_k_cannot_tell(index, counts):
    many = index.search("alpha beta", k=5)  # 5 hits: at least 3 match, no count needed
    assert counts == [] and not many.fuzzy
    one = index.search("alpha beta", k=1)  # 1 hit: the gate must count
    assert len(counts) == 1 and one.total == ALPHA + BETA_ONLY and not one.fuzzy


def test_a_deferred_total_travels_as_its_value(index, counts):
    res = index.search("alpha beta", k=2, fuzzy=False)
    assert pickle.loads(pickle.dumps(res.execution.lazy_total)) == ALPHA + BETA_ONLY
    articles = index.search("alpha beta", k=2, fuzzy=False, articles=True)
    assert articles.total == 20 + BETA_ONLY


def test_results_read_after_the_index_is_closed_are_whole(tmp_path, counts):
    """A caller may close the index (a `with` block) before reading the deferred total and
    the lazy hit text: both still come, and equal what was there before the close."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.jsonl").write_text("".join(
        json.dumps({"id": f"a{i}", "title": f"story {i}",
                    "text": f"alpha {'beta' if i % 3 == 0 else 'delta'} words {i}"}) + "\n"
        for i in range(30)))
    searchlib.Index.build([docs], tmp_path / "idx", jobs=1).close()
    with searchlib.Index.open(tmp_path / "idx") as idx:
        res = idx.search("alpha beta", k=2, fuzzy=False)
        again = idx.search("alpha beta", k=2, fuzzy=False)
        expected = (again.total, [(h.text, h.spans) for h in again.hits])
    assert counts == [1]  # `again` was counted in the block; `res` not yet
    assert (res.total, [(h.text, h.spans) for h in res.hits]) == expected
    assert res.total == 30
