"""Defects found reading the whole change once more: long strict errors, `check` listing
every damaged file, rebuild keeping the analyzer, typos and prefixes in edge positions."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import searchlib
from searchlib.errors import QuerySyntaxError

from .conftest import SEEDS


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "searchlib", *args], capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1",
                                          "PYTHONPATH": str(Path(__file__).parents[1])})


def test_a_strict_error_in_a_huge_query_shows_only_the_spot(tmp_path):
    idx = tmp_path / "idx"
    searchlib.Index.build([SEEDS], idx)
    query = "korea " * 10_000 + "(" + " shells" * 100
    out = run("search", "--strict", "--index", str(idx), "--", query)
    assert out.returncode == 2
    lines = out.stderr.splitlines()
    assert len(lines) == 3 and all(len(line) < 120 for line in lines), lines
    caret = lines[2].index("^") - 2  # the caret line is indented like the query line
    assert lines[1][2 + caret] == "("


def test_the_caret_stays_under_the_spot_across_newlines():
    err = QuerySyntaxError("bad", 6, "ab\ncd\n(ef")
    shown, caret = err.caret().split("\n")
    assert shown[caret.index("^")] == "("


def test_check_lists_every_damaged_file(tmp_path):
    root = tmp_path / "idx"
    searchlib.Index.build([SEEDS], root)
    seg = next((root / "segments").iterdir())
    damaged = ["store.bin", "text.doc.npy", "title.pos.npy"]
    for name in damaged:
        data = bytearray((seg / name).read_bytes())
        data[-1] ^= 0xFF
        (seg / name).write_bytes(bytes(data))
    out = run("check", "--index", str(root))
    assert out.returncode == 2
    for name in damaged:
        assert name in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_the_analyzer_version_message_names_no_command(tmp_path):
    root = tmp_path / "idx"
    searchlib.Index.build([SEEDS], root)
    manifest = root / "manifest.json"
    text = manifest.read_text()
    manifest.write_text(text.replace('"version": 2', '"version": 1', 1))
    if manifest.read_text() == text:
        pytest.skip("manifest layout differs")
    with pytest.raises(searchlib.SearchlibError) as info:
        searchlib.Index.open(root)
    message = str(info.value)
    assert "--rebuild" not in message and "searchlib index" not in message


def test_index_build_keeps_the_replaced_index_settings(tmp_path):
    root = tmp_path / "idx"
    searchlib.Index.build([SEEDS], root, stemmer="porter", stopwords=False)
    rebuilt = searchlib.Index.build([SEEDS], root)
    analyzer = rebuilt.stats().analyzer
    assert analyzer["stemmer"] == "porter" and analyzer["stopwords"] is False


def test_a_new_index_defaults_to_snowball_with_stopwords(tmp_path):
    analyzer = searchlib.Index.build([SEEDS], tmp_path / "idx").stats().analyzer
    assert analyzer["stemmer"] == "snowball" and analyzer["stopwords"] is True


@pytest.fixture
def small(tmp_path) -> searchlib.Index:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("A large increase in heating oil prices.\n\n"
                                "Artillery shells were delivered.\n")
    (docs / "b.txt").write_text("Heating oil stocks fell sharply.\n\nA large increase again.\n")
    (docs / "c.txt").write_text("Large heating bills.\n\nAnother large heating report.\n\n"
                                "The heat rose.\n")
    return searchlib.Index.build([docs], tmp_path / "idx")


def test_a_short_unknown_word_inside_a_phrase_is_corrected(small):
    res = small.search('"lrge increase"')
    assert res.total >= 1 and res.did_you_mean == '"large increase"'


def test_did_you_mean_spells_the_word_that_was_matched(small):
    res = small.search("heting")
    assert res.did_you_mean == "heating"


def test_a_phrase_that_could_not_be_fixed_suggests_nothing(small):
    res = small.search('"artilery qqqqzzzq shells"')
    assert res.did_you_mean is None


def test_a_prefix_that_starts_no_word_matches_nothing(small):
    res = small.search("heatx*")
    assert res.total == 0 and not res.hits


def test_pruning_a_missing_root_that_held_nothing_is_remembered(tmp_path):
    docs, gone = tmp_path / "docs", tmp_path / "gone"
    docs.mkdir()
    gone.mkdir()
    (docs / "a.txt").write_text("Zebra crossing.\n")
    root = tmp_path / "idx"
    searchlib.Index.build([docs, gone], root)
    gone.rmdir()
    idx = searchlib.Index.open(root)
    idx.update([docs, gone], prune_missing=True)
    assert str(gone) not in searchlib.Index.open(root).roots
    warnings: list[str] = []
    searchlib.Index.open(root).update(searchlib.Index.open(root).roots, warn=warnings.append)
    assert not any("gone" in w for w in warnings), warnings


def test_a_rebuild_refuses_to_drop_a_folder_it_cannot_read(tmp_path):
    docs, drive = tmp_path / "docs", tmp_path / "drive"
    docs.mkdir()
    drive.mkdir()
    (docs / "a.txt").write_text("Zebra crossing.\n")
    (drive / "b.txt").write_text("Okapi sighting.\n")
    root = tmp_path / "idx"
    searchlib.Index.build([docs, drive], root)
    shutil.move(drive, tmp_path / "unmounted")
    with pytest.raises(searchlib.IndexWriteError, match="would be lost"):
        searchlib.Index.build([docs, drive], root)
    assert searchlib.Index.open(root).search("okapi").total == 1  # the previous commit stands
    rebuilt = searchlib.Index.create_or_update([docs, drive], root, rebuild=True,
                                               prune_missing=True)[0]
    assert rebuilt.search("okapi").total == 0


def test_the_truncation_warning_survives_many_syntax_problems(tmp_path):
    idx = searchlib.Index.build([SEEDS], tmp_path / "idx")
    query = "((((( korea " + "x" * 100_500
    warnings = idx.search(query).warnings
    assert any("longer than 100,000 characters" in w for w in warnings), warnings


class _FailingAfter:
    """A binary file that raises EIO once `limit` bytes have been read (a failing disk)."""

    def __init__(self, f, limit: int) -> None:
        self.f, self.limit, self.done = f, limit, 0

    def read(self, n: int = -1) -> bytes:
        if self.done >= self.limit:
            raise OSError(5, "Input/output error")
        data = self.f.read(n if n >= 0 else self.limit)
        self.done += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        if self.done >= self.limit:
            raise OSError(5, "Input/output error")
        line = self.f.readline(size)
        self.done += len(line)
        return line

    def seek(self, *args):
        self.done = 0  # the sniffed head is read again
        return self.f.seek(*args)

    def __getattr__(self, name):
        return getattr(self.f, name)


def test_an_io_error_inside_a_jsonl_is_read_again_next_time(tmp_path, monkeypatch):
    from searchlib import corpus

    docs = tmp_path / "docs"
    docs.mkdir()
    lines = [f'{{"id": "r{i}", "text": "record {i} zebra{i}"}}\n' for i in range(200)]
    (docs / "dump.jsonl").write_text("".join(lines))
    root = tmp_path / "idx"
    real_open = open
    monkeypatch.setattr(corpus, "open", lambda p, mode: _FailingAfter(
        real_open(p, "rb", buffering=0), 2000), raising=False)
    warnings: list[str] = []
    idx = searchlib.Index.build([docs], root, warn=warnings.append)
    assert any("read again next time" in w for w in warnings), warnings
    assert idx.search("zebra199", fuzzy=False).total == 0  # past the failure: not read
    monkeypatch.undo()
    report = searchlib.Index.open(root).update([docs])
    assert report.files_changed == 1  # the unchanged file is read again, not trusted
    assert searchlib.Index.open(root).search("zebra199", fuzzy=False).total == 1
