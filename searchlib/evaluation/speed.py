"""Speed benchmark: indexing throughput, index size, peak memory and query latency per engine.

Each engine indexes the corpus in its own freshly spawned process, which reports the peak RSS
of its process tree (searchlib's analysis workers included), so one engine's allocations
never inflate another's number.
Queries then run in this process, one engine at a time, warm (a few untimed queries first),
with each engine's searcher kept open. Queries are sampled from the corpus with a fixed seed:
OR and AND queries are 2-3 words of one random paragraph, phrases 2-3 adjacent words of one;
every query therefore matches at least one paragraph ("found" checks it did).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import random
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from searchlib.evaluation.corpus import iter_articles, paragraphs

KINDS = ("or", "and", "phrase")
MIN_LETTERS = 4
Query = list[str]
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    """The default progress callback: say nothing."""


@dataclass
class Latency:
    """Milliseconds per query of one kind; ``found`` is the share of queries with a hit."""

    queries: int
    p50: float
    p95: float
    mean: float
    found: float


@dataclass
class EngineSpeed:
    engine: str
    paragraphs: int
    index_seconds: float
    paragraphs_per_second: float
    index_bytes: int
    peak_rss_bytes: int
    rss_before_bytes: int
    latency: dict[str, Latency | None] = field(default_factory=dict)
    open_ms: float = 0.0  # opening the built index for searching (a one-shot search pays it)


def stopwords() -> frozenset[str]:
    """Words no sampled query may contain: searchlib's stopword list plus whoosh's (each engine
    drops its own, and a dropped word would make queries incomparable)."""
    from searchlib.analysis import stopword_list

    words = set(stopword_list())
    try:
        from searchlib.evaluation.engines import _import_whoosh

        words |= set(_import_whoosh().analysis.STOP_WORDS)
    except ImportError:
        pass
    return frozenset(words)


def usable(token: str, stop: frozenset[str]) -> bool:
    """A token every engine indexes as one term: letters only, long enough, not a stopword."""
    return token.isascii() and token.isalpha() and len(token) >= MIN_LETTERS and (
        token.lower() not in stop
    )


def word_query(text: str, rng: random.Random, stop: frozenset[str]) -> Query | None:
    """2-3 distinct usable words of ``text`` in random order, or None if it has fewer than 2."""
    words = list(dict.fromkeys(t.lower() for t in text.split() if usable(t, stop)))
    if len(words) < 2:
        return None
    return rng.sample(words, min(rng.choice((2, 3)), len(words)))


def phrase_query(text: str, rng: random.Random, stop: frozenset[str]) -> Query | None:
    """2-3 adjacent usable words of ``text`` (no punctuation between them), or None."""
    tokens = text.split()
    for size in (rng.choice((2, 3)), 2):
        starts = [i for i in range(len(tokens) - size + 1)
                  if all(usable(t, stop) for t in tokens[i : i + size])]
        if starts:
            start = rng.choice(starts)
            return [t.lower() for t in tokens[start : start + size]]
    return None


def sample_queries(texts: Sequence[str], count: int, seed: int,
                   stop: frozenset[str]) -> dict[str, list[Query]]:
    """``count`` queries per kind, from random paragraphs; reproducible from ``seed``."""
    makers = {"or": word_query, "and": word_query, "phrase": phrase_query}
    out: dict[str, list[Query]] = {}
    for kind, maker in makers.items():
        rng = random.Random(f"{seed}:{kind}")
        queries: list[Query] = []
        for _ in range(200 * count):
            if len(queries) == count:
                break
            query = maker(rng.choice(texts), rng, stop)
            if query is not None:
                queries.append(query)
        if len(queries) < count:
            raise ValueError(f"the corpus is too small to sample {count} {kind} queries")
        out[kind] = queries
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), ``q`` in 0..100."""
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def dir_bytes(path: str | Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def limit_corpus(corpus: str, limit: int | None, folder: str) -> str:
    """The corpus itself, or a copy of its first ``limit`` records (for quick runs)."""
    if not limit:
        return corpus
    out = Path(folder) / "corpus.jsonl"
    with open(corpus, encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        kept = 0
        for line in src:
            if kept == limit:
                break
            if line.strip():
                dst.write(line)
                kept += 1
    return str(out)


def make(name: str, every_core: bool = False) -> Any:
    """An engine by name, searchlib with the library's own BM25 defaults; `every_core`:
    tantivy indexes on every core and stores the text (as searchlib does)."""
    from searchlib.evaluation.engines import make_engine
    from searchlib.search import DEFAULT_B, DEFAULT_K1

    if name == "tantivy" and every_core:
        from searchlib.evaluation.peers import TantivyEngine

        return TantivyEngine(threads=os.cpu_count() or 1, store_text=True)
    return make_engine(name, k1=DEFAULT_K1, b=DEFAULT_B)


class TreeMemory:
    """Peak resident memory of this process plus its descendants (searchlib's analysis
    workers count too), sampled in a thread; `before` is this process's RSS at the start."""

    def __init__(self, interval: float = 0.05) -> None:
        import psutil

        self.me = psutil.Process()
        self.interval = interval
        self.before = self.me.memory_info().rss
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


def build_in_this_process(name: str, corpus: str, workdir: str,
                          every_core: bool = False) -> dict[str, float]:
    """Index and report time and memory (imports happen before timing); `every_core`: the
    scale benchmark's engines (tantivy on every core, storing the text as searchlib does)."""
    engine = make(name, every_core)
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
    return {"seconds": seconds, "peak_rss": memory.peak, "rss_before": memory.before}


def _child(name: str, corpus: str, workdir: str, every_core: bool, out: Any) -> None:
    out.put(build_in_this_process(name, corpus, workdir, every_core))


def build_in_child(name: str, corpus: str, workdir: str,
                   every_core: bool = False) -> dict[str, float]:
    """``build_in_this_process`` in a fresh interpreter ('spawn': nothing inherited), not a
    daemon, so it may start workers of its own."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    proc = context.Process(target=_child, args=(name, corpus, workdir, every_core, out))
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


def time_queries(engine: Any, queries: Sequence[Query], kind: str, k: int, warmup: int,
                 progress: Progress = _quiet) -> Latency:
    """Latency of ``queries`` run one by one, after ``warmup`` untimed ones."""
    for query in queries[:warmup]:
        engine.query(kind, query, k)
    timings, found = [], 0
    for number, query in enumerate(queries, start=1):
        started = time.perf_counter()
        hits = engine.query(kind, query, k)
        timings.append(1000 * (time.perf_counter() - started))
        found += hits > 0
        if number % 50 == 0:
            progress(f"{engine.name}: {kind} query {number}/{len(queries)}")
    return Latency(len(timings), percentile(timings, 50), percentile(timings, 95),
                   sum(timings) / len(timings), found / len(timings))


def count_paragraphs(corpus: str) -> int:
    """Paragraphs every engine indexes: searchlib's (a headline-only article counts once)."""
    return sum(1 for _ in paragraphs(corpus))


def measure(name: str, corpus: str, queries: dict[str, list[Query]], paragraphs: int,
            workdir: str, k: int = 10, warmup: int = 20,
            progress: Progress = _quiet) -> EngineSpeed:
    """Index ``corpus`` with engine ``name`` in a child process, then time its queries here."""
    progress(f"{name}: indexing {paragraphs} paragraphs")
    built = build_in_child(name, corpus, workdir)
    result = EngineSpeed(
        engine=name, paragraphs=paragraphs, index_seconds=built["seconds"],
        paragraphs_per_second=paragraphs / built["seconds"], index_bytes=dir_bytes(workdir),
        peak_rss_bytes=int(built["peak_rss"]), rss_before_bytes=int(built["rss_before"]),
    )
    engine = make(name)
    started = time.perf_counter()
    engine.open(workdir)
    result.open_ms = 1000 * (time.perf_counter() - started)
    kinds = getattr(engine, "kinds", frozenset(KINDS))
    for kind in KINDS:
        result.latency[kind] = (
            time_queries(engine, queries[kind], kind, k, warmup, progress)
            if kind in kinds else None
        )
    engine.close()
    return result


def run(corpus: str, engines: Sequence[str], count: int = 300, seed: int = 7,
        limit: int | None = None, k: int = 10, progress: Progress = _quiet) -> list[EngineSpeed]:
    """Every engine on the same corpus and the same sampled queries."""
    with tempfile.TemporaryDirectory(prefix="searchlib-speed-") as tmp:
        corpus = limit_corpus(corpus, limit, tmp)
        texts = [p for a in iter_articles(corpus) for p in a.paragraphs]
        queries = sample_queries(texts, count, seed, stopwords())
        paragraphs = count_paragraphs(corpus)
        results = []
        for name in engines:
            workdir = Path(tmp) / name
            workdir.mkdir()
            results.append(measure(name, corpus, queries, paragraphs, str(workdir), k,
                                   progress=progress))
        return results


def tables(results: Sequence[EngineSpeed]) -> str:
    """Two plain-text tables: indexing per engine, then latency per engine and query kind."""
    from tabulate import tabulate

    mb = 2**20
    indexing = tabulate(
        [[r.engine, r.paragraphs, r.index_seconds, r.paragraphs_per_second, r.index_bytes / mb,
          r.peak_rss_bytes / mb, r.rss_before_bytes / mb, r.open_ms] for r in results],
        headers=["engine", "paragraphs", "index s", "paragraphs/s", "size MB", "peak RSS MB",
                 "RSS before MB", "open ms"],
        floatfmt=".1f", intfmt=",",
    )
    rows = []
    for r in results:
        for kind in KINDS:
            lat = r.latency.get(kind)
            rows.append([r.engine, kind] + (
                [lat.queries, lat.p50, lat.p95, lat.mean, 100 * lat.found] if lat else
                ["n/a", "", "", "", ""]
            ))
    latency = tabulate(rows, headers=["engine", "query", "n", "p50 ms", "p95 ms", "mean ms",
                                      "found %"], floatfmt=".3f")
    return indexing + "\n\n" + latency


def to_json(results: Sequence[EngineSpeed], meta: dict[str, Any]) -> str:
    return json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2)
