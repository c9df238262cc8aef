"""Cost growth of indexing: a corpus replicated ×1, ×5, ×10, indexed by each engine.

Each copy of a record gets its id suffixed (``~2``...), so a replica is a bigger archive with
the same prose. Every build runs in a fresh child process (``spawn``) whose memory is sampled
as the sum over its process tree: searchlib's analysis workers count too.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .speed import count_paragraphs, dir_bytes


@dataclass
class ScaleRow:
    engine: str
    scale: int
    paragraphs: int
    seconds: float
    peak_rss_bytes: int
    index_bytes: int

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


class TreeMemory:
    """Peak resident memory of this process plus its descendants, sampled in a thread."""

    def __init__(self, interval: float = 0.05) -> None:
        import psutil

        self.me = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        total = 0
        for proc in [self.me, *self.me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except Exception:  # a worker that just exited
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def make(name: str) -> Any:
    """searchlib with its defaults (every core); tantivy with every core and stored text."""
    import os

    from .engines import make_engine

    if name == "tantivy":
        from .peers import TantivyEngine

        return TantivyEngine(threads=os.cpu_count() or 1, store_text=True)
    return make_engine(name)


def build_in_this_process(name: str, corpus: str, workdir: str) -> dict[str, float]:
    engine = make(name)
    prepare = getattr(engine, "prepare", None)
    if callable(prepare):
        prepare()
    with TreeMemory() as memory:
        started = time.perf_counter()
        engine.build(corpus, workdir)
        seconds = time.perf_counter() - started
        close = getattr(engine, "close", None)
        if callable(close):
            close()
    return {"seconds": seconds, "peak_rss": memory.peak}


def _child(name: str, corpus: str, workdir: str, out: Any) -> None:
    out.put(build_in_this_process(name, corpus, workdir))


def build_in_child(name: str, corpus: str, workdir: str) -> dict[str, float]:
    """A fresh, non-daemonic process: it may start workers of its own."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    proc = context.Process(target=_child, args=(name, corpus, workdir, out))
    proc.start()
    while True:
        try:
            result = out.get(timeout=5)
            break
        except queue.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"{name} died while indexing {corpus}") from None
    proc.join()
    return result


def run(corpus: str, scales: Sequence[int], engines: Sequence[str],
        status: Callable[[str], None] = lambda _: None,
        on_row: Callable[[ScaleRow], None] = lambda _: None) -> list[ScaleRow]:
    rows = []
    base = count_paragraphs(corpus)
    with tempfile.TemporaryDirectory(prefix="searchlib-scale-") as tmp:
        for scale in scales:
            status(f"×{scale}: writing the corpus")
            data = replicate(corpus, scale, Path(tmp) / f"corpus-x{scale}.jsonl")
            for name in engines:
                status(f"×{scale}: {name} indexing")
                workdir = Path(tmp) / f"{name}-x{scale}"
                workdir.mkdir()
                built = build_in_child(name, str(data), str(workdir))
                row = ScaleRow(name, scale, base * scale, built["seconds"],
                               int(built["peak_rss"]), dir_bytes(workdir))
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
