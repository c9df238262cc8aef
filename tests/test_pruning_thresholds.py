"""When pruning pays (issue 11): a segment searched after others already has a threshold (the
k-th best score so far), so it needs no first pass and is pruned from fewer postings
(`PRUNE_KNOWN_FROM`) than a first segment (`PRUNE_FROM`); the answer is the same."""

from __future__ import annotations

import json

import pytest

import searchlib
from searchlib.index import writer
from searchlib.ranking import pruning


def _write(path, start: int) -> None:
    with path.open("w") as out:
        for i in range(start, start + 30):
            text = "\n\n".join(f"{'alpha ' * (1 + (i + j) % 3)}beta words {i} {j}"
                               for j in range(3))
            out.write(json.dumps({"id": f"a{i}", "title": f"story {i}", "text": text}) + "\n")


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    docs = tmp_path_factory.mktemp("docs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(writer, "TIERED", False)  # three updates, three segments
        _write(docs / "one.jsonl", 0)
        idx = searchlib.Index.build([docs], tmp_path_factory.mktemp("idx") / "idx", jobs=1)
        _write(docs / "two.jsonl", 100)
        idx.update([docs])
        _write(docs / "three.jsonl", 200)
        idx.update([docs])
    assert len(idx.snapshot.segments) == 3
    yield idx
    idx.close()


def answer(res) -> list:
    return [(h.article_id, h.paragraph, h.score) for h in res.hits] + [res.total]


def test_segments_after_the_first_are_pruned_from_fewer_postings(index, monkeypatch):
    exhaustive = answer(index.search("alpha beta", k=4, fuzzy=False))
    monkeypatch.setattr(pruning, "PRUNE_SHARE", float("inf"))
    monkeypatch.setattr(pruning, "PRUNE_FROM", 10**9)  # no first segment is worth it...
    monkeypatch.setattr(pruning, "PRUNE_KNOWN_FROM", 0)  # ... a later one always is
    thresholds = []
    real = pruning._SegmentPruner.top
    monkeypatch.setattr(pruning._SegmentPruner, "top", lambda self, top, ordinal, k, theta:
                        thresholds.append(theta) or real(self, top, ordinal, k, theta))
    assert answer(index.search("alpha beta", k=4, fuzzy=False)) == exhaustive
    assert len(thresholds) == 2 and all(t > 0 for t in thresholds)
