"""Cost growth of indexing: a corpus replicated ×1, ×5, ×10, indexed by each engine.

Each copy of a record gets its id suffixed (``~2``...), so a replica is a bigger archive with
the same prose. Every build runs in a fresh child process whose memory is sampled as the sum
over its process tree (``speed.TreeMemory``): searchlib's analysis workers count too. With
``queries``, the same child then opens the index and times OR / AND / phrase queries (k=10,
sampled from the ×1 corpus, the same at every scale), and for searchlib ``search`` against
``rank`` at k=1000; ``baselines`` measure searchlib from other checkouts in the same run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .speed import build_in_child, count_paragraphs, dir_bytes, sample_queries, stopwords


@dataclass
class ScaleRow:
    engine: str
    scale: int
    paragraphs: int
    seconds: float
    peak_rss_bytes: int
    index_bytes: int
    # with queries: (p50, p95, share found) ms per kind, open time, search/rank(k=1000) p50
    latency: dict[str, list[float]] = field(default_factory=dict)
    open_ms: float | None = None
    search_ms: float | None = None
    rank_ms: float | None = None

    @property
    def per_second(self) -> float:
        return self.paragraphs / self.seconds if self.seconds else 0.0


def replicate(corpus: str, copies: int, out: Path) -> Path:
    """`copies` concatenated copies of a JSONL corpus, ids suffixed from the second one on."""
    with out.open("w", encoding="utf-8") as dst:
        for copy in range(1, copies + 1):
            with open(corpus, encoding="utf-8") as src:
                for line in src:
                    if not line.strip():
                        continue
                    if copy > 1:
                        record = json.loads(line)
                        record["id"] = f"{record['id']}~{copy}"
                        line = json.dumps(record, ensure_ascii=False) + "\n"
                    dst.write(line)
    return out


# Measures one engine at one scale in a fresh interpreter whose PYTHONPATH may be another
# checkout (`--baseline`): only functions every tree has are called, so it also runs there.
CHILD = r"""
import json, sys, time
from searchlib.evaluation import speed
args = json.load(open(sys.argv[1]))
name, corpus, workdir = args["engine"], args["corpus"], args["workdir"]
try:
    built = speed.build_in_this_process(name, corpus, workdir, True)
except TypeError:  # an older checkout: its scale module builds on every core
    from searchlib.evaluation import scale
    built = scale.build_in_this_process(name, corpus, workdir)
engine = speed.make(name)
started = time.perf_counter()
engine.open(workdir)
out = {"built": built, "open_ms": 1000 * (time.perf_counter() - started), "latency": {}}
for kind, queries in args["queries"].items():
    lat = speed.time_queries(engine, queries, kind, args["k"], 20)
    out["latency"][kind] = [lat.p50, lat.p95, lat.found]
if name == "searchlib":
    index = engine._index
    texts = [" ".join(q) for q in args["queries"]["or"][: args["wide"]]]
    for what in ("search", "rank"):
        call = index.search if what == "search" else index.rank
        for text in texts[:5]:
            call(text, 1000, fuzzy=False)
        took = []
        for text in texts:
            started = time.perf_counter()
            call(text, 1000, fuzzy=False)
            took.append(1000 * (time.perf_counter() - started))
        out[what + "_ms"] = speed.percentile(took, 50)
print(json.dumps(out))
"""


def child_setting(tree: str | None) -> tuple[dict[str, str], str]:
    """Environment and working folder of a child that must import searchlib from `tree` (this
    checkout by default): `python -c` puts the working folder first on sys.path, so the child
    starts in a neutral folder, or a benchmark run from a checkout would time that checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(tree).resolve()) if tree else str(
        Path(__file__).resolve().parents[2])
    return env, tempfile.gettempdir()


def measure_in_child(name: str, corpus: str, workdir: Path, queries: dict[str, list],
                     k: int, tree: str | None = None, wide: int = 100) -> dict[str, Any]:
    """Build and time one engine in a fresh interpreter (`tree`: another checkout's code)."""
    args = workdir.with_suffix(".json")
    args.write_text(json.dumps({"engine": name, "corpus": corpus, "workdir": str(workdir),
                                "queries": queries, "k": k, "wide": wide}))
    env, cwd = child_setting(tree)
    done = subprocess.run([sys.executable, "-c", CHILD, str(args)], env=env, cwd=cwd,
                          text=True, capture_output=True, check=False)
    if done.returncode:
        tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"{name} failed on {corpus}: {tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(corpus: str, scales: Sequence[int], engines: Sequence[str],
        status: Callable[[str], None] = lambda _: None,
        on_row: Callable[[ScaleRow], None] = lambda _: None, queries: int = 0,
        k: int = 10, seed: int = 7, baselines: dict[str, str] | None = None) -> list[ScaleRow]:
    """A row per scale and engine (`baselines`: label → checkout measured as searchlib)."""
    from .corpus import iter_articles

    rows = []
    base = count_paragraphs(corpus)
    sampled: dict[str, list] = {}
    if queries:
        texts = [p for a in iter_articles(corpus) for p in a.paragraphs]
        sampled = sample_queries(texts, queries, seed, stopwords())
    runs = [(name, name, None) for name in engines] + [
        ("searchlib", label, tree) for label, tree in (baselines or {}).items()]
    with tempfile.TemporaryDirectory(prefix="searchlib-scale-") as tmp:
        for scale in scales:
            status(f"×{scale}: writing the corpus")
            data = replicate(corpus, scale, Path(tmp) / f"corpus-x{scale}.jsonl")
            for name, label, tree in runs:
                status(f"×{scale}: {label}")
                workdir = Path(tmp) / f"{label}-x{scale}".replace("/", "_")
                workdir.mkdir()
                if queries:
                    out = measure_in_child(name, str(data), workdir, sampled, k, tree)
                    built = out["built"]
                else:
                    out, built = {}, build_in_child(name, str(data), str(workdir), True)
                row = ScaleRow(label, scale, base * scale, built["seconds"],
                               int(built["peak_rss"]), dir_bytes(workdir),
                               out.get("latency", {}), out.get("open_ms"),
                               out.get("search_ms"), out.get("rank_ms"))
                rows.append(row)
                on_row(row)
                shutil.rmtree(workdir, ignore_errors=True)
            data.unlink()
    return rows


def table(rows: Sequence[ScaleRow]) -> str:
    """A Markdown table, a row per scale and engine."""
    mb = 2**20
    lines = ["| scale | engine | paragraphs | index time | paragraphs/s | peak RSS | index MB |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| ×{r.scale} | {r.engine} | {r.paragraphs:,} | {r.seconds:.1f} s | "
                     f"{r.per_second:,.0f} | {r.peak_rss_bytes / mb:,.0f} MB | "
                     f"{r.index_bytes / mb:,.0f} |")
    return "\n".join(lines)


def latency_table(rows: Sequence[ScaleRow]) -> str:
    """Query latency per scale and engine (ms, p50 / p95), open time, search vs rank."""
    lines = ["| scale | engine | paragraphs | OR p50 / p95 | AND p50 / p95 | phrase p50 / p95 "
             "| open ms | search / rank k=1000 |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if not r.latency:
            continue
        cells = [f"{r.latency[kind][0]:.2f} / {r.latency[kind][1]:.2f}" if kind in r.latency
                 else "n/a" for kind in ("or", "and", "phrase")]
        wide = (f"{r.search_ms:.1f} / {r.rank_ms:.1f} ms" if r.search_ms is not None
                and r.rank_ms is not None else "")
        lines.append(f"| ×{r.scale} | {r.engine} | {r.paragraphs:,} | {' | '.join(cells)} | "
                     f"{r.open_ms:.1f} | {wide} |")
    return "\n".join(lines)


def targets(rows: Sequence[ScaleRow], engine: str = "searchlib",
            peer: str = "tantivy") -> list[str]:
    """issue 11's targets at the largest scale, each with its figure and whether it is met."""
    timed = [r for r in rows if r.latency]
    ours = {r.scale: r for r in timed if r.engine == engine}
    theirs = {r.scale: r for r in timed if r.engine == peer}
    if not ours:
        return []
    top, low = max(ours), min(ours)
    me = ours[top]
    out = []
    if top in theirs:
        for kind in ("or", "and", "phrase"):
            for i, name in ((0, "p50"), (1, "p95")):
                ratio = me.latency[kind][i] / max(theirs[top].latency[kind][i], 1e-9)
                out.append(f"{kind} {name} ≤ 2× {peer}: {ratio:.2f}× "
                           f"{'met' if ratio <= 2 else 'missed'}")
    if top != low:
        for kind in ("or", "and", "phrase"):
            growth = me.latency[kind][1] / max(ours[low].latency[kind][1], 1e-9)
            peer_growth = ""
            if top in theirs and low in theirs:
                theirs_growth = theirs[top].latency[kind][1] / max(
                    theirs[low].latency[kind][1], 1e-9)
                peer_growth = f" ({peer}: {theirs_growth:.2f}×)"
            out.append(f"{kind} p95 growth ×{low}→×{top} ≤ 3×: {growth:.2f}×{peer_growth} "
                       f"{'met' if growth <= 3 else 'missed'}")
    if me.search_ms is not None and me.rank_ms:
        ratio = me.search_ms / me.rank_ms
        out.append(f"search(k=1000) ≤ 1.5× rank(k=1000): {ratio:.2f}× "
                   f"{'met' if ratio <= 1.5 else 'missed'}")
    if me.open_ms is not None:
        out.append(f"open ≤ 50 ms: {me.open_ms:.1f} ms {'met' if me.open_ms <= 50 else 'missed'}")
    return out
