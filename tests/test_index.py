"""The on-disk index: incremental updates, segments and merges, errors, and BM25 exactness."""

from __future__ import annotations

import json
import math
import os
from collections import Counter

import pytest

import searchlib
from searchlib import IncompatibleIndex, IndexNotFound, NotAnIndex
from searchlib.analysis import Analyzer
from searchlib.index import writer as writer_mod

from .conftest import SEEDS


def write(path, text: str, bump: int = 0) -> None:
    path.write_text(text)
    if bump:  # make the change visible even within one mtime tick
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump))


def ids(res) -> set[str]:
    return {h.article_id for h in res.hits}


def test_update_adds_changes_and_removes_files(seed_copy, tmp_path):
    root = tmp_path / "idx"
    idx = searchlib.Index.build([seed_copy], root)
    before = idx.search("artillery shells").hits[0]

    extra = seed_copy / "zebra.txt"
    write(extra, "Okapis crossed the savanna.\nThe herd was large.")
    report = idx.update([seed_copy])
    assert (report.files_added, report.files_changed, report.files_removed) == (1, 0, 0)
    assert ids(idx.search("okapis")) == {"zebra.txt"}

    write(extra, "Giraffes crossed the river.", bump=10_000_000)
    report = idx.update([seed_copy])
    assert report.files_changed == 1
    assert ids(idx.search("giraffes")) == {"zebra.txt"}
    assert idx.search("okapis", fuzzy=False).total == 0

    extra.unlink()
    report = idx.update([seed_copy])
    assert report.files_removed == 1
    assert idx.search("giraffes", fuzzy=False).total == 0

    after = idx.search("artillery shells").hits[0]
    assert (after.article_id, after.paragraph, after.text) == (
        before.article_id, before.paragraph, before.text)
    assert after.score == pytest.approx(before.score, rel=1e-12)
    assert idx.stats().paragraphs == 13
    assert idx.check() == []


def test_unchanged_update_commits_nothing(seed_copy, tmp_path):
    idx = searchlib.Index.build([seed_copy], tmp_path / "idx")
    gen = idx.snapshot.generation
    report = idx.update([seed_copy])
    assert not report.committed and report.files_unchanged == 1
    assert idx.snapshot.generation == gen


def test_updating_one_folder_keeps_articles_from_another(seed_copy, tmp_path):
    more = tmp_path / "more"
    more.mkdir()
    write(more / "cocoa.txt", "Cocoa prices rose in Bahia.")
    root = tmp_path / "idx"
    idx = searchlib.Index.build([seed_copy, more], root)
    write(more / "cocoa.txt", "Coffee prices rose in Brazil.", bump=10_000_000)
    idx.update([more])
    assert idx.search("coffee").total == 1
    assert idx.search("artillery").total == 1  # seeds/ not given this time: untouched


def test_missing_path_does_not_delete_indexed_articles(seed_copy, tmp_path):
    idx = searchlib.Index.build([seed_copy], tmp_path / "idx")
    warnings: list[str] = []
    idx.update([tmp_path / "typo"], warn=warnings.append)
    assert warnings and "typo" in warnings[0]
    assert idx.search("artillery").total == 1


def test_many_updates_merge_and_score_like_a_fresh_build(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_mod, "MAX_SEGMENTS", 3)
    docs = tmp_path / "docs"
    docs.mkdir()
    root = tmp_path / "idx"
    texts = [f"Report {i}: oil prices and wheat harvest number {i}.\nCocoa {i % 3}."
             for i in range(7)]
    idx = None
    for i, text in enumerate(texts):
        write(docs / f"r{i}.txt", text)
        if idx is None:
            idx = searchlib.Index.build([docs], root)
        else:
            idx.update([docs])
    write(docs / "r2.txt", "Changed report about gold.", bump=10_000_000)
    (docs / "r5.txt").unlink()
    idx.update([docs])
    assert len(idx.snapshot.segments) <= 3
    fresh = searchlib.Index.build([docs], tmp_path / "fresh")
    for query in ("oil prices", "cocoa", "gold", '"wheat harvest"', "report~"):
        got, want = (
            sorted((h.article_id, h.paragraph, round(h.score, 9)) for h in ix.search(query, k=20))
            for ix in (idx, fresh)
        )
        assert got == want, query
    assert idx.check() == []


# -- errors --------------------------------------------------------------------------------------


def test_open_errors_are_specific(tmp_path):
    with pytest.raises(IndexNotFound):
        searchlib.Index.open(tmp_path / "nothing")
    stuff = tmp_path / "stuff"
    stuff.mkdir()
    (stuff / "notes.txt").write_text("hello")
    with pytest.raises(NotAnIndex):
        searchlib.Index.open(stuff)
    root = tmp_path / "idx"
    searchlib.Index.build([SEEDS], root)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["version"] = 99
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IncompatibleIndex) as err:
        searchlib.Index.open(root)
    assert "\n" not in str(err.value) and "99" in str(err.value)


def test_rebuild_refuses_a_folder_that_is_not_an_index(tmp_path):
    stuff = tmp_path / "stuff"
    stuff.mkdir()
    (stuff / "precious.txt").write_text("do not delete")
    with pytest.raises(NotAnIndex):
        searchlib.Index.build([SEEDS], stuff)
    with pytest.raises(NotAnIndex):  # nor write an index among someone's files
        searchlib.Index.create_or_update([SEEDS], stuff)
    assert sorted(p.name for p in stuff.iterdir()) == ["precious.txt"]
    assert (stuff / "precious.txt").read_text() == "do not delete"


def test_changing_the_stemmer_needs_a_rebuild(tmp_path):
    root = tmp_path / "idx"
    searchlib.Index.build([SEEDS], root)
    with pytest.raises(searchlib.SearchlibError, match="rebuild"):
        searchlib.Index.create_or_update([SEEDS], root, stemmer="porter")
    idx = searchlib.Index.build([SEEDS], root, stemmer="none")
    assert idx.search("sanction", fuzzy=False).total == 0  # unstemmed: only "sanctions"
    assert idx.search("sanctions").total == 1


# -- differential BM25 -----------------------------------------------------------------------------


def reference_bm25(paragraphs: list[str], query_words: list[str], k1: float, b: float) -> dict:
    """A deliberately naive BM25 (Lucene idf), from Counters: the oracle for our numpy one.
    Returns {1-based paragraph number: score} for paragraphs with a score."""
    an = Analyzer()
    docs = [Counter(t for t in an.terms(p) if t) for p in paragraphs]
    return {i + 1: s for i, s in reference_counts(docs, query_words, k1, b).items()}


def reference_counts(docs: list[Counter], query_words: list[str], k1: float, b: float) -> dict:
    an = Analyzer()
    lengths = [sum(d.values()) for d in docs]
    n, avg = len(docs), sum(lengths) / len(docs)
    terms = [an.term(w) for w in query_words]
    scores = {}
    for i, doc in enumerate(docs):
        s = 0.0
        for t in terms:
            if t is None or doc[t] == 0:
                continue
            df = sum(1 for d in docs if d[t])
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            tf = doc[t]
            s += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths[i] / avg))
        if s:
            scores[i] = s
    return scores


@pytest.mark.parametrize("k1,b", [(1.2, 0.75), (0.9, 0.4), (2.0, 1.0), (1.5, 0.0)])
@pytest.mark.parametrize("query", [
    "artillery shells", "north korea russia", "military support", "missile japan korea",
    "sanctions alliance", "the war in Ukraine",
])
def test_scores_equal_a_naive_bm25(seed_index, query, k1, b):
    _, paras = seed_index.article("north-korea-ukraine-war.txt")
    expected = reference_bm25(paras, query.split(), k1, b)
    res = seed_index.search(query, k=50, k1=k1, b=b, title_boost=0.0, fuzzy=False)
    got = {h.paragraph: h.score for h in res.hits}
    assert got.keys() == expected.keys()
    for p, score in expected.items():
        assert got[p] == pytest.approx(score, abs=1e-6)


def test_title_field_scores_equal_a_naive_bm25(tmp_path):
    """With title_boost, a paragraph gets its article's title BM25 (over articles) × boost."""
    docs = tmp_path / "docs"
    docs.mkdir()
    articles = {
        "a.md": ("Korea and Russia", ["Talks on arms.", "Korea warns Russia, Russia replies."]),
        "b.md": ("Oil prices", ["Korea imports oil.", "Prices fall."]),
        "c.md": ("Russia today", ["Weather report.", "Markets rally in Russia."]),
    }
    for name, (title, paras) in articles.items():
        (docs / name).write_text(f"# {title}\n\n" + "\n\n".join(paras) + "\n")
    idx = searchlib.Index.build([docs], tmp_path / "idx")
    an = Analyzer()
    titles = {n: Counter(t for t in an.terms(t) if t) for n, (t, _) in articles.items()}
    all_paras = [(n, i + 1, p) for n, (_, ps) in articles.items() for i, p in enumerate(ps)]
    k1, b, boost = 1.1, 0.6, 0.7
    for query in ("korea russia", "oil", "russia"):
        text = reference_bm25([p for _, _, p in all_paras], query.split(), k1, b)
        title_scores = reference_counts(list(titles.values()), query.split(), k1, b)
        expected = {}
        for i, (name, no, _) in enumerate(all_paras):
            score = text.get(i + 1, 0.0) + boost * title_scores.get(list(titles).index(name), 0.0)
            if score:
                expected[(name, no)] = score
        # a paragraph matching only through its title is listed only for an article whose
        # text does not match, and then only its first paragraph
        in_text = {all_paras[i - 1][:2] for i in text}
        said = {name for name, _ in in_text}
        expected = {(n, no): v for (n, no), v in expected.items()
                    if (n, no) in in_text or (n not in said and no == 1)}
        res = idx.search(query, k=50, k1=k1, b=b, title_boost=boost, fuzzy=False)
        got = {(h.article_id, h.paragraph): h.score for h in res.hits}
        assert got.keys() == expected.keys(), query
        for key, score in expected.items():
            assert got[key] == pytest.approx(score, abs=1e-6)


def test_scores_ignore_deleted_documents(seed_copy, tmp_path):
    """Statistics are over live paragraphs: an index that had a file and lost it scores
    exactly like one that never had it."""
    write(seed_copy / "noise.txt", "Russia and North Korea.\nMore about Russia.\nKorea.")
    idx = searchlib.Index.build([seed_copy], tmp_path / "a")
    (seed_copy / "noise.txt").unlink()
    idx.update([seed_copy])
    clean = searchlib.Index.build([seed_copy], tmp_path / "b")
    for q in ("north korea russia", "russia"):
        got = [round(h.score, 9) for h in idx.search(q, k=20).hits]
        want = [round(h.score, 9) for h in clean.search(q, k=20).hits]
        assert got == want


def test_a_big_record_file_spans_segments_and_updates_cleanly(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_mod, "TIERED", False)  # the flushes stay segments of their own
    data = tmp_path / "data"
    data.mkdir()
    records = [{"id": f"r{i}", "title": f"Story {i}", "text": f"Cargo {i} shipped via port."}
               for i in range(60)]
    path = data / "feed.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    root = tmp_path / "idx"
    writer_mod.IndexWriter(root, rebuild=True).update([data], flush_tokens=25)
    idx = searchlib.Index.open(root)
    assert len(idx.snapshot.segments) > 1  # one file, several segments
    assert idx.search("cargo", k=100).total == 60
    records[5]["text"] = "Changed: grain shipped."
    write(path, "\n".join(json.dumps(r) for r in records[:40]), bump=10_000_000)
    writer_mod.IndexWriter(root).update([data], flush_tokens=25)
    idx.refresh()
    assert idx.search("cargo", k=100).total == 39
    assert [h.article_id for h in idx.search("grain").hits] == ["r5"]
    assert idx.check() == []
