"""The streamed merge and the merge policy: a merged index holds exactly what one flush of the
same files holds, whatever the chunk size; updates keep few segments; `optimize` leaves one."""

from __future__ import annotations

import io
import json
import os
import random
import zlib

import numpy as np
import pytest
from click.testing import CliRunner

import searchlib
from searchlib import InvalidArgument
from searchlib.cli import cli as main
from searchlib.index import merge, mergepolicy
from searchlib.index import writer as writer_mod
from searchlib.index.schema import POSTING_BLOCK
from searchlib.index.segment import Segment, npy_bytes
from searchlib.index.storage import SEGMENTS
from searchlib.index.streamwrite import NpyColumn, crc32_combine

WORDS = ["oil", "wheat", "cocoa", "gold", "harvest", "shipping", "tanker", "strike", "bank",
         "rates", "dollar", "yen", "crude", "refinery", "export", "quota", "farmers", "drought",
         "frost", "coffee", "sugar", "copper"]
QUERIES = ("oil", "cocoa harvest", '"crude oil"', "gold AND bank", "sugar -coffee", "tank*",
           "topics:grain", "harvest date:1987-03", "ghostword", "refinary")


def records(seed: int, n: int, prefix: str, extra: str = "") -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        paragraphs = ["dispatch {} {}".format(" ".join(rng.choices(WORDS, k=rng.randint(3, 14))),
                                              extra)
                      for _ in range(rng.randint(1, 4))]
        out.append({"id": f"{prefix}{i}", "title": " ".join(rng.choices(WORDS, k=3)),
                    "text": "\n\n".join(paragraphs),
                    "date": f"1987-0{rng.randint(1, 4)}-1{rng.randint(0, 9)}",
                    "topics": rng.sample(["grain", "crude", "cocoa", "gold"], rng.randint(0, 2))})
    return out


def write_feed(path, recs) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))


@pytest.fixture
def many_segments(tmp_path, monkeypatch):
    """An index of several flushes and commits, with a changed and a deleted file in between
    (so segments hold deleted articles; `ghostword` only ever was in deleted ones)."""
    monkeypatch.setattr(writer_mod, "TIERED", False)  # nothing merged on the way
    monkeypatch.setattr(writer_mod, "MAX_SEGMENTS", 100)
    docs, root = tmp_path / "docs", tmp_path / "idx"
    docs.mkdir()
    for step in range(3):
        for f in range(2):
            write_feed(docs / f"f{step}{f}.jsonl", records(10 * step + f, 25, f"r{step}{f}-"))
        writer_mod.IndexWriter(root).update([docs], flush_tokens=400)
    write_feed(docs / "f01.jsonl", records(99, 20, "r01-", "changed"))  # ids kept, text new
    write_feed(docs / "f11.jsonl", records(98, 10, "n11-"))
    (docs / "f20.jsonl").unlink()
    write_feed(docs / "f21.jsonl", records(21, 25, "r21-", "ghostword"))
    writer_mod.IndexWriter(root).update([docs], flush_tokens=400)
    write_feed(docs / "f21.jsonl", records(21, 25, "r21-"))  # ghostword gone again
    writer_mod.IndexWriter(root).update([docs], flush_tokens=400)
    return docs, root


def content(idx: searchlib.Index) -> dict:
    """What an index holds, keyed by article id and paragraph number (not by where it is)."""
    postings, text, lengths, meta, vocab = {}, {}, {}, {}, set()
    for seg in idx.snapshot.segments:
        live = ~seg.deleted if seg.deleted is not None else np.ones(seg.n_articles, bool)
        first = seg.art_first64
        keys = {"title": {}, "text": {}}
        for a in np.flatnonzero(live).tolist():
            aid = seg.articles[a][0]
            keys["title"][a] = aid
            meta[aid] = (int(seg.meta.date[a]), seg.meta.values(a))
            lengths[aid] = int(seg.fields["title"].length[a])
            for j, pid in enumerate(range(int(first[a]), int(first[a + 1]))):
                keys["text"][pid] = (aid, j)
                text[aid, j] = seg.paragraph_text(pid)
                lengths[aid, j] = int(seg.fields["text"].length[pid])
        for tid, term in enumerate(seg.vocab):
            for f, fp in seg.fields.items():
                docs, tf = fp.postings(tid)
                if not len(docs):
                    continue
                pos, counts = fp.positions(tid, np.arange(len(docs)))
                starts = np.concatenate([[0], np.cumsum(counts)])
                for k, d in enumerate(docs.tolist()):
                    if d in keys[f]:
                        vocab.add(term)
                        postings[f, term, keys[f][d]] = (int(tf[k]), pos[starts[k]:starts[k + 1]]
                                                         .tolist())
    return {"postings": postings, "text": text, "lengths": lengths, "meta": meta,
            "vocab": vocab}


def answers(idx: searchlib.Index) -> dict:
    out = {}
    for q in QUERIES:
        res = idx.search(q, k=1000)
        out[q] = (res.total, sorted((h.article_id, h.paragraph, h.score) for h in res.hits))
    return out


def test_optimized_index_holds_what_one_flush_of_the_same_files_holds(many_segments, tmp_path):
    docs, root = many_segments
    idx = searchlib.Index.open(root)
    assert len(idx.snapshot.segments) > 4 and any(
        e.get("deleted_count") for e in idx.snapshot.manifest["segments"])
    report = idx.optimize(memory_budget=0.05)  # chunks of 1024 postings: many chunks
    assert len(idx.snapshot.segments) == 1 and report.merged > 4
    assert idx.snapshot.segments[0].deleted is None
    fresh = searchlib.Index.build([docs], tmp_path / "fresh")
    assert len(fresh.snapshot.segments) == 1
    got, want = content(idx), content(fresh)
    for part in want:
        assert got[part] == want[part], part
    assert set(idx.snapshot.segments[0].vocab) == want["vocab"]  # no ghost word
    assert "ghostword" not in want["vocab"]
    assert answers(idx) == answers(fresh)
    assert idx.check() == [] and idx.stats().paragraphs == fresh.stats().paragraphs


def test_chunk_size_changes_nothing_in_the_merged_files(many_segments):
    _, root = many_segments
    idx = searchlib.Index.open(root)
    entries = idx.snapshot.manifest["segments"]
    seg_root = root / SEGMENTS
    one, remap_one = merge.merge_segments(seg_root, entries, "seg-900000-m01", [], 10**9)
    tiny, remap_tiny = merge.merge_segments(seg_root, entries, "seg-900001-m01", [], 3)
    some, _ = merge.merge_segments(seg_root, entries, "seg-900002-m01", [], 200)
    assert one["files"] == tiny["files"] == some["files"]  # same sizes and CRC-32s
    # terms bigger than a chunk were written in pieces of whole blocks
    merged = Segment(seg_root / "seg-900001-m01", tiny)
    assert int(np.diff(merged.fields["text"].ptr).max()) > 2 * POSTING_BLOCK  # "dispatch"
    assert one["articles"] == idx.stats().articles and one["paragraphs"] == idx.stats().paragraphs
    assert all(np.array_equal(remap_one[k], remap_tiny[k]) for k in remap_one)
    for name in ("seg-900000-m01", "seg-900001-m01"):
        for f, (size, crc) in one["files"].items():
            data = (seg_root / name / f).read_bytes()
            assert (len(data), zlib.crc32(data)) == (size, crc), f


def test_a_merge_with_a_helper_process_writes_the_files_of_a_merge_in_one(many_segments,
                                                                          monkeypatch):
    """With two jobs a forked helper encodes every other chunk of postings and the writer
    appends them in term order: byte for byte the files of a one-process merge (deleted
    articles dropped, terms bigger than a chunk written in pieces)."""
    _, root = many_segments
    entries = searchlib.Index.open(root).snapshot.manifest["segments"]
    seg_root = root / SEGMENTS
    monkeypatch.setattr(merge, "PARALLEL_POSTINGS", 0)
    received = []
    receive = merge._Helper.receive

    def spy(self, k):
        received.append(k)
        return receive(self, k)

    monkeypatch.setattr(merge._Helper, "receive", spy)
    one, remap_one = merge.merge_segments(seg_root, entries, "seg-900000-m01", [], 500)
    two, remap_two = merge.merge_segments(seg_root, entries, "seg-900001-m01", [], 500, jobs=2)
    assert len(received) >= 2 and received == sorted(received)  # chunks came from the helper
    assert two["files"] == one["files"]  # same sizes and CRC-32s
    assert all(np.array_equal(remap_one[k], remap_two[k]) for k in remap_one)
    merged = Segment(seg_root / "seg-900001-m01", two)
    assert int(np.diff(merged.fields["text"].ptr).max()) > 256  # a giant: more than its chunk


def test_a_merge_copies_stored_text_frames_that_lost_no_paragraph(tmp_path, monkeypatch):
    """Flushes of one run hold whole frames of stored text: their merge copies them byte for
    byte (no recompression), each input's last short frame too, and says where each frame
    starts; a later merge with deletions re-blocks only the frames that lost a paragraph.
    Either way every paragraph reads back as a one-flush build stores it."""
    docs, root = tmp_path / "docs", tmp_path / "idx"
    docs.mkdir()
    for n in range(3):
        write_feed(docs / f"f{n}.jsonl", records(40 + n, 90, f"t{n}-"))
    monkeypatch.setattr(writer_mod, "TIERED", False)
    writer_mod.IndexWriter(root).update([docs], flush_tokens=2000)
    idx = searchlib.Index.open(root)
    flushed = [(seg.dir / "store.bin").read_bytes() for seg in idx.snapshot.segments]
    frames = [seg.text.n_blocks for seg in idx.snapshot.segments]
    assert len(flushed) >= 3 and sorted(frames)[-2] >= 2  # short frames between full ones
    idx.optimize()
    merged = idx.snapshot.segments[0]
    store = (merged.dir / "store.bin").read_bytes()  # the inputs' frames, in merge order
    assert len(store) == sum(map(len, flushed)) and all(f in store for f in flushed)
    assert merged.text.n_blocks == sum(frames)
    fresh = searchlib.Index.build([docs], tmp_path / "fresh")
    assert content(idx)["text"] == content(fresh)["text"]
    assert answers(idx) == answers(fresh) and idx.check() == []

    (docs / "f1.jsonl").unlink()  # a third of the articles deleted, then merged away
    write_feed(docs / "f0.jsonl", records(40, 60, "t0-"))  # the first 60 kept as they were
    idx.update([docs])
    idx.optimize()
    assert len(idx.snapshot.segments) == 1 and idx.check() == []
    fresh = searchlib.Index.build([docs], tmp_path / "fresh2")
    got, want = content(idx), content(fresh)
    assert got["text"] == want["text"] and got["postings"] == want["postings"]
    assert answers(idx) == answers(fresh)


def test_a_damaged_block_table_is_a_clear_error_not_wrong_text(tmp_path):
    """store.first says where each frame starts; one that does not rise, or promises more
    paragraphs than a frame holds, is a CorruptIndex when the text is read."""
    from searchlib import CorruptIndex
    from searchlib.index.textstore import TextStore, compress_store

    data, off, crc = compress_store(b"abcdefghijkl", np.array([3, 4, 5]))
    good = TextStore(data, off, crc, 3, "seg/store.bin", np.array([0, 3]))
    assert [good.paragraph(p) for p in range(3)] == ["abc", "defg", "hijkl"]
    short = TextStore(data, off, crc, 3, "seg/store.bin", np.array([0, 2]))  # frame holds 3
    for p in range(3):
        with pytest.raises(CorruptIndex, match="seg/store.bin"):
            short.paragraph(p)
    empty = TextStore(data, np.array([0, 0, len(data)]), np.array([0, *crc]), 3,
                      "seg/store.bin", np.array([0, 0, 3]))  # a block of no paragraph
    with pytest.raises(CorruptIndex, match="bad block table"):
        empty.starts()  # what a merge reads


def test_updates_merge_like_a_binary_counter_and_cli_optimize_leaves_one(tmp_path):
    """A run's flushes become one segment; a small update rewrites only the small segments
    (never the big one), so segments stay few and an update costs what it adds."""
    docs, root = tmp_path / "docs", tmp_path / "idx"
    docs.mkdir()
    write_feed(docs / "big.jsonl", records(1, 120, "big-"))
    report = writer_mod.IndexWriter(root).update([docs], flush_tokens=300)
    assert report.merged > 2  # many flushes ...
    segments = searchlib.Index.open(root).snapshot.manifest["segments"]
    assert len(segments) == 1  # ... one segment
    big = segments[0]["name"]
    counts = []
    for step in range(4):
        write_feed(docs / f"day{step}.jsonl", records(10, 8, f"d{step}-"))  # equal sizes
        writer_mod.IndexWriter(root).update([docs], flush_tokens=300)
        segments = searchlib.Index.open(root).snapshot.manifest["segments"]
        assert big in [e["name"] for e in segments]  # the big segment is never rewritten
        counts.append(len(segments))
    assert counts == [2, 2, 3, 2]  # 1 day, 2 days merged, 2 + 1, 4 days merged
    result = CliRunner().invoke(main, ["index", str(docs), "--index", str(root), "--optimize"])
    assert result.exit_code == 0, result.output
    idx = searchlib.Index.open(root)
    assert len(idx.snapshot.segments) == 1 and idx.check() == []
    assert idx.stats().articles == 120 + 4 * 8
    assert answers(idx) == answers(searchlib.Index.build([docs], tmp_path / "fresh"))
    again = idx.optimize()  # already one segment without deletions: nothing to commit
    assert not again.committed and again.merged == 0


def test_optimize_errors_are_one_line(tmp_path):
    result = CliRunner().invoke(main, ["index", str(tmp_path), "--index", str(tmp_path / "c"),
                                       "--shards", "2", "--optimize"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "searchlib: error: --optimize is for a single index, not a sharded one"]
    with pytest.raises(InvalidArgument, match="optimize must be True or False"):
        searchlib.Index.build([tmp_path], tmp_path / "idx", optimize="yes")
    assert not (tmp_path / "idx" / "manifest.json").exists()


def entry(name: str, paragraphs: int, articles: int = 10, deleted: int = 0) -> dict:
    return {"name": name, "articles": articles, "paragraphs": paragraphs,
            "deleted_count": deleted, "deleted_paragraphs": deleted * paragraphs // articles}


def test_policy_merges_the_half_deleted_the_new_and_the_smaller_tiers():
    entries = [entry("big", 10_000), entry("a", 300), entry("b", 100), entry("c", 200),
               entry("holey", 5_000, deleted=6)]
    names = [e["name"] for e in mergepolicy.choose_merge(entries, max_segments=2, ratio=0)]
    assert names == ["holey", "b", "c", "a"]  # the half-deleted, then the smallest (the cap)
    assert [e["name"] for e in mergepolicy.choose_merge(entries[:4], max_segments=2, ratio=0)] == [
        "b", "c", "a"]
    assert mergepolicy.choose_merge(entries[:2], max_segments=2, ratio=0) == []  # within the cap
    # tiers: the new segment (150) takes in b (100 ≤ 150) and c (200 ≤ 250), not a (300 < 450
    # would join too: 300 ≤ 450), then big stays (10,000 > 750)
    tiered = [entry("big", 10_000), entry("a", 300), entry("b", 100), entry("c", 200),
              entry("new", 150)]
    names = [e["name"] for e in mergepolicy.choose_merge(tiered, 16, new=frozenset({"new"}))]
    assert names == ["new", "b", "c", "a"]
    lone = [entry("big", 10_000), entry("a", 300), entry("new", 150)]
    assert mergepolicy.choose_merge(lone, 16, new=frozenset({"new"})) == []  # 300 > 150: it stays
    holed = [entry("x", 50, deleted=1)]
    assert mergepolicy.choose_merge(holed, max_segments=1) == []  # a few deletions stay
    assert mergepolicy.choose_merge(holed, max_segments=1, purge=True) == holed  # optimize
    assert mergepolicy.choose_merge([entry("x", 50)], max_segments=1, purge=True) == []


def test_streamed_npy_column_is_what_numpy_saves_with_its_crc(tmp_path):
    rng = np.random.default_rng(1)
    for dtype in ("int64", "uint8", "int32"):
        values = rng.integers(0, 120, 50_001).astype(dtype)
        column = NpyColumn(tmp_path / f"{dtype}.npy", dtype)
        for part in np.array_split(values, 7):
            column.append(part)
        size, crc = column.close()
        data = (tmp_path / f"{dtype}.npy").read_bytes()
        assert data == npy_bytes(values) and (size, crc) == (len(data), zlib.crc32(data))
        assert np.array_equal(np.load(io.BytesIO(data)), values)
    head, tail = b"header bytes", bytes(range(256)) * 40
    assert crc32_combine(zlib.crc32(head), zlib.crc32(tail), len(tail)) == zlib.crc32(head + tail)


def test_the_progress_bar_says_when_an_update_merges(tmp_path):
    """Once every byte is read the bar would sit at 100% while the flushes are merged: it
    says so instead."""
    docs = tmp_path / "docs"
    docs.mkdir()
    write_feed(docs / "big.jsonl", records(1, 60, "big-"))
    calls = []
    report = writer_mod.IndexWriter(tmp_path / "idx").update(
        [docs], flush_tokens=300, progress=lambda done, total, what: calls.append(
            (done, total, what)))
    assert report.merged > 1
    total = (docs / "big.jsonl").stat().st_size
    assert calls[-1] == (total, total, f"merging {report.merged} segments")
    assert calls[-2] == (total, total, "big.jsonl")


def test_the_index_summary_line_says_what_was_merged(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    write_feed(docs / "a.jsonl", records(1, 10, "a-"))
    root = tmp_path / "idx"
    assert CliRunner().invoke(main, ["index", str(docs), "--index", str(root)]).exit_code == 0
    write_feed(docs / "b.jsonl", records(2, 20, "b-"))  # bigger: takes in the first segment
    result = CliRunner().invoke(main, ["index", str(docs), "--index", str(root)])
    assert result.exit_code == 0, result.output
    assert "(files: 1 added, 0 changed, 0 removed, 1 unchanged; 2 segments merged into one)" \
        in result.output
