"""Durable files: atomic writes, checksums, the manifest and the writer lock.

The manifest is the single commit point. Everything it names is written (and fsynced) first
under a fresh name; then the manifest is replaced by rename and the directory fsynced. A
reader that loads the manifest therefore sees a whole commit or the previous one, never a mix.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import mmap
import os
import pwd
import signal
import zlib
from pathlib import Path

from ..analysis import AnalyzerSettings
from ..errors import (
    CorruptIndex,
    IncompatibleIndex,
    IndexLocked,
    IndexNotFound,
    IndexWriteError,
    NotAnIndex,
    SearchlibError,
)
from .schema import analyzer_problem, manifest_problem

FORMAT_NAME = "searchlib-index"
FORMAT_VERSION = 3  # 3: postings packed in blocks with score bounds per block, zstd stored text;
# 2: store.crc blocks, record offsets, article metadata columns
MANIFEST = "manifest.json"
LOCK = "write.lock"
SEGMENTS = "segments"

Mapped = mmap.mmap | bytes  # a file's whole content: mapped read-only, or b"" when empty


def failpoint(name: str) -> None:
    """Crash-test hook: die here, as abruptly as a power cut, when asked by the environment.

    Tests set SEARCHLIB_FAILPOINT to a point's name and check the index afterwards."""
    if os.environ.get("SEARCHLIB_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def map_file(path: Path | str) -> Mapped:
    """The whole file, mapped read-only (b"" if empty: an empty file cannot be mapped).

    A mapping keeps the file's data reachable after a writer's commit unlinks it, so a
    reader (and `check`) keeps seeing the very commit it opened. Plain descriptors, not file
    objects: opening an index maps every file of every segment."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        if os.fstat(fd).st_size == 0:
            return b""
        return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    finally:
        os.close(fd)


def verify(file: Path | str | Mapped, size: int, crc: int | None, label: str) -> Mapped:
    """A file of a commit checked against the size and CRC-32 its manifest recorded (crc None:
    the size only). `file` is a path to map, or data mapped before: a reader re-checks the very
    files it opened. Every check of index files is this one; damage is a one-line CorruptIndex.
    """
    data = _map_commit_file(file, label) if isinstance(file, (Path, str)) else file
    actual = data.size() if isinstance(data, mmap.mmap) else len(data)  # size() is fstat: a
    if actual != size:  # file truncated since it was mapped is reported, never touched
        raise CorruptIndex(f"index file damaged: {label} has {actual} bytes, expected {size}")
    if crc is not None:
        ok = zlib.crc32(data) == crc
        release_pages(data)
        if not ok:
            raise CorruptIndex(f"index file damaged: {label} fails its checksum")
    return data


def release_pages(data: Mapped) -> None:
    """Drop a mapped file's pages from this process's resident memory (they stay in the page
    cache, and come back on the next read): checking or merging every byte of a large index
    must not make the process look as large as the index."""
    if isinstance(data, mmap.mmap) and not data.closed and hasattr(mmap, "MADV_DONTNEED"):
        with contextlib.suppress(OSError, ValueError):
            data.madvise(mmap.MADV_DONTNEED)


def read_verified(path: Path, size: int, crc: int, label: str) -> bytes:
    """A (small) file of a commit, verified and read whole."""
    data = verify(path, size, crc, label)
    try:
        return bytes(data)
    finally:
        if isinstance(data, mmap.mmap):
            data.close()


def _map_commit_file(path: Path | str, label: str) -> Mapped:
    try:
        return map_file(path)
    except FileNotFoundError:
        raise CorruptIndex(f"index file missing: {label}") from None
    except OSError as exc:
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            raise SearchlibError("too many open files to open the index") from None
        raise CorruptIndex(f"index file unreadable: {label}: {exc.strerror or exc}") from None


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> tuple[int, int]:
    """Write bytes durably to a new file; returns (size, crc32) for the manifest."""
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return len(data), zlib.crc32(data)


def describe_oserror(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "disk full"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        if not exc.filename:
            return "location is not writable"
        # Name the culprit (say, a folder left root-owned by `sudo searchlib index`): the
        # file if it exists, else the folder it was to be created in.
        path = Path(os.fsdecode(exc.filename))
        path = path if path.exists() else path.parent
        with contextlib.suppress(OSError, KeyError):
            owner = path.stat().st_uid
            if owner != os.geteuid():
                return f"{path} is not writable (owned by {pwd.getpwuid(owner).pw_name})"
        return f"{path} is not writable"
    return exc.strerror or str(exc)


def is_index_file(name: str) -> bool:
    """Names an index folder may hold (including what a crashed first build leaves)."""
    return (name in (LOCK, "README.md", SEGMENTS, MANIFEST) or name.startswith(".")
            or name.startswith((f"{MANIFEST}.tmp-", "sources-", "stems-")))


def read_manifest(root: Path) -> dict:
    """Load and validate the manifest, with one-line errors for every way it can be wrong."""
    mpath = root / MANIFEST
    if not root.exists():
        raise IndexNotFound(f"no index at {root}")
    if not root.is_dir():
        raise NotAnIndex(f"{root} is a file, not a searchlib index directory")
    if not mpath.exists():
        if any(not is_index_file(p.name) for p in root.iterdir()):
            raise NotAnIndex(f"{root} is not a searchlib index (no {MANIFEST})")
        raise IndexNotFound(f"no index at {root}")
    try:
        manifest = json.loads(mpath.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CorruptIndex(f"{mpath} is unreadable or damaged ({exc.__class__.__name__})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise NotAnIndex(f"{root} is not a searchlib index ({MANIFEST} is not ours)")
    version = manifest.get("version")
    if version != FORMAT_VERSION:
        raise IncompatibleIndex(
            f"index at {root} has format version {version}; this searchlib reads version "
            f"{FORMAT_VERSION}: it needs a rebuild"
        )
    problem = manifest_problem(manifest)
    if problem:
        raise CorruptIndex(f"{mpath} is damaged: {problem}")
    return manifest


def _lenient_manifest(root: Path) -> dict:
    """The manifest as far as it parses ({} if not at all), for a rebuild to reuse."""
    try:
        manifest = json.loads((root / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        return {}
    return manifest


def recorded_roots(root: Path) -> list[str]:
    """The paths an index was built from, read leniently ([] if there are none to read):
    `searchlib index --rebuild` must still find them when the rest of the manifest is bad."""
    roots = _lenient_manifest(root).get("roots")
    return [r for r in roots if isinstance(r, str)] if isinstance(roots, list) else []


def recorded_analyzer(root: Path) -> AnalyzerSettings | None:
    """The analyzer settings an index was built with, read leniently (None if unreadable):
    a rebuild keeps them, also when the rest of the manifest is damaged or the analyzer
    version is another."""
    value = _lenient_manifest(root).get("analyzer")
    if analyzer_problem(value) is not None:
        return None
    return AnalyzerSettings.from_manifest(value)


def write_manifest(root: Path, manifest: dict, on_renamed=None) -> None:
    """The commit point: write a temp file, fsync, rename over the manifest, fsync the dir.

    `on_renamed` runs the moment the rename has happened: from then on the new commit is
    live, so a later failure (fsync of the folder) must not undo or clean up its files."""
    tmp = root / f"{MANIFEST}.tmp-{os.getpid()}"
    data = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        failpoint("manifest-temp-written")
        os.replace(tmp, root / MANIFEST)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise IndexWriteError(
            f"could not commit the index at {root}: {describe_oserror(exc)}; "
            "the previous commit is intact"
        ) from None
    if on_renamed:
        on_renamed()
    with contextlib.suppress(OSError):  # the rename is visible; durability is best effort now
        fsync_dir(root)


class WriterLock:
    """An exclusive, process-lifetime lock (flock): a killed writer never leaves it stuck.

    The pid written inside is only for the error message; the kernel releases the lock
    when the holder dies, so a stale lock file is simply re-acquired.
    """

    def __init__(self, root: Path) -> None:
        self.path = root / LOCK
        self.fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise IndexWriteError(
                f"cannot lock the index at {self.path.parent}: {describe_oserror(exc)}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            finally:
                os.close(fd)
            raise IndexLocked(
                f"index at {self.path.parent} is locked by another writer (pid {holder})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)  # closing drops the flock
            self.fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def stems_text(data: Mapped, expected: list[int] | None) -> str:
    """The word → stem cache as "word\tstem" lines; "" if it does not match its recorded size
    and checksum (it is only a cache: stems are then computed again, never trusted)."""
    try:
        return bytes(verify(data, *expected, "stems") if expected else data).decode("utf-8")
    except CorruptIndex:
        return ""
    except UnicodeDecodeError:
        return ""


def parse_stems(text: str) -> dict[str, str]:
    """word → stem from the cache's text."""
    if text.count("\t") == text.count("\n"):
        # As the writer wrote it: one "word\tstem\n" per line, so one split does what a
        # split per line does, faster (a query waits on it).
        parts = text.replace("\n", "\t").split("\t")
        return dict(zip(parts[0:-1:2], parts[1:-1:2]))
    pairs = (line.split("\t") for line in text.split("\n") if line)
    return {p[0]: p[1] for p in pairs if len(p) == 2}


def load_stems(root: Path, manifest: dict | None) -> dict[str, str]:
    """The word → stem cache of a commit ({} if absent, unreadable or damaged)."""
    name = (manifest or {}).get("stems")
    if not name:
        return {}
    try:
        data = (root / name).read_bytes()
    except OSError:
        return {}
    return parse_stems(stems_text(data, (manifest or {}).get("stems_file")))
