"""The single writer: incremental updates, merging, atomic commits.

An update is three steps. `plan_changes` compares the index's file list with the files
found now (which to read, which are gone, which to keep because their folder cannot be
listed); `ingest` reads the files to read into new segments, flushing by a token budget,
and notes the articles to delete; `commit` writes deletion files, merges when segments pile
up, and makes it all live with one manifest rename. A crash at any point leaves the previous
commit intact; files it left behind are removed by the next writer.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import __version__
from ..analysis import Analyzer, AnalyzerSettings
from ..corpus import (
    Article,
    Pending,
    Progress,
    ReadInterrupted,
    ReadProgress,
    RecordNotes,
    Source,
    display_name,
    find_sources,
    iter_source,
)
from ..errors import IndexWriteError, InvalidArgument, NotAnIndex
from .analyze import INLINE_BYTES, Analyzed, Pipeline, default_jobs
from .builder import (
    ARTICLE_BYTES,
    FLUSH_BYTES_PER_CHAR,
    FLUSH_BYTES_PER_TOKEN,
    SegmentBuilder,
)
from .changes import (
    ArticleRange,
    ChangeSet,
    SourceRecord,
    load_sources,
    plan_changes,
    sources_bytes,
    under,
)
from .idcheck import IdCheck
from .merge import chunk_postings, merge_segments
from .mergepolicy import choose_merge
from .segment import read_deletions, write_deletions, write_segment
from .storage import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    SEGMENTS,
    WriterLock,
    describe_oserror,
    failpoint,
    fsync_dir,
    is_index_file,
    load_stems,
    read_manifest,
    recorded_analyzer,
    recorded_roots,
    write_file,
    write_manifest,
)

MEMORY_BUDGET_MB = 1024  # the default keeps the indexer's peak RSS under about 1 GB
# The segment being built (and its flush) gets a third of the budget, a quarter if the
# processes would not leave a third: the indexing process apart from its buffer (interpreter, numpy,
# chunks in flight) and each analysis worker (interpreter, caches) are resident whatever the
# buffer holds. Measured on Reuters ×1/×5/×10 with 2 workers: ~35 MB + ~70 MB a worker, and
# the process tree's peak grows by about the builder's estimate
# (`SegmentBuilder.estimated_bytes`). A third (a quarter before) keeps the ×10 peak within
# 1.2× of ×1's, whose Reuters fits one buffer; 85% would give ~0.83 GB at ×10 (6 segments,
# not 10), at 1.7× ×1's peak.
FLUSH_SHARE = 1 / 3  # of the budget, for the segment being built (and its flush)
MIN_FLUSH_SHARE = 0.25  # however many workers share the budget (as before)
HEADROOM = 0.85  # of the budget, the most the processes and the buffer are planned to take
BASE_MB = 100
WORKER_MB = 80
MERGE_SHARE = 0.25  # of the budget, for a merge: its chunk of postings (merge.chunk_postings)
MAX_SEGMENTS = 16  # a cap: the tiered policy (mergepolicy.choose_merge) keeps far fewer
TIERED = True  # an update's flushes become one segment, which takes in the smaller older ones


def flush_mb(budget: float, jobs: int) -> float:
    """MB of estimated flush cost a segment may buffer under a memory `budget` (MB) when
    `jobs` processes analyze (1: this one, no workers)."""
    workers = jobs if jobs > 1 else 0
    left = budget * HEADROOM - BASE_MB - workers * WORKER_MB
    return max(budget * MIN_FLUSH_SHARE, min(budget * FLUSH_SHARE, left))


@dataclass(frozen=True)
class Limits:
    """How an update may use the machine: worker processes, and memory for flushes and
    merges (estimated, not measured: flushing and merging cost what they buffer)."""

    jobs: int = 1
    flush_tokens: float = float("inf")  # tokens buffered before a flush (tests force flushes)
    flush_bytes: float = flush_mb(MEMORY_BUDGET_MB, 1) * 2**20
    merge_bytes: float = MEMORY_BUDGET_MB * MERGE_SHARE * 2**20

    @classmethod
    def make(cls, jobs: int | None, memory_budget: float | None,
             flush_tokens: int | None) -> Limits:
        if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int)
                                 or jobs < 1):
            raise InvalidArgument(f"jobs must be a whole number of at least 1, not {jobs!r}")
        budget = MEMORY_BUDGET_MB if memory_budget is None else memory_budget
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget > 0:
            raise InvalidArgument(f"the memory budget must be a positive number of MB, "
                                  f"not {memory_budget!r}")
        jobs = jobs or default_jobs()
        return cls(jobs, float("inf") if flush_tokens is None else flush_tokens,
                   flush_mb(budget, jobs) * 2**20, budget * MERGE_SHARE * 2**20)


@dataclass
class UpdateReport:
    files_added: int = 0
    files_changed: int = 0
    files_removed: int = 0
    files_unchanged: int = 0
    files_skipped: int = 0
    articles_added: int = 0
    articles_removed: int = 0
    paragraphs_added: int = 0
    articles: int = 0
    paragraphs: int = 0
    segments: int = 0
    merged: int = 0
    articles_kept: int = 0  # indexed from files or folders that could not be read now
    kept_subtrees: list[str] = field(default_factory=list)  # where those are (absolute paths)
    committed: bool = False
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    # a cluster shard's counts of the files every shard reads (record files), in the
    # files_* fields above too: merged shard reports count those once, not once per shard
    spread: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, path: str, select=None) -> None:
        """Count `path` in files_`what` (and in `spread` if it is a shard's shared file)."""
        setattr(self, f"files_{what}", getattr(self, f"files_{what}") + 1)
        if select is not None and select.spread(path):
            self.spread[what] = self.spread.get(what, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.files_added or self.files_changed or self.files_removed)

    @property
    def partial(self) -> bool:
        """Some indexed articles could not be re-read and were kept as they were."""
        return bool(self.kept_subtrees)


def _prepare_root(root: Path, rebuild: bool) -> None:
    """Refuse to write into (or wipe) a folder holding anything but a searchlib index."""
    if root.exists() and not root.is_dir():
        raise NotAnIndex(f"{root} is a file, not an index directory")
    if (root.exists() and not _manifest_is_ours(root)
            and any(not is_index_file(p.name) for p in root.iterdir())):
        action = "rebuild" if rebuild else "create an index"
        raise NotAnIndex(
            f"refusing to {action} in {root}: it holds other files and is not a searchlib index"
        )
    if (root / SEGMENTS).is_symlink():
        raise NotAnIndex(f"{root / SEGMENTS} is a symbolic link; refusing to write through it")
    try:
        root.mkdir(parents=True, exist_ok=True)
        (root / SEGMENTS).mkdir(exist_ok=True)
    except OSError as exc:
        raise IndexWriteError(
            f"cannot create the index at {root}: {describe_oserror(exc)}"
        ) from None


def _manifest_is_ours(root: Path) -> bool:
    try:
        data = json.loads((root / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT_NAME


@dataclass
class Ingested:
    """What `ingest` made: new segments, the file list after it, the articles to delete."""

    segments: list[dict]
    sources: dict[str, SourceRecord]
    deletions: dict[str, list[tuple[int, int]]]  # segment → (first article, count) ranges


class _Ingest:
    """The running state of one ingest: the segment being built, and where each file's
    articles land (a range is named once the segment holding it is flushed). Record lines
    are parsed by the analysis pipeline, so a file's articles are counted as they are placed,
    and a file found to hold no record at all is skipped when its last line is placed."""

    def __init__(self, writer: IndexWriter, sources: dict[str, SourceRecord],
                 report: UpdateReport, limits: Limits, warn: Callable[[str], None]) -> None:
        self.writer, self.report, self.limits, self.warn = writer, report, limits, warn
        self.out = Ingested([], dict(sources), {})
        self.builder = SegmentBuilder(writer.analyzer)
        self.pipeline = Pipeline(writer.analyzer, limits.jobs, self._place)
        self.pending: list[list] = []  # [path, first, count] runs in the unflushed builder
        self.ranges: dict[str, list[ArticleRange]] = {}
        self.stamps: dict[str, tuple[int, ...]] = {}
        self.flushes = 0
        self.flusher: ThreadPoolExecutor | None = None
        self.flushing: Future | None = None
        self.notes: dict[str, RecordNotes] = {}  # record files being parsed
        self.placed: dict[str, int] = {}  # articles placed per record file being parsed
        self.names: dict[str, str] = {}  # file path -> as warnings show it
        self.ids = IdCheck()

    def forget(self, path: str) -> None:
        """The articles indexed from `path` are to be deleted."""
        for r in self.out.sources.pop(path).ranges:
            self.out.deletions.setdefault(r.segment, []).append((r.first, r.count))
            self.report.articles_removed += r.count

    def keep(self, where: str, path: str) -> None:
        """`where` could not be read: what was indexed from `path` stays, and is reported."""
        if where not in self.report.kept_subtrees:
            self.report.kept_subtrees.append(where)
        self.report.articles_kept += self.out.sources[path].articles

    def add_file(self, src: Source, units: Iterator[Article | Pending]) -> None:
        """Index a file's articles, or its record lines (replacing what it gave before)."""
        new = src.path not in self.out.sources
        if not new:
            self.forget(src.path)
        self.report.count("added" if new else "changed", src.path, self.writer.select)
        self.stamps[src.path] = tuple(src.stamp)
        self.ranges[src.path] = []
        self.names[src.path] = display_name(src.rel)
        notes = None
        try:
            for unit in units:
                if isinstance(unit, Pending):
                    if notes is None:
                        notes = self.notes[src.path] = RecordNotes.of(src)
                        self.placed[src.path] = 0
                    self.pipeline.add(notes, unit)
                else:
                    self.pipeline.add(None, unit)
        except ReadInterrupted:
            # what was read is indexed; a stamp no file has makes the next update read it again
            self.stamps[src.path] = tuple(-1 for _ in src.stamp)
        finally:
            if notes is not None:
                self.pipeline.after(lambda: self._parsed(src.path, new))

    def _parsed(self, path: str, new: bool) -> None:
        """Every line of the record file `path` is placed: warn what its records had wrong;
        one without any record is skipped (and, if new, not recorded, as an empty file)."""
        self.notes.pop(path).warn(self.warn)
        if self.placed.pop(path):
            return
        self.report.files_skipped += 1
        if new:
            self.report.files_added -= 1
            del self.stamps[path], self.ranges[path]

    def _place(self, analyzed: Analyzed) -> None:
        """Add an analyzed chunk's articles in order (warning what parsing them found),
        flushing between two of them when the buffer reaches the token limit or the memory
        budget: each run ends at the first article that fills the buffer."""
        for line in analyzed.warnings:
            self.warn(line)
        for notes in analyzed.notes:
            self.notes[notes.source.path].absorb(notes)
        items, chunk = analyzed.items, analyzed.tokens
        for item in items:
            if item[2] in self.placed:
                self.placed[item[2]] += 1
        self.report.articles_added += len(items)
        self.ids.add([item[0] for item in items], [self.names[item[2]] for item in items])
        self.report.paragraphs_added += int(chunk.paragraphs.sum())
        counts = np.concatenate([[0], np.cumsum(chunk.paragraphs)])
        ends = np.concatenate([[0], np.cumsum(chunk.doc_tokens)])
        text = chunk.doc_tokens - chunk.title_counts
        byte_ends = np.concatenate([[0], np.cumsum(chunk.paragraph_bytes)])[counts]
        cost = (text * FLUSH_BYTES_PER_TOKEN + ARTICLE_BYTES
                + FLUSH_BYTES_PER_CHAR * np.diff(byte_ends))
        i, n = 0, len(items)
        while i < n:
            # the first article that fills the buffer ends the run (then a flush)
            full = ((self.builder.tokens + np.cumsum(text[i:]) >= self.limits.flush_tokens)
                    | (self.builder.estimated_bytes() + np.cumsum(cost[i:])
                       >= self.limits.flush_bytes))
            j = i + int(full.argmax()) + 1 if full.any() else n
            for k, (_, _, path, _, _, _) in enumerate(items[i:j], start=len(self.builder)):
                if not (self.pending and self.pending[-1][0] == path):
                    self.pending.append([path, k, 0])
                self.pending[-1][2] += 1
            self.builder.add(items[i:j], chunk, slice(int(ends[i]), int(ends[j])),
                             slice(i, j), slice(int(counts[i]), int(counts[j])))
            i = j
            if self.builder.tokens >= self.limits.flush_tokens:
                self.flush()
            elif self.builder.estimated_bytes() >= self.limits.flush_bytes:
                failpoint("budget-flush")
                self.flush()

    def flush(self) -> None:
        """Write the buffered articles as a segment, in a flush thread: this one goes on
        reading and placing meanwhile, so the workers are kept busy. One flush at a time
        (the memory budget counts one); ranges are named now, in flush order."""
        if not len(self.builder):
            return
        self.wait_flush()
        name = f"seg-{self.writer.gen:06d}-{self.flushes:03d}"
        self.flushes += 1
        path = self.writer.root / SEGMENTS / name
        self.writer.written.append(path)
        held = [self.builder]  # the flush thread holds the only reference, and drops it
        self.builder = SegmentBuilder(self.writer.analyzer, held[0])
        for src_path, first, count in self.pending:
            self.ranges[src_path].append(ArticleRange(name, first, count))
        self.pending.clear()
        if self.flusher is None:
            self.flusher = ThreadPoolExecutor(1, thread_name_prefix="searchlib-flush")
        self.flushing = self.flusher.submit(_write_builder, held, path)

    def wait_flush(self) -> None:
        """Wait for the flush in progress (its error, if any, is raised here)."""
        if self.flushing is not None:
            future, self.flushing = self.flushing, None
            self.out.segments.append(future.result())

    def finish(self) -> Ingested:
        self.pipeline.drain()
        if (repeated := self.ids.warning()) is not None:
            self.warn(repeated)
        self.flush()
        self.wait_flush()
        for path, stamp in self.stamps.items():
            self.out.sources[path] = SourceRecord(stamp, tuple(self.ranges[path]))
        return self.out

    def close(self) -> None:
        """Stop the workers, and let a flush still running end (before any clean-up)."""
        self.pipeline.close()
        if self.flusher is not None:
            self.flusher.shutdown(wait=True)
            self.flusher = None


def _write_builder(held: list[SegmentBuilder], path: Path) -> dict:
    """A flush thread's work: the builder's content (then the builder is freed), written."""
    content = held.pop().content()
    failpoint("flush-content")
    entry = write_segment(path, content)
    del content
    failpoint("segment-written")
    _give_back_memory()
    return entry


def _give_back_memory() -> None:
    """Return the freed flush buffers to the system (glibc keeps them in the thread's arena
    otherwise, and the indexer's resident memory would creep up flush after flush)."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class IndexWriter:
    """Updates one index. `prune_missing` drops the articles of folders and files that cannot
    be read now (unreadable, or a root that is gone); by default they are kept, because an
    unmounted drive or a permission slip must not silently empty an index."""

    def __init__(self, root: Path, *, rebuild: bool = False, stemmer: str | None = None,
                 stopwords: bool | None = None, prune_missing: bool = False,
                 select=None) -> None:
        """`select` (a cluster shard's partition: `owns(source)`, `articles(source, stream)`)
        limits the index to the files and records it owns; None takes everything."""
        self.root = Path(root)
        self.select = select
        self.rebuild = rebuild
        self.prune_missing = prune_missing
        self.want = {"stemmer": stemmer, "stopwords": stopwords}
        self.written: list[Path] = []  # this update's files, removed if it does not commit
        self.gen: int | None = None
        self.reading = ReadProgress(None, 0)  # what the progress bar is told
        self.limits = Limits()
        self.optimize = False

    def update(self, paths: Iterable[str | os.PathLike], *,
               warn: Callable[[str], None] | None = None, progress: Progress | None = None,
               flush_tokens: int | None = None, memory_budget: float | None = None,
               jobs: int | None = None, optimize: bool = False) -> UpdateReport:
        """Bring the index up to date with `paths`. `jobs`: analysis processes (default:
        every core); `memory_budget`: MB the update aims to stay within (default 1024);
        `optimize`: then merge the whole index into one segment."""
        t0 = time.perf_counter()
        if not isinstance(optimize, bool):
            raise InvalidArgument(f"optimize must be True or False, not {optimize!r}")
        self.optimize = optimize
        limits = Limits.make(jobs, memory_budget, flush_tokens)
        report = UpdateReport()

        def _warn(msg: str) -> None:
            report.warnings.append(msg)
            if warn:
                warn(msg)

        _prepare_root(self.root, self.rebuild)
        with WriterLock(self.root):
            try:
                self._update(list(paths), report, _warn, progress, limits)
            except OSError as exc:
                self._cleanup_uncommitted()
                raise IndexWriteError(
                    f"could not write the index at {self.root}: {describe_oserror(exc)}; "
                    "the previous commit is intact"
                ) from None
            except BaseException:
                self._cleanup_uncommitted()
                raise
        report.seconds = time.perf_counter() - t0
        return report

    # -- the three steps ---------------------------------------------------------------------

    def _update(self, paths: list, report: UpdateReport, warn, progress, limits: Limits) -> None:
        self.limits = limits
        old = self._open_old()
        self.settings = self._settings(old)
        self.analyzer = Analyzer(self.settings)
        # Every file a commit writes carries a generation no earlier commit used, so it can
        # never overwrite (or, on failure, clean up) a file the live commit depends on.
        self.gen = self._max_generation() + 1
        indexed = load_sources(self.root, old) if old else {}
        roots = [os.path.abspath(os.fspath(p)) for p in paths]
        self.roots = self._next_roots(roots, old)
        unlisted: list[str] = []  # folders (or roots) whose content could not be listed
        found = list(find_sources(paths, warn, unlisted=unlisted))  # a progress bar needs
        if self.select is not None:  # a cluster shard: only its share of the files
            found = [src for src in found if self.select.owns(src)]
        lost = [u for u in unlisted if under(u, recorded_roots(self.root))] if (
            self.rebuild and not self.prune_missing) else []
        if lost:  # a rebuild starts empty: what cannot be read now would be gone for good
            raise IndexWriteError(
                f"cannot rebuild the index at {self.root}: {lost[0]}"
                f"{f' and {len(lost) - 1} more' if len(lost) > 1 else ''} cannot be read now "
                "and the articles indexed from it would be lost; the previous commit is intact "
                "(prune_missing drops them on purpose)")
        changes = plan_changes(indexed, found, roots=roots, unlisted=unlisted,  # a total
                               rebuild=self.rebuild, prune_missing=self.prune_missing)
        report.files_unchanged = changes.unchanged
        if self.select is not None:  # record files every shard found, less those read now
            report.spread["unchanged"] = (
                sum(self.select.spread(src.path) for src in found)
                - sum(self.select.spread(src.path) for src in changes.read))
        ingested = self.ingest(changes, indexed, report, warn, progress, limits)
        entries = [] if self.rebuild or not old else list(old["segments"])
        roots_moved = old is not None and self.roots != list(old.get("roots") or [])
        if not (report.changed or self.rebuild or old is None or roots_moved
                or (self.optimize and self._merge_policy(entries, frozenset()))):
            # (a new index always commits; so does a pruned root, so it stops being re-synced)
            self._finish_report(report, entries)
            return
        self.commit(entries, ingested, report, old)
        self._finish_report(report, entries)

    def ingest(self, changes: ChangeSet, indexed: dict[str, SourceRecord], report: UpdateReport,
               warn, progress: Progress | None, limits: Limits) -> Ingested:
        """Read the planned files into new segments; note what is removed or kept."""
        total = sum(src.size for src in changes.read)
        self.limits = limits  # the merge's jobs too, whatever the analysis uses
        if total < INLINE_BYTES:  # starting workers would cost more than they save
            limits = replace(limits, jobs=1)
        state = _Ingest(self, indexed, report, limits, warn)
        self.reading = ReadProgress(progress, total)
        try:
            return self._read(state, changes, indexed, report, warn, self.reading)
        finally:
            state.close()

    def _read(self, state: _Ingest, changes: ChangeSet, indexed: dict[str, SourceRecord],
              report: UpdateReport, warn, reading: ReadProgress) -> Ingested:
        for src in changes.read:
            # record lines are parsed in the analysis workers, except for a cluster shard,
            # which picks records by their number among the file's articles
            stream = iter_source(src, warn, reading.file(src), defer=self.select is None)
            if stream is not None and self.select is not None:
                stream = self.select.articles(src, stream)
            try:
                first = next(stream, None) if stream is not None else None
            except ReadInterrupted:  # before its first record: as good as unreadable
                stream = first = None
            # a shard records a record file whose records all went to other shards (with no
            # article), so it is neither skipped nor read again while it is unchanged
            elsewhere = (first is None and stream is not None and self.select is not None
                         and self.select.elsewhere(src))
            if first is None and not elsewhere:
                report.count("skipped", src.path, self.select)
            if stream is None and src.path in indexed:  # unreadable now: content unknown
                self._unreadable(state, src.path)
            elif first is not None or elsewhere or src.path in indexed:  # (new, empty: nothing)
                state.add_file(src, itertools.chain([first], stream) if first else iter(()))
            reading.finished(src)
        ingested = state.finish()
        for path in changes.removed:
            state.forget(path)
            report.count("removed", path, self.select)
        for path, where in changes.kept:
            state.keep(where, path)
        return ingested

    def _unreadable(self, state: _Ingest, path: str) -> None:
        if self.prune_missing:
            state.forget(path)
            state.report.count("removed", path, self.select)
        else:
            state.keep(path, path)

    def commit(self, entries: list[dict], ingested: Ingested, report: UpdateReport,
               old: dict | None) -> None:
        """Deletion files, new segments, a merge if due, then the manifest rename."""
        entries[:] = self._apply_deletions(entries, ingested.deletions)
        failpoint("deletions-written")
        entries += ingested.segments
        new = frozenset(e["name"] for e in ingested.segments)
        sources = self._maybe_merge(entries, ingested.sources, report, new)
        failpoint("merged")
        self._write_commit(entries, sources, old)
        report.committed = True

    # -- helpers -------------------------------------------------------------------------------

    def _open_old(self) -> dict | None:
        """The live manifest an update builds on (None for a new index or a rebuild)."""
        exists = (self.root / MANIFEST).exists()
        if self.rebuild and exists:
            return None
        if not exists:
            self._collect_garbage(None)  # a first build that crashed left only garbage
            return None
        old = read_manifest(self.root)
        # its terms would not match new ones
        AnalyzerSettings.from_manifest(old["analyzer"]).check_version(self.root)
        self._collect_garbage(old)  # leftovers of a writer that crashed before committing
        return old

    def _settings(self, old: dict | None) -> AnalyzerSettings:
        """The index's analyzer settings; a rebuild keeps the old index's choices (under
        this searchlib's analyzer version) unless told otherwise."""
        if old:
            base = AnalyzerSettings.from_manifest(old["analyzer"])
        elif self.rebuild:
            base = (recorded_analyzer(self.root) or AnalyzerSettings()).current()
        else:
            base = AnalyzerSettings()
        chosen = {key: value for key, value in self.want.items() if value is not None}
        for key, value in chosen.items():
            if old and getattr(base, key) != value:
                raise InvalidArgument(
                    f"index at {self.root} uses {key}={getattr(base, key)}; "
                    "changing it needs a rebuild"
                )
        return replace(base, **chosen)

    def _next_roots(self, roots: list[str], old: dict | None) -> list[str]:
        """The paths the new commit records as indexed (`searchlib index` re-syncs them)."""
        recorded = sorted(set(roots) | set((old or {}).get("roots") or []))
        if self.prune_missing:  # a root that is gone for good is not re-synced any more
            recorded = [r for r in recorded if r not in roots or os.path.exists(r)]
        return recorded

    def _finish_report(self, report: UpdateReport, entries: list[dict]) -> None:
        report.segments = len(entries)
        report.articles = sum(e["articles"] - e.get("deleted_count", 0) for e in entries)
        report.paragraphs = sum(e["paragraphs"] - e.get("deleted_paragraphs", 0) for e in entries)

    def _max_generation(self) -> int:
        """The highest generation in use: the live manifest's, or any file's name."""
        best = 0
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            best = int(json.loads((self.root / MANIFEST).read_text("utf-8"))["generation"])
        names = [p.name for p in (self.root / SEGMENTS).glob("seg-*")]
        names += [p.name for p in self.root.glob("sources-*.json")]
        names += [p.name for p in self.root.glob("stems-*.tsv")]
        for name in names:
            try:
                best = max(best, int(name.split("-")[1].split(".")[0]))
            except (IndexError, ValueError):
                continue
        return best

    def _apply_deletions(self, entries: list[dict], deletions: dict) -> list[dict]:
        out = []
        for entry in entries:
            ranges = deletions.get(entry["name"])
            if not ranges:
                out.append(entry)
                continue
            seg_dir = self.root / SEGMENTS / entry["name"]
            deleted = read_deletions(seg_dir, entry)
            deleted = np.zeros(entry["articles"], bool) if deleted is None else deleted.copy()
            for first, n in ranges:
                deleted[first:first + n] = True
            if not deleted.all():  # else the whole segment is gone
                out.append(write_deletions(seg_dir, entry, deleted, self.gen, self.written))
        return out

    def _merge_policy(self, entries: list[dict], new: frozenset[str]) -> list[dict]:
        """The segments to merge: all, with their deletions, when optimizing."""
        if self.optimize:
            return choose_merge(entries, 1, purge=True)
        if not TIERED:
            return choose_merge(entries, MAX_SEGMENTS, ratio=0)
        return choose_merge(entries, MAX_SEGMENTS, new=new)

    def _maybe_merge(self, entries: list[dict], sources: dict[str, SourceRecord],
                     report: UpdateReport, new: frozenset[str]) -> dict[str, SourceRecord]:
        """Merge if due (in place in `entries`); returns the file list pointing at the result."""
        chosen = self._merge_policy(entries, new)
        if not chosen:
            return sources
        self.reading.status(f"merging {len(chosen)} segments")  # the bar stays, and says why
        name = f"seg-{self.gen:06d}-m{len(chosen):02d}"
        merged, remap = merge_segments(self.root / SEGMENTS, chosen, name, self.written,
                                       chunk_postings(self.limits.merge_bytes),
                                       self.limits.jobs)
        report.merged = len(chosen)
        gone = {e["name"] for e in chosen}
        entries[:] = [e for e in entries if e["name"] not in gone] + ([merged] if merged else [])

        def moved(r: ArticleRange) -> ArticleRange:
            if r.segment not in remap:
                return r
            return ArticleRange(name, int(remap[r.segment][r.first]) if r.count else 0, r.count)

        return {path: replace(rec, ranges=tuple(map(moved, rec.ranges)))
                for path, rec in sources.items()}

    def _write_commit(self, entries: list[dict], sources: dict[str, SourceRecord],
                      old: dict | None) -> None:
        sources_name = f"sources-{self.gen:06d}.json"
        self.written.append(self.root / sources_name)
        sources_file = write_file(self.root / sources_name, sources_bytes(sources))
        stems_name, stems_file = self._write_stems(old)
        fsync_dir(self.root / SEGMENTS)  # the new segment directories' entries
        fsync_dir(self.root)
        manifest = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "generation": self.gen,
            "created_by": f"searchlib {__version__}",
            "analyzer": self.settings.to_manifest(),
            "segments": entries,
            "sources": sources_name,
            "sources_file": list(sources_file),
            "stems": stems_name,  # word → stem: the words as written (Snapshot.word_stems)
            "stems_file": list(stems_file) if stems_file else None,
            "roots": self.roots,  # the paths indexed so far: `searchlib index` re-syncs them
        }
        failpoint("before-manifest")
        write_manifest(self.root, manifest, on_renamed=self.written.clear)
        failpoint("committed")
        with contextlib.suppress(OSError):  # the commit stands; the next writer cleans up
            self._collect_garbage(manifest)

    def _write_stems(self, old: dict | None) -> tuple[str | None, tuple[int, int] | None]:
        if self.settings.stemmer == "none":
            return None, None
        stems = load_stems(self.root, old)
        stems.update(self.analyzer.stems)
        name = f"stems-{self.gen:06d}.tsv"
        self.written.append(self.root / name)
        data = "".join(f"{w}\t{t}\n" for w, t in sorted(stems.items())).encode("utf-8")
        return name, write_file(self.root / name, data)

    def _collect_garbage(self, manifest: dict | None) -> None:
        """Remove files no commit refers to (older commits, or a crashed writer's leftovers)."""
        if manifest is None:
            manifest = {"segments": [], "sources": None}
        live = {e["name"]: e.get("deleted") for e in manifest["segments"]}
        seg_root = self.root / SEGMENTS
        for p in seg_root.iterdir():
            if p.name not in live:
                if p.is_symlink() or not p.is_dir():
                    p.unlink(missing_ok=True)  # never follow a link out of the index
                else:
                    shutil.rmtree(p, ignore_errors=True)
                failpoint("gc-partial")
            else:
                for f in p.glob("deleted-*.npy"):
                    if f.name != live[p.name]:
                        f.unlink(missing_ok=True)
        keep = {manifest["sources"], manifest.get("stems")}
        for p in [*self.root.glob("sources-*.json"), *self.root.glob("stems-*.tsv")]:
            if p.name not in keep:
                p.unlink(missing_ok=True)
        for p in self.root.glob(f"{MANIFEST}.tmp-*"):
            p.unlink(missing_ok=True)

    def _cleanup_uncommitted(self) -> None:
        """Remove this update's files, unless its commit may have happened: an interrupt or
        error arriving just after the manifest rename must not delete what the live manifest
        names. What is on disk decides, not how far the code got."""
        if self._maybe_committed():
            return  # anything left over is garbage the next writer collects
        for p in self.written:
            with contextlib.suppress(OSError):
                shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)

    def _maybe_committed(self) -> bool:
        if self.gen is None:
            return False
        try:
            live = json.loads((self.root / MANIFEST).read_text("utf-8"))
        except FileNotFoundError:
            return False
        except (OSError, ValueError):
            return True  # cannot tell: keeping files is always safe
        return not isinstance(live, dict) or live.get("generation") == self.gen
