"""Hostile input folders: every bad file is skipped with one warning, the rest is indexed, and
memory stays bounded (measured in a child process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

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
    assert len(result["warnings"]) == 5, result["warnings"]
    for name in ("binary.txt", "empty.txt", "huge.txt", "latin1.txt", "loop"):
        assert sum(name in w for w in result["warnings"]) == 1, (name, result["warnings"])
    assert result["rss_mb"] < 1024
    idx = searchlib.Index.open(tmp_path / "idx")
    assert result["paragraphs"] == idx.stats().paragraphs == 2 + 1 + 1 + 1_000_000
    for query, article in (("cocoa", "good.txt"), ("opec", "good.md"), ("zeppelin", "utf16.txt")):
        assert idx.search(query).hits[0].article_id == article
    assert idx.search("tiny", k=3).total == 1_000_000
