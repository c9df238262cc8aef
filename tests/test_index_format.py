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
