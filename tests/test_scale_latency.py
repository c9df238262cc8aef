"""The scale benchmark's latency table and target lines say what the rows say."""

from __future__ import annotations

from searchlib.evaluation.scale import ScaleRow, latency_table, targets


def _row(engine: str, scale: int, p95: float, search=None, rank=None, open_ms=5.0) -> ScaleRow:
    kinds = {"or": [1.0 * scale, p95, 1.0], "and": [1.0, p95, 1.0], "phrase": [0.5, p95, 1.0]}
    return ScaleRow(engine, scale, 1000 * scale, 1.0, 1, 1, kinds, open_ms, search, rank)


def test_targets_name_each_figure_and_whether_it_is_met():
    rows = [_row("searchlib", 1, 2.0, 10.0, 5.0), _row("tantivy", 1, 1.0),
            _row("searchlib", 10, 8.0, 30.0, 25.0, open_ms=80.0), _row("tantivy", 10, 2.0),
            _row("base", 10, 99.0)]
    lines = targets(rows)
    assert "or p50 ≤ 2× tantivy: 1.00× met" in lines  # 10 ms against 10 ms at ×10
    assert "or p95 ≤ 2× tantivy: 4.00× missed" in lines
    assert "or p95 growth ×1→×10 ≤ 3×: 4.00× (tantivy: 2.00×) missed" in lines
    assert "search(k=1000) ≤ 1.5× rank(k=1000): 1.20× met" in lines
    assert "open ≤ 50 ms: 80.0 ms missed" in lines


def test_latency_table_has_a_row_per_timed_engine_and_scale():
    rows = [_row("searchlib", 1, 2.0, 10.0, 5.0), _row("tantivy", 1, 1.0),
            ScaleRow("sqlite", 1, 1000, 1.0, 1, 1)]  # built but not timed: no row
    table = latency_table(rows).splitlines()
    assert len(table) == 4
    assert table[2].startswith("| ×1 | searchlib | 1,000 | 1.00 / 2.00 | 1.00 / 2.00 | "
                               "0.50 / 2.00 | 5.0 | 10.0 / 5.0 ms |")


def test_a_baseline_child_imports_the_other_checkout_even_run_from_this_one(tmp_path,
                                                                            monkeypatch):
    """`--baseline before=DIR` must time DIR's code: a child started from this checkout's
    folder (where `python benchmarks/speed.py` runs) would import this one instead."""
    import subprocess
    import sys
    from pathlib import Path

    from searchlib.evaluation.scale import child_setting

    other = tmp_path / "other"
    (other / "searchlib").mkdir(parents=True)
    (other / "searchlib" / "__init__.py").write_text("WHICH = 'other'\n")
    here = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(here)
    for tree, want in ((str(other), "other"), (None, "this")):
        env, cwd = child_setting(tree)
        done = subprocess.run(
            [sys.executable, "-c", "import searchlib; print(getattr(searchlib, 'WHICH', 'this'))"],
            env=env, cwd=cwd, capture_output=True, text=True, check=True)
        assert done.stdout.strip() == want
