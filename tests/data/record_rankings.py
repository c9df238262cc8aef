"""Record the top-100 of every query of the four test collections (see
tests/test_rankings_unchanged.py). Run from the repository root with ../shared present."""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from tests.test_rankings_unchanged import BASELINE, COLLECTIONS, current_rankings  # noqa: E402

if __name__ == "__main__":
    datasets = HERE.parents[2] / "shared" / "datasets"
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in COLLECTIONS:
            out[name] = current_rankings(datasets / name, Path(tmp) / name)
    BASELINE.write_bytes(gzip.compress(json.dumps(out, separators=(",", ":")).encode(), 9))
    print(f"wrote {BASELINE} ({BASELINE.stat().st_size} bytes)")
