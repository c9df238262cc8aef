"""Issue 11 (open cost and lazy hits): what a search reads, and what opening checks."""

from __future__ import annotations

import searchlib
from searchlib.index.segment import Segment

from .conftest import SEEDS


def test_hits_decode_their_text_only_when_read(tmp_path, monkeypatch):
    idx = searchlib.Index.build([SEEDS], tmp_path / "idx")
    expected = [(h.article_id, h.paragraph, h.text, h.spans) for h in idx.search("korea", k=50)]
    decoded = []
    original = Segment.paragraph_text
    monkeypatch.setattr(Segment, "paragraph_text",
                        lambda seg, pid: decoded.append(pid) or original(seg, pid))
    res = idx.search("korea", k=50)
    assert len(res.hits) > 3 and decoded == []  # ranking 50 hits decoded no paragraph
    idx.close()  # a hit stays readable after its index is closed
    first = res.hits[0]
    assert (first.article_id, first.paragraph, first.text, first.spans) == expected[0]
    assert len(decoded) == 1 and first.text[slice(*first.spans[0])].lower().startswith("korea")
    assert [(h.article_id, h.paragraph, h.text, h.spans) for h in res.hits] == expected
