"""The single writer: incremental updates, merging, atomic commits.

An update walks the given paths, re-reads only files whose size or mtime changed, writes
their articles into new segments, marks replaced/removed articles deleted, merges when
segments pile up, and commits everything with one manifest rename. A crash at any point
leaves the previous commit intact; files it left behind are removed by the next writer.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..analysis import ANALYZER_VERSION, Analyzer, check_version
from ..corpus import Progress, ReadProgress, find_sources, iter_source
from ..errors import CorruptIndex, IndexWriteError, InvalidArgument, NotAnIndex
from .segment import (
    FIELDS,
    Segment,
    SegmentBuilder,
    _npy_bytes,
    build_postings,
    expand_ranges,
    json_bytes,
    load_deleted,
    merge_vocabularies,
    npy_array,
    read_checked,
    write_segment,
)
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
    write_file,
    write_manifest,
)

FLUSH_TOKENS = 4_000_000  # tokens buffered before a segment is written (bounds memory)
MAX_SEGMENTS = 8


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

    @property
    def changed(self) -> bool:
        return bool(self.files_added or self.files_changed or self.files_removed)

    @property
    def partial(self) -> bool:
        """Some indexed articles could not be re-read and were kept as they were."""
        return bool(self.kept_subtrees)


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


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

    def update(self, paths: Iterable[str | os.PathLike], *,
               warn: Callable[[str], None] | None = None, progress: Progress | None = None,
               flush_tokens: int = FLUSH_TOKENS) -> UpdateReport:
        t0 = time.perf_counter()
        report = UpdateReport()

        def _warn(msg: str) -> None:
            report.warnings.append(msg)
            if warn:
                warn(msg)

        _prepare_root(self.root, self.rebuild)
        with WriterLock(self.root):
            try:
                self._update(list(paths), report, _warn, progress, flush_tokens)
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

    # -- internals ---------------------------------------------------------------------------

    def _update(self, paths: list, report: UpdateReport, warn, progress, flush_tokens) -> None:
        old = None
        if not self.rebuild and (self.root / MANIFEST).exists():
            old = read_manifest(self.root)
            check_version(old["analyzer"], self.root)  # its terms would not match new ones
            self._collect_garbage(old)  # leftovers of a writer that crashed before committing
        elif not (self.root / MANIFEST).exists():
            self._collect_garbage(None)  # a first build that crashed left only garbage
        settings = dict(old["analyzer"]) if old else {"stemmer": "snowball", "stopwords": True,
                                                       "version": ANALYZER_VERSION}
        for key, value in self.want.items():
            if value is not None and old and settings.get(key) != value:
                raise InvalidArgument(
                    f"index at {self.root} uses {key}={settings.get(key)}; "
                    "changing it needs a rebuild"
                )
            if value is not None:
                settings[key] = value
        analyzer = Analyzer(settings["stemmer"], settings["stopwords"])
        self.analyzer = analyzer
        self.old = old
        # Every file a commit writes carries a generation no earlier commit used, so it can
        # never overwrite (or, on failure, clean up) a file the live commit depends on.
        gen = self.gen = self._max_generation() + 1
        seg_entries = list(old["segments"]) if old else []
        sources = self._load_sources(old) if old else {}
        deletions: dict[str, list[tuple[int, int]]] = {}

        # sources: path -> [stamp, [[segment, first article, count], ...]]; a big file may
        # span segments, because the buffer is flushed between any two articles.
        self.builder = SegmentBuilder(analyzer)
        pending: list[list] = []  # ranges waiting for the name of the segment they land in
        new_segments: list[dict] = []
        self._written: list[Path] = []

        def flush() -> None:
            if not len(self.builder):
                return
            name = f"seg-{gen:06d}-{len(new_segments):03d}"
            path = self.root / SEGMENTS / name
            self._written.append(path)
            entry = self.builder.write(path)
            fsync_dir(path)
            failpoint("segment-written")
            new_segments.append(entry)
            for rng in pending:
                rng[0] = name
            pending.clear()
            self.builder = SegmentBuilder(analyzer)

        def forget(rec: list) -> None:
            for seg, first, n in rec[1]:
                if seg is not None:
                    deletions.setdefault(seg, []).append((first, n))
                report.articles_removed += n

        def keep(where: str, rec: list) -> None:
            """`where` could not be read: what was indexed from it stays, and is reported."""
            if where not in report.kept_subtrees:
                report.kept_subtrees.append(where)
            report.articles_kept += sum(n for _, _, n in rec[1])

        # Files indexed from under these paths and not seen now are removed, unless the folder
        # (or path) holding them could not be listed: then they are kept, and reported.
        roots = [os.path.abspath(os.fspath(p)) for p in paths]
        self.roots = sorted(set(roots) | set((old or {}).get("roots") or []))
        if self.prune_missing:  # a root that is gone for good is not re-synced any more
            self.roots = [r for r in self.roots if r not in roots or os.path.exists(r)]
        unlisted: list[str] = []  # folders (or roots) whose content could not be listed
        # listed first: a progress bar needs a total
        found = list(find_sources(paths, warn, unlisted=unlisted))
        if self.select is not None:  # a shard: only its share of the files
            found = [src for src in found if self.select.owns(src)]
        seen = {src.path for src in found}
        fresh = [src for src in found
                 if self.rebuild or (sources.get(src.path) or [None])[0] != src.stamp]
        report.files_unchanged = len(found) - len(fresh)
        reading = ReadProgress(progress, sum(src.size for src in fresh))
        for src in fresh:
            prev = sources.get(src.path)
            stream = iter_source(src, warn, reading.file(src))
            if stream is not None and self.select is not None:
                stream = self.select.articles(src, stream)
            first = next(stream, None) if stream is not None else None
            if first is None:
                report.files_skipped += 1
            if stream is None:  # unreadable now (permissions, I/O): content unknown
                reading.finished(src)
                if prev and self.prune_missing:
                    forget(sources.pop(src.path))
                    report.files_removed += 1
                elif prev:
                    keep(src.path, prev)
                continue
            if first is None and not prev:  # a new file with nothing to index
                reading.finished(src)
                continue
            if prev:
                forget(prev)
                report.files_changed += 1
            else:
                report.files_added += 1
            rec: list = [src.stamp, []]
            current = None
            for art in itertools.chain([first], stream) if first else ():
                if current is None:
                    current = [None, len(self.builder), 0]
                    rec[1].append(current)
                    pending.append(current)
                self.builder.add(art.id, art.title, src.path, list(art.paragraphs))
                current[2] += 1
                report.articles_added += 1
                report.paragraphs_added += len(art.paragraphs)
                if self.builder.tokens >= flush_tokens:
                    flush()
                    current = None
            sources[src.path] = rec
            reading.finished(src)
        flush()

        if not self.rebuild:
            for key in [k for k in sources if k not in seen and _under(k, roots)]:
                blind = next((u for u in unlisted if _under(key, [u])), None)
                if blind is not None and not self.prune_missing:
                    keep(blind, sources[key])  # not seen because not listable: not gone
                    continue
                forget(sources.pop(key))
                report.files_removed += 1
        if self.rebuild:
            seg_entries = []

        if not (report.changed or self.rebuild or old is None):  # a new index always commits
            self._finish_report(report, seg_entries)
            return

        seg_entries = self._apply_deletions(seg_entries, deletions)
        failpoint("deletions-written")
        seg_entries = seg_entries + new_segments
        seg_entries, sources = self._maybe_merge(seg_entries, sources, report)
        failpoint("merged")
        self._commit(seg_entries, sources, settings)
        report.committed = True
        self._finish_report(report, seg_entries)

    def _finish_report(self, report: UpdateReport, entries: list[dict]) -> None:
        report.segments = len(entries)
        report.articles = sum(e["articles"] - e.get("deleted_count", 0) for e in entries)
        report.paragraphs = sum(e["paragraphs"] - e.get("deleted_paragraphs", 0) for e in entries)

    def _load_sources(self, manifest: dict) -> dict[str, list]:
        """The file list, verified first: a wrong range would delete the wrong articles."""
        name = manifest["sources"]
        rebuild = "it needs a rebuild"
        try:
            data = read_checked(self.root / name, name, *manifest["sources_file"])
        except CorruptIndex as exc:
            raise CorruptIndex(f"{exc}, so the index at {self.root} cannot be updated; "
                               f"{rebuild}") from None
        segments = {e["name"]: e["articles"] for e in manifest["segments"]}
        try:
            sources = json.loads(data.decode("utf-8"))
            for stamp, ranges in sources.values():  # the layout this version writes
                if len(stamp) != 4 or any(len(r) != 3 for r in ranges):
                    raise ValueError("unexpected record")
                for seg, first, n in ranges:
                    if seg in segments and not 0 <= first <= first + n <= segments[seg]:
                        raise ValueError("a range outside its segment")
            return sources
        except (ValueError, TypeError, AttributeError, RecursionError):
            raise CorruptIndex(
                f"the file list of the index at {self.root} is damaged or from an older "
                f"searchlib; {rebuild}"
            ) from None

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
            deleted = load_deleted(seg_dir, entry)
            if deleted is None:
                deleted = np.zeros(entry["articles"], dtype=bool)
            deleted = deleted.copy()
            for first, n in ranges:
                deleted[first:first + n] = True
            entry = dict(entry)
            if deleted.all():
                continue  # the whole segment is gone
            fname = f"deleted-{self.gen:06d}.npy"
            self._written.append(seg_dir / fname)
            entry["deleted_file"] = list(write_file(seg_dir / fname, _npy_bytes(deleted)))
            fsync_dir(seg_dir)
            label = f"{entry['name']}/art.first.npy"
            first = npy_array(read_checked(seg_dir / "art.first.npy", label,
                                           *entry["files"]["art.first.npy"]), label)
            if first.shape != (entry["articles"] + 1,):
                raise CorruptIndex(f"index file damaged: {label} does not match its segment")
            counts = np.diff(first.astype(np.int64))
            entry["deleted"] = fname
            entry["deleted_count"] = int(deleted.sum())
            entry["deleted_paragraphs"] = int(counts[deleted].sum())
            out.append(entry)
        return out

    def _maybe_merge(self, entries: list[dict], sources: dict, report: UpdateReport):
        heavy = [e for e in entries if e.get("deleted_count", 0) * 2 > e["articles"]]
        small_first = sorted(
            entries, key=lambda e: e["paragraphs"] - e.get("deleted_paragraphs", 0)
        )
        chosen: list[dict] = list(heavy)
        if len(entries) > MAX_SEGMENTS:
            for e in small_first:
                if len(entries) - len(chosen) + 1 <= MAX_SEGMENTS // 2:
                    break
                if e not in chosen:
                    chosen.append(e)
        if not chosen:
            return entries, sources
        name = f"seg-{self.gen:06d}-m{len(chosen):02d}"
        merged_entry, remap = merge_segments(self.root / SEGMENTS, chosen, name, self._written)
        report.merged = len(chosen)
        chosen_names = {e["name"] for e in chosen}
        for rec in sources.values():
            for rng in rec[1]:
                if rng[0] in chosen_names:
                    rng[1] = int(remap[rng[0]][rng[1]]) if rng[2] else 0
                    rng[0] = name
        rest = [e for e in entries if e["name"] not in chosen_names]
        return (rest + [merged_entry] if merged_entry else rest), sources

    def _commit(self, entries: list[dict], sources: dict, settings: dict) -> None:
        sources_name = f"sources-{self.gen:06d}.json"
        self._written.append(self.root / sources_name)
        size, crc = write_file(self.root / sources_name, json.dumps(sources).encode("utf-8"))
        stems_name, stems_file = None, None
        if settings["stemmer"] != "none":
            stems = load_stems(self.root, self.old)
            stems.update(self.analyzer.stems)
            stems_name = f"stems-{self.gen:06d}.tsv"
            self._written.append(self.root / stems_name)
            stems_file = write_file(
                self.root / stems_name,
                "".join(f"{w}\t{t}\n" for w, t in stems.items()).encode("utf-8"))
        fsync_dir(self.root / SEGMENTS)  # the new segment directories' entries
        fsync_dir(self.root)
        manifest = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "generation": self.gen,
            "created_by": f"searchlib {__version__}",
            "analyzer": settings,
            "segments": entries,
            "sources": sources_name,
            "sources_file": [size, crc],
            "stems": stems_name,  # word → stem: the words as written (Snapshot.word_stems)
            "stems_file": list(stems_file) if stems_file else None,
            "roots": self.roots,  # the paths indexed so far: `searchlib index` re-syncs them
        }
        failpoint("before-manifest")
        write_manifest(self.root, manifest, on_renamed=self._written.clear)
        failpoint("committed")
        with contextlib.suppress(OSError):  # the commit stands; the next writer cleans up
            self._collect_garbage(manifest)

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
        for p in getattr(self, "_written", []):
            with contextlib.suppress(OSError):
                shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)

    def _maybe_committed(self) -> bool:
        gen = getattr(self, "gen", None)
        if gen is None:
            return False
        try:
            live = json.loads((self.root / MANIFEST).read_text("utf-8"))
        except FileNotFoundError:
            return False
        except (OSError, ValueError):
            return True  # cannot tell: keeping files is always safe
        return not isinstance(live, dict) or live.get("generation") == gen


def merge_segments(seg_root: Path, entries: list[dict], name: str, written: list[Path]):
    """Rewrite the live documents of several segments into one; returns (entry, article remaps).

    Works on arrays only: postings are expanded back to (term, doc, position) triples with
    merged term ids and renumbered documents, then rebuilt by the same routine as a flush.
    """
    segs = [Segment(seg_root / e["name"], e) for e in entries]  # verified: we rewrite them
    merged_terms = merge_vocabularies(segs)
    terms = sorted(merged_terms)
    gid = {t: i for i, t in enumerate(terms)}
    remaps: dict[str, np.ndarray] = {}
    arrays: dict[str, list] = {f"{f}.{k}": [] for f in FIELDS for k in ("t", "d", "p", "len")}
    texts: list[np.ndarray] = []
    text_lens: list[np.ndarray] = []
    par_counts: list[np.ndarray] = []
    articles: list = []
    doc_base = {"text": 0, "title": 0}
    for seg in segs:
        art_live = ~seg.deleted if seg.deleted is not None else np.ones(seg.n_articles, bool)
        par_live = art_live[seg.para_article]
        remaps[seg.name] = np.cumsum(art_live) - 1 + doc_base["title"]
        term_map = np.array([gid[t] for t in seg.vocab], dtype=np.int64)
        for f, live in (("text", par_live), ("title", art_live)):
            fp = seg.fields[f]
            new_doc = np.cumsum(live) - 1 + doc_base[f]
            post_term = np.repeat(np.arange(len(fp.ptr) - 1), np.diff(fp.ptr))
            keep_post = live[fp.doc]
            tf = np.asarray(fp.tf)
            tok_keep = np.repeat(keep_post, tf)
            arrays[f"{f}.t"].append(term_map[np.repeat(post_term, tf)[tok_keep]])
            arrays[f"{f}.d"].append(new_doc[np.repeat(np.asarray(fp.doc), tf)[tok_keep]])
            arrays[f"{f}.p"].append(np.asarray(fp.pos)[tok_keep])
            arrays[f"{f}.len"].append(np.asarray(fp.length)[live])
            doc_base[f] += int(live.sum())
        off = np.asarray(seg.store_off, dtype=np.int64)
        lens = np.diff(off)[par_live]
        text_lens.append(lens)
        texts.append(np.asarray(seg._store)[expand_ranges(off[:-1][par_live], lens)])
        par_counts.append(np.diff(np.asarray(seg.art_first, dtype=np.int64))[art_live])
        articles.extend(a for a, alive in zip(seg.articles, art_live) if alive)
    n_art, n_par = doc_base["title"], doc_base["text"]
    if n_art == 0:
        return None, remaps
    out: dict[str, np.ndarray] = {}
    tids = {f: np.concatenate(arrays[f"{f}.t"]) for f in FIELDS}
    # Words only deleted documents had leave the vocabulary (no ghost did-you-mean).
    used = np.unique(np.concatenate(list(tids.values())))
    compact = np.full(len(terms), -1, dtype=np.int64)
    compact[used] = np.arange(len(used))
    terms = [terms[i] for i in used]
    for f in FIELDS:
        t = compact[tids[f]]
        d = np.concatenate(arrays[f"{f}.d"])
        p = np.concatenate(arrays[f"{f}.p"])
        order = np.lexsort((p, d))
        built = build_postings(t[order], d[order], p[order], len(terms))
        built["len"] = np.concatenate(arrays[f"{f}.len"]).astype(np.int32)
        out.update({f"{f}.{k}": v for k, v in built.items()})
    counts = np.concatenate(par_counts)
    out["art.first"] = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    blob = np.concatenate(texts) if texts else np.zeros(0, np.uint8)
    out["store.off"] = np.concatenate([[0], np.cumsum(np.concatenate(text_lens))]).astype(np.int64)
    blobs = {
        "vocab.txt": "\n".join(terms).encode("utf-8"),
        "surface.txt": "\n".join(merged_terms[t] for t in terms).encode("utf-8"),
        "store.bin": blob.tobytes(),
        "articles.json": json_bytes(articles),
    }
    path = seg_root / name
    written.append(path)
    entry = write_segment(path, out, blobs, n_art, n_par)
    fsync_dir(path)
    return entry, remaps
