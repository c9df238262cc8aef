"""A one-shot `searchlib search` loads only what a search needs."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO

# What a search has no use for: the shell's line editor, the stats table, the reference
# engines and evaluation code of `bench`, the index writer and the file readers.
NOT_FOR_SEARCH = ("prompt_toolkit", "tabulate", "whoosh", "searchlib.evaluation",
                  "searchlib.index.writer", "searchlib.corpus", "searchlib.cli.bench_cmd",
                  "searchlib.cli.shell")


def test_one_shot_search_imports_only_what_it_needs(seed_index):
    code = (
        "import sys\n"
        "from searchlib.cli import main\n"
        "try:\n"
        f"    main(['search', '--index', {str(seed_index.root)!r}, 'artillery', '-k', '1'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        f"heavy = sorted(m for m in sys.modules if m.startswith({NOT_FOR_SEARCH!r}))\n"
        "print('loaded:' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True)
    assert "artillery" in out.stdout.lower()  # it did search
    assert out.stdout.strip().splitlines()[-1] == "loaded:"


def test_titles_and_ids_read_one_by_one_are_exact(tmp_path):
    """Hits decode only their own article's record: quotes, brackets and backslashes in ids
    and titles must come back exactly as indexed."""
    import json

    import searchlib

    records = [
        {"id": 'a"], ["b', "title": 'Zebra "], [" title\\', "text": "zebra one"},
        {"id": "c\\", "title": "Ünïcode zebra ✓", "text": "zebra two"},
        {"id": "plain", "title": "Plain", "text": "zebra three"},
    ]
    src = tmp_path / "r.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    idx = searchlib.Index.build([src], tmp_path / "idx")
    got = {(h.article_id, h.title) for h in idx.search("zebra", k=10).hits}
    assert got == {(r["id"], r["title"]) for r in records}
    assert idx.article(records[0]["id"])[0] == records[0]["title"]
