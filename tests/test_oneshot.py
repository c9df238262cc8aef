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
