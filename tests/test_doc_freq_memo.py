"""A snapshot remembers document frequencies (issue 11): a commit never changes, so a word's df
is counted over the segments once; a later commit's snapshot counts its own."""

from __future__ import annotations

import json

import searchlib
from searchlib.index.segment import Segment


def _write(path, start: int, count: int) -> None:
    with path.open("w") as out:
        for i in range(start, start + count):
            out.write(json.dumps({"id": f"a{i}", "title": "t", "text": f"zebra {i}"}) + "\n")


def test_document_frequency_is_counted_once_per_commit(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs / "one.jsonl", 0, 5)
    idx = searchlib.Index.build([docs], tmp_path / "idx", jobs=1)
    _write(docs / "two.jsonl", 100, 3)
    idx.update([docs])
    snap = idx.snapshot
    assert len(snap.segments) == 2
    lookups = []
    real = Segment.term_id
    monkeypatch.setattr(Segment, "term_id", lambda self, term: lookups.append(term)
                        or real(self, term))
    assert snap.doc_freq("zebra") == 8 and len(lookups) == 2
    assert snap.doc_freq("zebra") == 8 and len(lookups) == 2  # remembered
    assert idx.search("zebra", k=20, fuzzy=False).total == 8
    _write(docs / "two.jsonl", 200, 1)  # replaced: 3 articles out, 1 in
    idx.update([docs])
    assert idx.snapshot is not snap and idx.snapshot.doc_freq("zebra") == 6
    assert idx.search("zebra", k=20, fuzzy=False).total == 6
    idx.close()
