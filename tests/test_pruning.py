"""Dynamic pruning must be invisible: over random indexes (several segments, deletions, titles,
repeated words, terms with many blocks) and random queries, the pruned search returns the
very hits, scores (==) and totals of exhaustive scoring, and explanations still add up."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

import searchlib
from searchlib.index.blocks import block_columns
from searchlib.index.postinglists import encode_postings
from searchlib.index.schema import POSTING_BLOCK
from searchlib.ranking import pruning, searcher

VOCAB = [f"w{i}{c}" for i in range(24) for c in "ab"]  # wNa / wNb share a prefix


def _words(rng: random.Random, n: int) -> str:
    # Zipf-like: the first words occur in hundreds of paragraphs (several blocks each)
    return " ".join(VOCAB[min(int(rng.paretovariate(0.7)) - 1, len(VOCAB) - 1)]
                    for _ in range(n))


def _write(path, rng: random.Random, start: int, count: int) -> None:
    with path.open("w") as out:
        for i in range(start, start + count):
            paragraphs = [_words(rng, rng.randint(1, 25)) for _ in range(rng.randint(1, 6))]
            record = {"id": f"a{i}", "title": _words(rng, rng.randint(1, 4)),
                      "text": "\n\n".join(paragraphs), "topics": [rng.choice("xyz")],
                      "date": f"19{rng.randint(80, 99)}-01-01"}
            out.write(json.dumps(record) + "\n")


@pytest.fixture(autouse=True)
def prune_small_segments(monkeypatch):
    """Prune however few postings a segment has and however many candidates it finds
    (these indexes are small)."""
    monkeypatch.setattr(pruning, "PRUNE_FROM", 0)
    monkeypatch.setattr(pruning, "PRUNE_SHARE", float("inf"))


@pytest.fixture(scope="module", params=[1, 2])
def index(request, tmp_path_factory):
    rng = random.Random(request.param)
    docs = tmp_path_factory.mktemp(f"docs{request.param}")
    _write(docs / "one.jsonl", rng, 0, 220)
    _write(docs / "two.jsonl", rng, 220, 60)
    root = tmp_path_factory.mktemp(f"idx{request.param}") / "idx"
    idx = searchlib.Index.build([docs], root, jobs=1)
    _write(docs / "three.jsonl", rng, 280, 150)  # a second segment
    idx.update([docs])
    _write(docs / "two.jsonl", rng, 500, 40)  # replaced: its old articles are deleted
    idx.update([docs])
    assert len(idx.snapshot.segments) >= 2
    assert any(seg.deleted is not None for seg in idx.snapshot.segments)
    yield idx
    idx.close()


def _query(rng: random.Random) -> str:
    def word() -> str:
        return VOCAB[min(int(rng.paretovariate(0.9)) - 1, len(VOCAB) - 1)]

    words = [word() for _ in range(rng.randint(1, 4))]
    shape = rng.choice(["or", "or", "and", "not", "phrase", "prefix", "title", "fuzzy",
                        "repeat", "group"])
    if shape == "and":
        return " AND ".join(words)
    if shape == "not":
        return f"{' '.join(words)} -{word()}"
    if shape == "phrase":
        return f'"{words[0]} {word()}" {" ".join(words[1:])}'
    if shape == "prefix":
        return f"{words[0][:-1]}* {' '.join(words[1:])}"
    if shape == "title":
        return f"title:{words[0]} {' '.join(words[1:])}"
    if shape == "fuzzy":
        return f"{words[0]}~1 {' '.join(words[1:])}"
    if shape == "repeat":
        return " ".join(words + words[:1])
    if shape == "group":
        return f"({words[0]} OR {word()}) AND {' '.join(words[1:]) or word()}"
    return " ".join(words)


def _options(rng: random.Random) -> dict:
    options: dict = {"k": rng.choice([1, 2, 3, 10, 50, 1000])}
    if rng.random() < 0.2:
        options["articles"] = True
    if rng.random() < 0.2:
        options["where"] = {"topics": rng.choice("xy")}
    if rng.random() < 0.1:
        options["since"] = "1990-01-01"
    if rng.random() < 0.2:
        options.update(k1=rng.choice([0.0, 1.2, 3.0]), b=rng.choice([0.0, 0.75, 1.0]),
                       title_boost=rng.choice([0.0, 2.0]))
    if rng.random() < 0.2:
        options["default_operator"] = "AND"
    return options


def _answer(idx, query: str, options: dict):
    res = idx.search(query, **options)
    return [(h._ref, h.score, h.fuzzy) for h in res.hits], res.total, res


def count_scored(monkeypatch) -> list[int]:
    """Each scoring call's number of postings, noted in the list returned."""
    from searchlib.ranking import weights

    scored: list[int] = []
    original = weights.SegmentScorer.leaf_scores

    def spy(self, fld, idf, tf, docs, weight):
        scored.append(len(docs))
        return original(self, fld, idf, tf, docs, weight)

    monkeypatch.setattr(weights.SegmentScorer, "leaf_scores", spy)
    return scored


def assert_exhaustive(idx, query: str, options: dict, monkeypatch, module=searcher):
    """The search gives what it gives with `module.applies` off (exhaustive scoring): the same
    hits, scores and total, and explanations that equal the first two hits' scores."""
    got, total, res = _answer(idx, query, options)
    with monkeypatch.context() as off:
        off.setattr(module, "applies", lambda *a: False)
        want, want_total, _ = _answer(idx, query, options)
    assert got == want, (query, options)
    assert total == want_total, (query, options)
    for hit in res.hits[:2]:
        assert res.explain(hit).score == pytest.approx(hit.score, rel=1e-12)


def test_pruned_search_equals_exhaustive_scoring(index, monkeypatch):
    rng = random.Random(11)
    calls = []
    real = pruning.run_pruned
    monkeypatch.setattr(searcher, "run_pruned",
                        lambda *a: calls.append(1) or real(*a))
    for _ in range(250):
        query, options = _query(rng), _options(rng)
        # some segments decline (too many candidates) while others prune
        monkeypatch.setattr(pruning, "PRUNE_SHARE", rng.choice([float("inf"), 0.3]))
        got, total, res = _answer(index, query, options)
        with monkeypatch.context() as off:
            off.setattr(searcher, "applies", lambda *a: False)
            want, want_total, _ = _answer(index, query, options)
        assert got == want, (query, options)  # addresses, scores (==) and fuzzy flags
        assert total == want_total, (query, options)
        for hit in res.hits[:3]:
            assert res.explain(hit).score == pytest.approx(hit.score, rel=1e-12)
    assert len(calls) > 100  # most queries were pruned, not scored exhaustively


def test_pruning_skips_postings_yet_finds_the_best(index, monkeypatch):
    """A frequent word OR a rare one: the best hits hold the rare word, and the frequent
    word's blocks without it are skipped, so fewer text postings are scored than read."""
    segments = index.snapshot.segments
    seg = max(segments, key=lambda s: s.n_paragraphs)
    sizes = np.diff(seg.fields["text"].ptr)
    common = seg.vocab[int(np.argmax(sizes))]
    rare = seg.vocab[int(np.flatnonzero((sizes >= 3) & (sizes <= 20))[0])]
    assert sizes.max() > 4 * POSTING_BLOCK  # several blocks
    postings = sum(len(s.fields["text"].postings(s.term_id(t))[0]) for s in segments
                   for t in (common, rare) if s.term_id(t) >= 0)
    scored = []
    original = pruning._MaskScorer.restrict

    def spy(self, fld, docs, *columns):
        out = original(self, fld, docs, *columns)
        scored.append(len(out[0]) if fld == "text" else 0)
        return out

    monkeypatch.setattr(pruning._MaskScorer, "restrict", spy)
    res = index.search(f"{common} {rare}", k=3, fuzzy=False)
    assert sum(scored) < postings / 2
    monkeypatch.setattr(searcher, "applies", lambda *a: False)
    full = index.search(f"{common} {rare}", k=3, fuzzy=False)
    assert [(h._ref, h.score) for h in res.hits] == [(h._ref, h.score) for h in full.hits]
    assert res.total == full.total


def test_block_columns_bound_every_posting():
    rng = np.random.default_rng(3)
    counts = np.array([0, 1, 127, 128, 129, 300, 5])
    ptr = np.r_[0, np.cumsum(counts)]
    doc = np.concatenate([np.sort(rng.choice(1000, c, replace=False)) for c in counts])
    tf = rng.integers(1, 9, len(doc))
    length = rng.integers(1, 50, 1000)
    cols = block_columns(ptr, doc, tf, length)
    # the bounds' blocks are the packed postings' blocks (one offset column, blk)
    pos = np.zeros(int(tf.sum()), dtype=np.int32)
    blk = encode_postings(ptr, doc.astype(np.int32), tf.astype(np.int32), pos)["blk"]
    assert np.diff(blk).tolist() == [0, 1, 1, 1, 2, 3, 1]
    assert len(cols["bmax_tf"]) == blk[-1]
    for t in range(len(counts)):
        for j, b in enumerate(range(blk[t], blk[t + 1])):
            rows = slice(ptr[t] + j * POSTING_BLOCK, min(ptr[t] + (j + 1) * POSTING_BLOCK,
                                                         ptr[t + 1]))
            assert cols["bmax_tf"][b] == tf[rows].max()
            assert cols["bmin_len"][b] == length[doc[rows]].min()
            assert cols["blast"][b] == doc[rows][-1]
