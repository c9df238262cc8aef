"""Bugs a review found, each pinned by the behaviour a user would have seen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import unicodedata

import pytest

import searchlib
from searchlib import CorruptIndex, IndexNotFound
from searchlib.index import storage, writer

from .conftest import REPO


def bump(path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))


@pytest.fixture
def src(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    return folder


def test_emptying_a_file_removes_its_old_text(src, tmp_path):
    path = src / "a.txt"
    path.write_text("Secret plans\n\nthe launch codes are here\n")
    idx = searchlib.Index.build([src], tmp_path / "idx")
    path.write_text("")
    bump(path)
    warnings: list[str] = []
    idx.update([src], warn=warnings.append)
    assert idx.search("launch", fuzzy=False).total == 0
    assert warnings == ["skipped a.txt: empty"]


def test_removing_the_indexed_folder_removes_its_articles_when_asked(src, tmp_path):
    (src / "a.txt").write_text("zebra crossing")
    idx = searchlib.Index.build([src], tmp_path / "idx")
    (src / "a.txt").unlink()
    src.rmdir()
    report = idx.update([src])  # a missing root may be an unmounted drive: kept, reported
    assert idx.search("zebra", fuzzy=False).total == 1 and report.kept_subtrees == [str(src)]
    report = idx.update([src], prune_missing=True)
    assert idx.search("zebra", fuzzy=False).total == 0 and report.files_removed == 1


def test_rebuild_after_a_deletion_only_update_never_reuses_a_generation(src, tmp_path):
    for name in ("a.txt", "b.txt"):
        (src / name).write_text(f"the aardvark sleeps in {name}")
    root = tmp_path / "idx"
    idx = searchlib.Index.build([src], root)
    (src / "b.txt").unlink()
    idx.update([src])  # deletion only: no new segment
    generations = [idx.snapshot.generation]
    for _ in range(2):
        idx = searchlib.Index.build([src], root)
        generations.append(idx.snapshot.generation)
    assert generations == sorted(set(generations))  # strictly increasing
    # a rebuild killed before its commit leaves the live commit whole
    code = f"import searchlib; searchlib.Index.build([{str(src)!r}], {str(root)!r})"
    env = dict(os.environ, SEARCHLIB_FAILPOINT="before-manifest")
    assert subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO).returncode == -9
    again = searchlib.Index.open(root)
    assert again.check() == []
    (src / "a.txt").write_text("the aardvark wakes")
    bump(src / "a.txt")
    again.update([src])
    assert [h.text for h in again.search("aardvark", fuzzy=False).hits] == ["the aardvark wakes"]


def test_a_failure_after_the_manifest_rename_keeps_the_new_commit(src, tmp_path, monkeypatch):
    (src / "a.txt").write_text("first text")
    root = tmp_path / "idx"
    searchlib.Index.build([src], root)
    (src / "b.txt").write_text("second text about otters")

    def broken_fsync(path):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(storage, "fsync_dir", broken_fsync)
    monkeypatch.setattr(writer, "fsync_dir", lambda p: None)
    searchlib.Index.open(root).update([src])  # durability of the rename is best effort
    monkeypatch.undo()
    idx = searchlib.Index.open(root)
    assert idx.check() == [] and idx.search("otters").total == 1


def test_a_crashed_first_build_does_not_block_the_next(src, tmp_path):
    (src / "a.txt").write_text("first text")
    root = tmp_path / "idx"
    code = textwrap.dedent(f"""
        import searchlib
        searchlib.Index.create_or_update([{str(src)!r}], {str(root)!r})
    """)
    env = dict(os.environ, SEARCHLIB_FAILPOINT="before-manifest")
    assert subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO).returncode == -9
    with pytest.raises(IndexNotFound):
        searchlib.Index.open(root)
    idx, report = searchlib.Index.create_or_update([src], root)
    assert report.files_added == 1 and idx.search("first").total == 1


def test_refresh_does_not_leak_open_files(src, tmp_path):
    (src / "a.txt").write_text("some text")
    idx = searchlib.Index.build([src], tmp_path / "idx")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        idx.refresh()
    assert len(os.listdir("/proc/self/fd")) <= before + 5
    idx.close()


def test_decomposed_accents_are_part_of_words(src, tmp_path):
    text = "A naïve résumé from Zürich café"
    (src / "nfd.txt").write_text(unicodedata.normalize("NFD", text))
    (src / "ar.txt").write_text("كَتَبَ الرسالة")
    idx = searchlib.Index.build([src], tmp_path / "idx")
    nfd_cafe = unicodedata.normalize("NFD", "café")
    for query in ("naïve", "naive", "résumé", "Zürich", "cafe", nfd_cafe):
        res = idx.search(query, fuzzy=False)
        assert res.total == 1, query
        hit = res.hits[0]
        marked = unicodedata.normalize("NFC", hit.text[slice(*hit.spans[0])])
        assert marked.lower() in ("naïve", "résumé", "zürich", "café")
    assert idx.search("كتب", fuzzy=False).total == 1


def test_a_repeated_word_in_a_sloppy_phrase_needs_two_occurrences(src, tmp_path):
    (src / "a.txt").write_text("the new plan\nnew york city\nthe new new thing\n")
    idx = searchlib.Index.build([src], tmp_path / "idx")
    assert [h.paragraph for h in idx.search('"new new"~1', fuzzy=False).hits] == [3]
    assert idx.search('"york york"~2', fuzzy=False).total == 0


def test_fuzzy_fallback_never_widens_an_exclusion(src, tmp_path):
    (src / "a.txt").write_text("zebra on the strip\nzebra stripes\nzebra alone\n")
    idx = searchlib.Index.build([src], tmp_path / "idx")
    plain = {h.paragraph for h in idx.search("zebra -stripes", fuzzy=False).hits}
    fuzzy = {h.paragraph for h in idx.search("zebra -stripes").hits}
    assert plain == fuzzy == {1, 3}


def test_ties_do_not_depend_on_k(src, tmp_path):
    (src / "a.txt").write_text("\n".join("zebra stripes" if i % 2 else "zebra"
                                         for i in range(400)))
    idx = searchlib.Index.build([src], tmp_path / "idx")
    first10 = [h.paragraph for h in idx.search("stripes", k=10).hits]
    first20 = [h.paragraph for h in idx.search("stripes", k=20).hits]
    assert first10 == first20[:10] == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]


def test_words_of_deleted_texts_are_not_suggested(src, tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "MAX_SEGMENTS", 1)
    (src / "a.txt").write_text("zebu cattle herd")
    (src / "b.txt").write_text("zebra animal")
    idx = searchlib.Index.build([src], tmp_path / "idx")
    (src / "c.txt").write_text("cattle market")
    idx.update([src])
    (src / "b.txt").unlink()
    idx.update([src])
    res = idx.search("zebrq")
    assert res.did_you_mean is None and res.total == 0
    assert idx.complete("zeb") == ["zebu"]


@pytest.mark.parametrize("query", ["zebra (lion AND tiger)", "zebra (lion -zebra)",
                                   "zebra stripes", '"zebra stripes" lion'])
def test_explain_matches_the_score_exactly(src, tmp_path, query):
    (src / "a.txt").write_text("zebra and lion\nzebra stripes\nlion and tiger\n")
    (src / "b.txt").write_text("a zebra with stripes")
    idx = searchlib.Index.build([src], tmp_path / "idx")
    for articles in (False, True):
        for hit in idx.search(query, articles=articles).hits:
            exp = idx.explain(query, hit, articles=articles)
            assert exp.score == pytest.approx(hit.score, rel=1e-9), (query, articles)


def test_a_damaged_deletion_file_is_detected(src, tmp_path):
    for name in ("a.txt", "b.txt"):
        (src / name).write_text(f"zebra in {name}")
    root = tmp_path / "idx"
    idx = searchlib.Index.build([src], root)
    (src / "b.txt").unlink()
    idx.update([src])
    entry = json.loads((root / "manifest.json").read_text())["segments"][0]
    path = root / "segments" / entry["name"] / entry["deleted"]
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptIndex, match="checksum"):
        searchlib.Index.open(root)


def test_a_damaged_stem_cache_is_ignored_not_trusted(src, tmp_path):
    (src / "a.txt").write_text("zebras everywhere")
    root = tmp_path / "idx"
    searchlib.Index.build([src], root)
    stems = next(root.glob("stems-*.tsv"))
    stems.write_text(stems.read_text().replace("zebras\tzebra", "zebras\tzebrb"))
    idx = searchlib.Index.open(root)
    assert idx.search("zebras", fuzzy=False).total == 1
    assert any("stems" in p for p in idx.check())


def test_a_same_size_replacement_with_the_old_mtime_is_noticed(src, tmp_path):
    """cp -p / rsync -t keep the mtime; the new inode or ctime still gives the change away."""
    path = src / "a.txt"
    path.write_text("zebra herd")
    st = path.stat()
    idx = searchlib.Index.build([src], tmp_path / "idx")
    replacement = src / "a.tmp"
    replacement.write_text("okapi herd")  # same size
    os.utime(replacement, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(replacement, path)
    report = idx.update([src])
    assert report.files_changed == 1
    assert idx.search("okapi", fuzzy=False).total == 1
    assert idx.search("zebra", fuzzy=False).total == 0


def test_open_shows_the_article_that_was_hit_even_when_ids_repeat(tmp_path):
    for folder, text in (("c1", "Alpha one\nalpha body apples"),
                         ("c2", "Alpha two\nsecond body bananas")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.txt").write_text(text)
    root = tmp_path / "idx"
    searchlib.Index.build([tmp_path / "c1", tmp_path / "c2"], root)
    proc = subprocess.run([sys.executable, "-m", "searchlib", "shell", "--index", str(root)],
                          input="bananas\n:open 1\n", capture_output=True, text=True, cwd=REPO,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    opened = proc.stdout.split("Alpha two", 2)[-1]
    marked = [line for line in opened.splitlines() if line.startswith(">>")]
    assert len(marked) == 1 and "bananas" in marked[0]


def test_index_without_path_resyncs_what_the_index_was_built_from(tmp_path):
    arts = tmp_path / "arts"
    arts.mkdir()
    (arts / "o.txt").write_text("Okapi news.")
    root = tmp_path / "idx"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "searchlib", *args, "--index", str(root)],
                              capture_output=True, text=True, cwd=tmp_path, timeout=60)

    assert cli("index", str(arts)).returncode == 0
    (arts / "t.txt").write_text("Tapir news.")
    assert cli("index").returncode == 0  # no seeds/ here: it re-reads arts/
    assert cli("index", "--rebuild").returncode == 0
    idx = searchlib.Index.open(root)
    assert {h.article_id for h in idx.search("news", k=5).hits} == {"o.txt", "t.txt"}
    assert idx.roots == [str(arts)]


@pytest.mark.parametrize("kwargs", [{"default_operator": "XOR"}, {"k": 0}, {"k1": -1},
                                    {"b": 2.0}, {"title_boost": -0.5}])
def test_bad_library_arguments_are_value_errors_not_corruption(seed_index, kwargs):
    with pytest.raises(ValueError):
        seed_index.search("korea", **kwargs)


def test_an_unexpected_file_list_is_one_clear_error(src, tmp_path):
    (src / "a.txt").write_text("zebra")
    root = tmp_path / "idx"
    searchlib.Index.build([src], root)
    sources = next(root.glob("sources-*.json"))
    sources.write_text(json.dumps({str(src / "a.txt"): [5, 1, [["seg", 0, 1]]]}))  # old layout
    (src / "b.txt").write_text("okapi")
    with pytest.raises(searchlib.SearchlibError, match="rebuild"):
        searchlib.Index.open(root, verify=False).update([src])


def test_a_new_index_of_nothing_is_an_empty_index_not_an_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "blank.txt").write_text("")
    warnings: list[str] = []
    idx, report = searchlib.Index.create_or_update([empty], tmp_path / "idx",
                                                   warn=warnings.append)
    assert report.committed and warnings == ["skipped blank.txt: empty"]
    assert idx.stats().paragraphs == 0 and idx.search("anything").total == 0
    assert idx.check() == []
