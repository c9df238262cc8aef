"""One-shot latency: how long `searchlib search QUERY` takes from a fresh process, next to a
bare `python -c "import numpy"` measured in the same run (hyperfine-like).

    python benchmarks/oneshot.py --corpus ../shared/datasets/reuters21578 [--runs 15]
    python benchmarks/oneshot.py --index DIR [--query KIND=TEXT ...] [--format markdown]

A terminal user pays start-up, imports, opening the index and the query on every command,
so this is what "answers at once" means. Every command runs `--runs` times after `--warmup`
runs, the commands interleaved round-robin so that load from other programs hits them
alike; the table shows the median and minimum wall time and the median's ratio to the
numpy baseline (the least any searchlib command can cost: searchlib needs numpy), and the
same for CPU time, which other load disturbs far less than wall time.

Children run with this checkout first on PYTHONPATH, and with bytecode cached in a private
folder (PYTHONPYCACHEPREFIX) for the baseline and searchlib alike: an installed package has
its bytecode, and an environment that forbids writing it would time compilation instead.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# On Reuters-21578: frequent words; a typo (one letter missing) of a word in 505 paragraphs;
# a prefix; a phrase; and a word the index has never seen.
DEFAULT_QUERIES = {
    "known words": "oil prices",
    "typo": "Volker",
    "prefix": "communis*",
    "phrase": '"crude oil"',
    "unknown word": "petroleom",
}


def child_env(cache: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["NO_COLOR"] = "1"
    return env


def build_index(corpus: Path, root: Path, env: dict[str, str]) -> None:
    source = corpus / "corpus.jsonl" if corpus.is_dir() else corpus
    if not source.exists():
        sys.exit(f"oneshot: error: {source} not found")
    print(f"building the index of {source} in {root} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "searchlib", "index", str(source), "--index",
                    str(root)], env=env, check=True, stdout=subprocess.DEVNULL)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run; a command that fails stops the benchmark."""
    c0, t0 = _cpu(), time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    if proc.returncode not in (0, 1):  # 1: no hits, still a valid answer
        sys.exit(f"oneshot: error: {' '.join(cmd)} exited {proc.returncode}: "
                 f"{proc.stderr.decode(errors='replace').strip()}")
    return seconds, cpu


def measure(commands: dict[str, list[str]], env: dict[str, str], runs: int,
            warmup: int) -> dict[str, list[tuple[float, float]]]:
    for _ in range(warmup):
        for cmd in commands.values():
            timed(cmd, env)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            times[name].append(timed(cmd, env))
    return times


def report(times: dict[str, list[tuple[float, float]]], labels: dict[str, str],
           fmt: str) -> str:
    """Wall time decides (it is what a user waits for); CPU time (user + system) is shown
    too because it hardly moves when other programs load the machine."""
    base = statistics.median(w for w, _ in times["baseline"])
    base_cpu = statistics.median(c for _, c in times["baseline"])
    rows = []
    for name, ts in times.items():
        med = statistics.median(w for w, _ in ts)
        cpu = statistics.median(c for _, c in ts)
        rows.append((name, labels[name], f"{1000 * med:.0f}", f"{1000 * min(w for w, _ in ts):.0f}",
                     f"{1000 * cpu:.0f}", f"{med / base:.2f}×", f"{cpu / base_cpu:.2f}×"))
    headers = ("kind", "command", "median ms", "min ms", "cpu ms", "× baseline",
               "cpu × baseline")
    if fmt == "markdown":
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(r[:1] + (f"`{r[1]}`",) + r[2:]) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(row, widths))
                     for row in (headers, *rows))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--index", type=Path, help="an existing index to search")
    where.add_argument("--corpus", type=Path,
                       help="a folder with corpus.jsonl (or a file) to index first, in a temp dir")
    ap.add_argument("--query", action="append", default=[], metavar="KIND=TEXT",
                    help="queries to time instead of the Reuters defaults (repeatable)")
    ap.add_argument("--runs", type=int, default=15, help="timed runs per command (default 15)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    ap.add_argument("--format", choices=("table", "markdown"), default="table")
    args = ap.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        ap.error("--runs must be at least 1 and --warmup at least 0")
    queries = DEFAULT_QUERIES
    if args.query:
        if not all("=" in q for q in args.query):
            ap.error("--query takes KIND=TEXT")
        queries = dict(q.split("=", 1) for q in args.query)

    with tempfile.TemporaryDirectory(prefix="searchlib-oneshot-") as tmp:
        env = child_env(str(Path(tmp) / "pycache"))
        index = args.index
        if index is None:
            index = Path(tmp) / "index"
            build_index(args.corpus, index, env)
        elif not (index / "manifest.json").is_file():
            sys.exit(f"oneshot: error: no searchlib index at {index}")
        commands = {"baseline": [sys.executable, "-c", "import numpy"]}
        labels = {"baseline": 'python -c "import numpy"'}
        for kind, text in queries.items():
            commands[kind] = [sys.executable, "-m", "searchlib", "search", "--index", str(index),
                              "--", text]
            labels[kind] = f"searchlib search '{text}'"
        times = measure(commands, env, args.runs, args.warmup)
    print(report(times, labels, args.format))
    print(f"\n{args.runs} runs each after {args.warmup} warm-up, interleaved; Python "
          f"{sys.version.split()[0]}, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
