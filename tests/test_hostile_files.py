"""Hostile input folders: every bad file is skipped with one warning, the rest is indexed, and
memory stays bounded (measured in a child process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import searchlib

from .conftest import REPO


def hostile_folder(root) -> None:
    root.mkdir()
    (root / "good.txt").write_text("Cocoa harvest in Bahia.\nShowers helped the crop.")
    (root / "good.md").write_text("# Oil report\n\nOPEC ministers met in Vienna.\n")
    (root / "utf16.txt").write_bytes("Zeppelin flight over the Alps.".encode("utf-16"))
    (root / "binary.txt").write_bytes(b"\x7fELF\x00\x01\x02" * 100)
    (root / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me news".encode("latin-1"))
    (root / "empty.txt").write_text("")
    (root / "loop").mkdir()
    (root / "loop" / "again").symlink_to(root / "loop")
    with open(root / "huge.txt", "w") as f:  # 200 MB single line (sparse: cheap to make)
        f.write("word " * 10)
        f.truncate(200 * 2**20)
    (root / "million.txt").write_text("tiny para\n" * 1_000_000)
    with open(root / "feed.jsonl", "w") as f:  # a 200 MB record between two small ones
        f.write('{"id": "quokka", "text": "Quokka census"}\n{"id": "giant", "text": "')
        for _ in range(200):
            f.write("w " * 2**19)
        f.write('"}\n{"id": "wombat", "text": "Wombat news"}\n')


CHILD = textwrap.dedent("""
    import json, resource, sys
    import searchlib
    warnings = []
    idx = searchlib.Index.build([sys.argv[1]], sys.argv[2], warn=warnings.append)
    print(json.dumps({"warnings": warnings, "paragraphs": idx.stats().paragraphs,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")


def test_hostile_folder_indexes_the_good_files_with_bounded_memory(tmp_path):
    docs = tmp_path / "docs"
    hostile_folder(docs)
    out = subprocess.run([sys.executable, "-c", CHILD, str(docs), str(tmp_path / "idx")],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert len(result["warnings"]) == 6, result["warnings"]
    for name in ("binary.txt", "empty.txt", "huge.txt", "latin1.txt", "loop", "feed.jsonl"):
        assert sum(name in w for w in result["warnings"]) == 1, (name, result["warnings"])
    assert ('skipped feed.jsonl line 2 (id "giant"): record too large (200 MB, limit 16 MB '
            'per record)') in result["warnings"]
    assert result["rss_mb"] < 1024
    idx = searchlib.Index.open(tmp_path / "idx")
    assert result["paragraphs"] == idx.stats().paragraphs == 2 + 1 + 1 + 1 + 1_000_000 + 2
    for query, article in (("cocoa", "good.txt"), ("opec", "good.md"), ("zeppelin", "utf16.txt"),
                           ("crème", "latin1.txt"), ("quokka", "quokka"), ("wombat", "wombat")):
        assert idx.search(query).hits[0].article_id == article
    assert idx.search("tiny", k=3).total == 1_000_000


def test_names_not_utf8_and_lone_surrogates_are_indexed_updated_and_printed(tmp_path):
    """A file name that is not UTF-8 and a record with a lone surrogate used to crash the
    build (and every later update). Driven through `python -m searchlib` with a strict UTF-8
    stdout, as a user's terminal has."""
    docs = tmp_path / "docs"
    docs.mkdir()
    bad_name = os.fsdecode(b"bad\xff.txt")
    try:
        (docs / bad_name).write_text("Zebra crossing opened.\n\nA second paragraph.")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses file names that are not UTF-8")
    (docs / "s.jsonl").write_text('{"id": "s1", "text": "bad \\ud800 zebra"}\n')
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}

    def cli(*args: str) -> tuple[int, str, str]:
        res = subprocess.run([sys.executable, "-m", "searchlib", *args,
                              "--index", str(tmp_path / "idx")],
                             capture_output=True, cwd=REPO, env=env, timeout=300)
        assert b"Traceback" not in res.stderr, res.stderr.decode("utf-8", "replace")
        return res.returncode, res.stdout.decode("utf-8"), res.stderr.decode("utf-8")

    code, out, err = cli("index", str(docs))
    assert code == 0 and "2 articles" in out and "2 added" in out, err
    assert err.splitlines() == ["searchlib: warning: s.jsonl: invalid characters (lone "
                                "surrogates) replaced by U+FFFD in 1 record: s1"]
    code, out, err = cli("index", str(docs))
    assert code == 0 and "0 added, 0 changed, 0 removed, 2 unchanged" in out, err
    code, out, _ = cli("search", "zebra")
    assert code == 0 and "[bad\ufffd.txt]" in out and "[s1]" in out
    code, out, _ = cli("search", "zebra", "--json")
    hits = [json.loads(line) for line in out.splitlines()][:-1]
    assert {hit["article"] for hit in hits} == {bad_name, "s1"}  # the exact name, escaped
    assert "bad \ufffd zebra" in {hit["text"] for hit in hits}
    idx = searchlib.Index.open(tmp_path / "idx")
    assert idx.update([docs]).files_unchanged == 2  # the library agrees: nothing changed
