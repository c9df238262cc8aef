"""The index side's seams: the segment format's declared columns, the update plan, and the
analyzer settings a rebuild keeps."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

import searchlib
from searchlib.analysis import ANALYZER_VERSION, AnalyzerSettings
from searchlib.cli import cli
from searchlib.corpus import Source
from searchlib.index import builder, schema
from searchlib.index import writer as writer_mod
from searchlib.index.changes import ArticleRange, SourceRecord, plan_changes

from .conftest import SEEDS


def analyzer_of(root) -> dict:
    return json.loads((root / "manifest.json").read_text())["analyzer"]


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("The running of the bulls.\nWhere is the herd going?")
    return folder


def test_rebuild_keeps_the_index_analyzer_settings(docs, tmp_path):
    root = tmp_path / "idx"
    searchlib.Index.build([docs], root, stemmer="porter", stopwords=False)
    idx, _ = searchlib.Index.create_or_update([docs], root, rebuild=True)
    assert analyzer_of(root) == {"language": "en", "stemmer": "porter", "stopwords": False,
                                 "version": ANALYZER_VERSION}
    assert idx.search('"where is the"', fuzzy=False).total == 1  # stopwords still indexed


def test_cli_rebuild_keeps_settings_of_an_old_analyzer_version(docs, tmp_path):
    root = tmp_path / "idx"
    searchlib.Index.build([docs], root, stemmer="none", stopwords=False)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["analyzer"]["version"] = ANALYZER_VERSION - 1  # built by an older analyzer
    (root / "manifest.json").write_text(json.dumps(manifest))
    res = CliRunner().invoke(cli, ["index", "--rebuild", "--index", str(root), str(docs)])
    assert res.exit_code == 0, res.output
    assert analyzer_of(root) == {"language": "en", "stemmer": "none", "stopwords": False,
                                 "version": ANALYZER_VERSION}
    assert searchlib.Index.open(root).search("running", fuzzy=False).total == 1


def test_an_unknown_language_in_the_manifest_is_a_clear_error(docs, tmp_path):
    root = tmp_path / "idx"
    searchlib.Index.build([docs], root)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["analyzer"]["language"] = "xx"
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(searchlib.CorruptIndex, match="unknown language 'xx'"):
        searchlib.Index.open(root)
    with pytest.raises(ValueError, match="unknown language"):
        AnalyzerSettings(language="xx")


def source(path: str, size: int) -> Source:
    return Source(path=path, root="/r", rel=os.path.basename(path), size=size, mtime_ns=1)


def test_plan_changes_sorts_files_without_reading_them():
    def rec(size: int) -> SourceRecord:
        return SourceRecord((size, 1, 0, 0), (ArticleRange("seg-000001-000", 0, 1),))

    indexed = {"/r/same": rec(1), "/r/edited": rec(2), "/r/gone": rec(3),
               "/r/locked/x": rec(4), "/elsewhere/y": rec(5)}
    found = [source("/r/same", 1), source("/r/edited", 9), source("/r/new", 4)]
    plan = plan_changes(indexed, found, roots=["/r"], unlisted=["/r/locked"])
    assert [s.path for s in plan.read] == ["/r/edited", "/r/new"]
    assert (plan.unchanged, plan.removed, plan.kept) == (1, ("/r/gone",), (("/r/locked/x",
                                                                              "/r/locked"),))
    pruned = plan_changes(indexed, found, roots=["/r"], unlisted=["/r/locked"],
                          prune_missing=True)
    assert pruned.removed == ("/r/gone", "/r/locked/x") and pruned.kept == ()
    assert len(plan_changes(indexed, found, roots=["/r"], unlisted=[], rebuild=True).read) == 3


def test_a_declared_per_article_column_survives_flush_merge_and_open(tmp_path, monkeypatch):
    """Adding a column is its declaration plus its values: writing, merging (live rows only)
    and opening (shape checks) follow the declaration."""
    monkeypatch.setitem(schema.COLUMNS, "art.words",
                        schema.Column("art.words", "int32", per="article"))
    content = builder.SegmentBuilder.content

    def with_words(self):
        out = content(self)
        out.columns["art.words"] = np.array([len(t.split()) for _, t, _ in self.articles])
        return out

    monkeypatch.setattr(builder.SegmentBuilder, "content", with_words)
    monkeypatch.setattr(writer_mod, "MAX_SEGMENTS", 1)
    data = tmp_path / "data"
    data.mkdir()
    titles = [" ".join(["w"] * (i + 1)) for i in range(6)]
    feed = data / "feed.jsonl"
    feed.write_text("\n".join(json.dumps({"id": f"r{i}", "title": t, "text": "cargo"})
                              for i, t in enumerate(titles)))
    other = data / "other.jsonl"
    other.write_text(json.dumps({"id": "o", "title": "a b c d e f g h", "text": "grain"}))
    root = tmp_path / "idx"
    writer_mod.IndexWriter(root).update([data], flush_tokens=4)
    feed.unlink()  # its articles are deleted, then merged away
    writer_mod.IndexWriter(root).update([data], flush_tokens=4)
    idx = searchlib.Index.open(root)
    (seg,) = idx.snapshot.segments
    assert seg.columns["art.words"].tolist() == [8] and idx.check() == []


# -- format 3: compact postings and compressed stored text (issue 10) -------------------------


def random_postings(rng: np.random.Generator, n_terms: int, n_docs: int):
    """CSR postings with every width: rare and common terms, far and near documents, tf and
    positions from 1 to beyond 2**16."""
    ptr, docs, tfs, positions = [0], [], [], []
    for t in range(n_terms):
        df = int(rng.choice([0, 1, 3, 127, 128, 129, 300, 1000]))
        df = min(df, n_docs)
        doc = np.sort(rng.choice(n_docs, size=df, replace=False))
        tf = rng.choice([1, 1, 1, 2, 7, 300], size=df) if t % 3 else np.ones(df, dtype=int)
        for n in tf:
            step = int(rng.choice([1, 5, 300, 70_000]))
            positions.append(np.cumsum(rng.integers(0, step, size=n)) + (t % 2) * step)
        ptr.append(ptr[-1] + df)
        docs.append(doc)
        tfs.append(tf)
    cat = lambda parts, dtype: (np.concatenate(parts) if parts else np.zeros(0)).astype(dtype)  # noqa: E731
    return (np.array(ptr, dtype=np.int64), cat(docs, np.int32), cat(tfs, np.int32),
            cat(positions, np.int32))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_packed_postings_decode_to_what_was_written(seed):
    from searchlib.index.postinglists import FieldPostings, encode_postings

    rng = np.random.default_rng(seed)
    n_docs = 200_000
    ptr, doc, tf, pos = random_postings(rng, 40, n_docs)
    columns = encode_postings(ptr, doc, tf, pos)
    assert set(np.unique(columns["width"] & 3)) >= {1, 2, 3}  # every width was exercised
    columns["len"] = np.zeros(n_docs, dtype=np.int32)
    fp = FieldPostings(columns, n_docs, "test/text")
    pos_ptr = np.concatenate([[0], np.cumsum(tf, dtype=np.int64)])
    for t in range(len(ptr) - 1):
        lo, hi = int(ptr[t]), int(ptr[t + 1])
        got_doc, got_tf = fp.postings(t)
        assert got_doc.tolist() == doc[lo:hi].tolist() and got_tf.tolist() == tf[lo:hi].tolist()
        rows = np.sort(rng.choice(hi - lo, size=min(hi - lo, 5), replace=False))
        got_pos, lens = fp.positions(t, rows)
        want = [p for r in rows for p in pos[pos_ptr[lo + r]:pos_ptr[lo + r + 1]]]
        assert got_pos.tolist() == want and lens.tolist() == tf[lo + rows].tolist()
    all_doc, all_tf, all_pos = fp.decode_all()  # what a merge reads
    assert (all_doc.tolist(), all_tf.tolist(), all_pos.tolist()) == (doc.tolist(), tf.tolist(),
                                                                     pos.tolist())


def test_phrases_match_across_blocks_and_wide_positions(tmp_path):
    """A phrase's words spread over many blocks of postings, at positions beyond one byte:
    matches are exactly the paragraphs where the words are adjacent."""
    folder = tmp_path / "docs"
    folder.mkdir()
    rng = np.random.default_rng(5)
    filler = ["alpha", "beta", "gamma", "delta", "omega"]
    expected = set()
    records = []
    for i in range(900):
        words = list(rng.choice(filler, size=int(rng.choice([5, 400]))))
        at = int(rng.integers(0, len(words)))
        if i % 3 == 0:
            words[at:at] = ["reserve", "bank"]
            expected.add(f"r{i}")
        elif i % 3 == 1:
            words[at:at] = ["bank", "zeta", "reserve"]
        records.append({"id": f"r{i}", "title": "t", "text": " ".join(words)})
    (folder / "feed.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    idx = searchlib.Index.build([folder], tmp_path / "idx")
    found = {h.article_id for h in idx.search('"reserve bank"', k=1000, fuzzy=False).hits}
    assert found == expected and len(expected) > 2 * 128


def test_stored_text_is_compressed_and_reads_back_exactly(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    texts = [f"Paragraph {i} of the wire: Zürich café prices rose {i % 7} points — “quoted” "
             "again and again as markets reopened." for i in range(300)]
    (folder / "feed.jsonl").write_text("\n".join(
        json.dumps({"id": f"a{i}", "title": f"Story {i}", "text": t})
        for i, t in enumerate(texts)))
    root = tmp_path / "idx"
    idx = searchlib.Index.build([folder], root)
    store = next(root.glob("segments/*/store.bin"))
    assert store.stat().st_size < 0.5 * sum(len(t.encode()) for t in texts)
    hits = idx.search("markets", k=1000, fuzzy=False).hits
    assert len(hits) == 300 and {h.text for h in hits} == set(texts)


def test_an_index_of_format_2_asks_for_a_rebuild(tmp_path):
    root = tmp_path / "idx"
    searchlib.Index.build([SEEDS], root)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["version"] = 2
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(searchlib.IncompatibleIndex, match="format version 2.*rebuild") as err:
        searchlib.Index.open(root)
    assert "\n" not in str(err.value)
    res = CliRunner().invoke(cli, ["search", "korea", "--index", str(root)])
    assert res.exit_code == 2 and "rebuild" in res.output and "Traceback" not in res.output


def test_hits_of_one_block_decompress_it_once(tmp_path, monkeypatch):
    from searchlib.index.textstore import TextStore

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "feed.jsonl").write_text("\n".join(
        json.dumps({"id": f"a{i}", "title": "t", "text": f"wheat crop number {i}"})
        for i in range(40)))
    idx = searchlib.Index.build([folder], tmp_path / "idx")
    frames = []
    original = TextStore._unpack
    monkeypatch.setattr(TextStore, "_unpack",
                        lambda self, *a: frames.append(a[-1]) or original(self, *a))
    hits = idx.search("wheat", k=40, fuzzy=False).hits
    assert sorted(h.text for h in hits) == sorted(f"wheat crop number {i}" for i in range(40))
    assert frames == [0]  # 40 paragraphs, one block of 64: decompressed once
