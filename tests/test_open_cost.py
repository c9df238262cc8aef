"""Issue 11 (open cost and lazy hits): what a search reads, and what opening checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import searchlib
from searchlib import CorruptIndex
from searchlib.index import schema, segment, storage
from searchlib.index.segment import Segment

from .conftest import REPO, SEEDS


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


def seg_dir(root: Path) -> Path:
    name = json.loads((root / "manifest.json").read_text())["segments"][0]["name"]
    return root / "segments" / name


def damage_store(root: Path, pid: int) -> None:
    """Flip one byte of the compressed block holding paragraph `pid` of the first segment."""
    folder = seg_dir(root)
    off = np.load(folder / "store.off.npy")
    block = pid // schema.STORE_BLOCK
    path = folder / "store.bin"
    data = bytearray(path.read_bytes())
    data[(int(off[block]) + int(off[block + 1])) // 2] ^= 0x20
    path.write_bytes(bytes(data))


def test_a_flipped_byte_of_stored_text_is_an_error_when_its_hit_is_read(tmp_path):
    root = tmp_path / "idx"
    idx = searchlib.Index.build([SEEDS], root)
    ranked = idx.search("korea", k=100).hits
    text, pid = ranked[0].text, ranked[0]._ref[2]
    damage_store(root, pid)
    idx = searchlib.Index.open(root)  # structure only: store.bin is not read whole
    hits = idx.search("korea", k=100).hits
    with pytest.raises(CorruptIndex, match="store.bin fails the checksum"):
        hits[0].text  # noqa: B018 - the damaged block, never its wrong text
    assert any("store.bin" in p for p in idx.check())
    with pytest.raises(CorruptIndex, match="store.bin fails its checksum"):
        searchlib.Index.open(root, verify=True)
    proc = subprocess.run([sys.executable, "-m", "searchlib", "search", "korea", "--index",
                           str(root)], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("searchlib: error:") and "store.bin" in proc.stderr
    assert text not in proc.stdout


def test_opening_checks_structure_and_verify_true_every_byte(tmp_path, monkeypatch):
    root = tmp_path / "idx"
    searchlib.Index.build([SEEDS], root)
    read = []
    original = storage.verify
    monkeypatch.setattr(segment, "verify", lambda f, size, crc, label:
                        read.append(crc is not None) or original(f, size, crc, label))
    searchlib.Index.open(root).close()
    assert read and not any(read)  # every file's size, no file's bytes
    read.clear()
    searchlib.Index.open(root, verify=True).close()
    assert read and all(read)


def test_a_search_decodes_its_records_and_terms_only(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    titles = ['Quotes "], [" inside', "Ünïcode — title", "back\\slash", "plain"]
    for i, title in enumerate(titles):
        (src / f"a{i}.txt").write_text(f"{title}\n\nzebra number {i} grazes. Word{i} alone.\n")
    idx = searchlib.Index.build([src], tmp_path / "idx")
    seg = idx.snapshot.segments[0]
    hits = idx.search("zebra", k=10).hits
    assert sorted(h.title for h in hits) == sorted(titles)
    assert "vocab" not in seg.__dict__ and seg.articles._all is None  # nothing split whole
    by_offsets = [seg.articles[i] for i in range(len(titles))]
    assert by_offsets == list(seg.articles)  # the same records as decoding the whole file
    vocab = searchlib.Index.open(tmp_path / "idx").snapshot.segments[0].vocab
    probes = vocab + [t + "x" for t in vocab] + ["", "a", "zzzz", "\uffff"]
    assert [seg.term_id(t) for t in probes] == [
        vocab.index(t) if t in vocab else -1 for t in probes]
    assert "vocab" not in seg.__dict__  # found by bisecting the file's bytes


def damage_postings(root: Path, word: str, gap: int, value: int) -> None:
    """Overwrite one packed document gap of `word` in the first segment (a term whose first
    block packs gaps in one byte each), leaving every header and size as it was."""
    folder = seg_dir(root)
    idx = searchlib.Index.open(root)
    seg = idx.snapshot.segments[0]
    tid = seg.term_id(idx.snapshot.analyzer.terms(word)[0])
    blk, off = seg.columns["text.blk"], seg.columns["text.doc.off"]
    assert int(seg.columns["text.width"][int(blk[tid])]) & 3 == 1 and len(
        seg.fields["text"].postings(tid)[0]) > gap
    idx.close()
    packed = np.load(folder / "text.doc.npy", mmap_mode="r+")
    packed[int(off[tid]) + gap] = value
    packed.flush()
    del packed


@pytest.mark.parametrize("gap,value,problem", [(0, 255, "outside its documents"),
                                               (1, 0, "outside its documents")])
def test_damaged_postings_are_an_error_on_the_query_that_reads_them(tmp_path, gap, value,
                                                                    problem):
    """A document id out of range (or not rising) inside a term's postings opens (no byte
    is scanned at open), then fails the query reading that term: never an IndexError, never
    a wrong hit. check and verify=True find it as before."""
    root = tmp_path / "idx"
    searchlib.Index.build([SEEDS], root)
    damage_postings(root, "korea", gap, value)
    idx = searchlib.Index.open(root)
    assert idx.search("artillery", fuzzy=False).total >= 1  # other words still answer
    for query in ("korea", "korea artillery", '"north korea"'):
        with pytest.raises(CorruptIndex, match=f"postings of seg-[0-9-]+/text point {problem}"):
            idx.search(query, fuzzy=False)
    assert any("text.doc.npy" in p for p in idx.check())
    with pytest.raises(CorruptIndex, match="text.doc.npy fails its checksum"):
        searchlib.Index.open(root, verify=True)
    proc = subprocess.run([sys.executable, "-m", "searchlib", "search", "korea", "--index",
                           str(root)], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "postings of" in proc.stderr


def test_an_article_table_that_does_not_rise_is_an_error_when_first_used(tmp_path):
    root = tmp_path / "idx"
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"a{i}.txt").write_text(f"Title {i}\n\nwheat harvest {i}.\n\nMore wheat.")
    searchlib.Index.build([docs], root)
    first = np.load(seg_dir(root) / "art.first.npy", mmap_mode="r+")
    first[1], first[2] = first[2], first[1]  # same ends, no longer rising
    first.flush()
    del first
    idx = searchlib.Index.open(root)  # the ends are right: opening does not scan
    with pytest.raises(CorruptIndex, match="art.first.npy does not rise"):
        idx.search("wheat", fuzzy=False)
