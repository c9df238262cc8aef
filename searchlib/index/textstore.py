"""Stored paragraph text, compressed with zstd in blocks of up to STORE_BLOCK paragraphs.

A block is one zstd frame of its paragraphs' byte lengths (uint32 each) followed by their
UTF-8 text; `store.off` says where each frame starts in store.bin and `store.crc` holds the
CRC-32 of each compressed frame, checked before it is decompressed, so a flipped byte is a
`CorruptIndex`, never garbled text. A flush cuts a frame every STORE_BLOCK paragraphs; a merge
copies its inputs' frames that lost no paragraph as they are (no decompression, no
compression), so its frames may hold fewer, and `store.first` says where each one starts. A
hit decompresses only its block; the last few blocks are kept, since a page of hits often
shares them. zstandard is imported at first use.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from functools import cached_property

import numpy as np

from ..errors import CorruptIndex
from .schema import STORE_BLOCK
from .storage import Mapped

LEVEL = 3  # measured on Reuters: levels 6-9 save 3% more and compress 3x slower
KEPT_BLOCKS = 8
STREAM_BLOCKS = 32  # frames a StoreWriter compresses per call (one compressor per call)


def compress_store(store: bytes, paragraph_bytes: np.ndarray) -> tuple[bytes, np.ndarray,
                                                                       np.ndarray]:
    """(store.bin, store.off, store.crc) of the paragraphs' concatenated text."""
    import zstandard

    compressor = zstandard.ZstdCompressor(level=LEVEL)
    lengths = np.asarray(paragraph_bytes, dtype=np.int64)
    ends = np.cumsum(lengths)
    view = memoryview(store)
    frames = []
    for first in range(0, len(lengths), STORE_BLOCK):
        last = min(first + STORE_BLOCK, len(lengths))
        lo, hi = int(ends[first] - lengths[first]), int(ends[last - 1])
        frames.append(compressor.compress(lengths[first:last].astype("<u4").tobytes()
                                          + bytes(view[lo:hi])))
    off = np.zeros(len(frames) + 1, dtype=np.int64)
    np.cumsum([len(f) for f in frames], out=off[1:])
    crc = np.array([zlib.crc32(f) for f in frames], dtype=np.uint32)
    return b"".join(frames), off, crc


class TextStore:
    """The paragraphs' text of one segment, read block by block."""

    def __init__(self, data: Mapped, off: np.ndarray, crc: np.ndarray, n_paragraphs: int,
                 label: str, first: np.ndarray | None = None) -> None:
        self._data, self._off, self._crc = data, off, crc  # data: store.bin, mapped
        self._first = first  # None: frame b starts at paragraph STORE_BLOCK·b
        self._n = n_paragraphs
        self.n_blocks = len(off) - 1
        self._label = label  # segment/store.bin
        self._kept: OrderedDict[int, tuple[np.ndarray, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._decompressor = None

    @cached_property
    def view(self) -> np.ndarray:
        """store.bin as bytes (uint8): made at first read, so closing an index that read no
        text unmaps the file, and a hit read later keeps it mapped."""
        return np.frombuffer(self._data, dtype=np.uint8)

    def paragraph(self, pid: int) -> str:
        """A paragraph's text."""
        if not 0 <= pid < self._n:
            raise IndexError("paragraph out of range")
        if self._first is None:
            b = pid // STORE_BLOCK
        else:
            b = int(np.searchsorted(self._first, pid, side="right")) - 1
        starts, text = self.block(b)
        i = pid - self.paragraphs(b)[0]
        if not 0 <= i < len(starts) - 1:
            raise CorruptIndex(f"index file damaged: {self._label} does not hold paragraph {pid}")
        try:
            return text[int(starts[i]):int(starts[i + 1])].decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptIndex(f"index file damaged: {self._label} is not UTF-8") from None

    def block(self, b: int) -> tuple[np.ndarray, bytes]:
        """(offsets of its paragraphs in its text (n+1), text) of block `b`, checked."""
        with self._lock:
            kept = self._kept.get(b)
            if kept is not None:
                self._kept.move_to_end(b)
                return kept
        first, last = self.paragraphs(b)
        frame = self.frame(b)
        if zlib.crc32(frame) != int(self._crc[b]):
            raise CorruptIndex(f"index file damaged: {self._label} fails the checksum "
                               f"of paragraphs {first}-{last - 1}")
        with self._lock:  # one decompressor, not safe to share between threads
            out = self._unpack(frame, last - first, first)
            self._kept[b] = out
            if len(self._kept) > KEPT_BLOCKS:
                self._kept.popitem(last=False)
        return out

    def paragraphs(self, b: int) -> tuple[int, int]:
        """The paragraphs block `b` holds: first, and one past the last (checked)."""
        if self._first is None:
            first = b * STORE_BLOCK
            return first, min(first + STORE_BLOCK, self._n)
        if not 0 <= b < self.n_blocks or len(self._first) != self.n_blocks + 1:
            raise CorruptIndex(f"index file damaged: {self._label} has a bad block table")
        first, last = (int(v) for v in self._first[b:b + 2])
        if not 0 <= first < last <= min(self._n, first + STORE_BLOCK):
            raise CorruptIndex(f"index file damaged: {self._label} has a bad block table")
        return first, last

    def starts(self) -> np.ndarray:
        """The first paragraph of every block, then the count (n_blocks + 1), checked."""
        if self._first is None:
            return np.minimum(np.arange(self.n_blocks + 1, dtype=np.int64) * STORE_BLOCK,
                              self._n)
        first = np.asarray(self._first, dtype=np.int64)
        sizes = np.diff(first)
        if len(sizes) and (int(sizes.min()) <= 0 or int(sizes.max()) > STORE_BLOCK):
            raise CorruptIndex(f"index file damaged: {self._label} has a bad block table")
        return first

    def frame(self, b: int) -> np.ndarray:
        """Block `b`'s compressed frame as stored (its CRC-32 is `crc(b)`)."""
        lo, hi = int(self._off[b]), int(self._off[b + 1])
        data = self.view
        return data[lo:hi] if 0 <= lo <= hi <= len(data) else data[:0]

    def crc(self, b: int) -> int:
        return int(self._crc[b])

    def _unpack(self, frame, n: int, first: int) -> tuple[np.ndarray, bytes]:
        import zstandard

        if self._decompressor is None:
            self._decompressor = zstandard.ZstdDecompressor()
        try:
            payload = self._decompressor.decompress(frame)
        except zstandard.ZstdError:
            payload = b""
        starts = np.zeros(n + 1, dtype=np.int64)
        if len(payload) >= 4 * n:
            np.cumsum(np.frombuffer(payload, dtype="<u4", count=n), out=starts[1:])
        if len(payload) < 4 * n or int(starts[-1]) != len(payload) - 4 * n:
            raise CorruptIndex(f"index file damaged: {self._label} does not hold paragraphs "
                               f"{first}-{first + n - 1}")
        return starts, payload[4 * n:]

    def all(self) -> tuple[np.ndarray, bytes]:
        """(byte length of each paragraph, all text): what a merge reads."""
        lengths, texts = [], []
        for b in range(self.n_blocks):
            starts, text = self.block(b)
            lengths.append(np.diff(starts))
            texts.append(text)
        if not lengths:
            return np.zeros(0, dtype=np.int64), b""
        return np.concatenate(lengths), b"".join(texts)


class StoreWriter:
    """store.bin and its frame offsets and CRCs written as a stream: paragraphs are added in
    runs of any length, and compressed STORE_BLOCK to a frame once `STREAM_BLOCKS` frames'
    worth are in (a merge holds a few blocks of text, not a segment's).
    Frames can also be copied as they are (`copy`), which ends the frame in progress early.
    `blob`, `off`, `crc` and `first` are the files' writers (`streamwrite.Blob`,
    `OffsetsColumn`, `NpyColumn`, `OffsetsColumn`)."""

    def __init__(self, blob, off, crc, first) -> None:
        self._blob, self._off, self._crc, self._first = blob, off, crc, first
        self._lengths: list[np.ndarray] = []
        self._texts: list[bytes] = []
        self._pending = 0

    def add(self, lengths: np.ndarray, text: bytes) -> None:
        """Paragraphs of these byte lengths, their UTF-8 text concatenated."""
        self._lengths.append(np.asarray(lengths, dtype=np.int64))
        self._texts.append(text)
        self._pending += len(lengths)
        if self._pending >= STORE_BLOCK * STREAM_BLOCKS:
            self._frames(final=False)

    def _frames(self, final: bool) -> None:
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, np.int64)
        text = b"".join(self._texts)
        n = len(lengths) if final else len(lengths) - len(lengths) % STORE_BLOCK
        cut = int(lengths[:n].sum())
        frames, off, crc = compress_store(text[:cut], lengths[:n])
        self._blob.write(frames)
        self._off.add_offsets(off)
        self._crc.append(crc)
        self._first.add_counts(np.diff(np.minimum(np.arange(0, n + STORE_BLOCK, STORE_BLOCK),
                                                  n))[:len(crc)])
        self._lengths = [lengths[n:]]
        self._texts = [text[cut:]]
        self._pending = len(lengths) - n

    def copy(self, frames: np.ndarray, sizes: np.ndarray, crcs: np.ndarray,
             counts: np.ndarray) -> None:
        """Frames compressed already (their bytes concatenated, each one's size, CRC-32 and
        paragraphs), written after what was added before them."""
        if self._pending:
            self._frames(final=True)
        self._blob.write(frames)
        self._off.add_counts(sizes)
        self._crc.append(crcs)
        self._first.add_counts(counts)

    def finish(self) -> None:
        """Write the last (partial) frame."""
        self._frames(final=True)
