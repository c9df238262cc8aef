"""Segment files written piece by piece: what a streamed merge writes, chunk after chunk.

A flush has a whole column in memory and writes it with `storage.write_file`; a merge of
segments of any size has one chunk of terms (or paragraphs) at a time. `NpyColumn` writes a
1-D `.npy` file whose header, which holds the length, is written last into the room kept for
it, and `Blob` a plain file; both compute the file's CRC-32 while streaming (the header's is
combined in at the end, `crc32_combine`), fsync on close and give the (size, CRC-32) a
manifest records, so the files are byte for byte what `write_file` would have written.
"""

from __future__ import annotations

import io
import os
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npformat

_HEADER_ROOM = 128  # numpy's 1-D header (format 1.0, padded to 64 bytes) for any length < 10**20


def _gf2_times(matrix: list[int], vector: int) -> int:
    out, i = 0, 0
    while vector:
        if vector & 1:
            out ^= matrix[i]
        vector >>= 1
        i += 1
    return out


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A + B from crc(A), crc(B) and len(B) (zlib's algorithm: appending len2 zero
    bytes is a linear map, applied by repeated squaring), so a header written after its data
    needs no second read of the file."""
    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit
    even = _gf2_square(odd)  # two zero bits
    odd = _gf2_square(even)  # four
    while True:
        even = _gf2_square(odd)  # one zero byte first, then 4, 16, ...
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


class Blob:
    """A new file written in pieces (exclusive create), its CRC-32 computed as it goes."""

    def __init__(self, path: Path) -> None:
        self._f = open(path, "xb")  # noqa: SIM115 - closed by close()
        self.size = 0
        self.crc = 0

    def write(self, data: bytes | memoryview | np.ndarray) -> None:
        view = memoryview(data).cast("B") if not isinstance(data, bytes) else data
        if len(view):
            self._f.write(view)
            self.crc = zlib.crc32(view, self.crc)
            self.size += len(view)

    def close(self) -> tuple[int, int]:
        """Flush, fsync and close; (size, CRC-32) for the manifest."""
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        return self.size, self.crc

    def abandon(self) -> None:
        self._f.close()


class NpyColumn:
    """A 1-D `.npy` column of `dtype` appended to chunk by chunk; the header is written into
    the room kept before the data once the length is known."""

    def __init__(self, path: Path, dtype: str) -> None:
        self.dtype = np.dtype(dtype)
        self._f = open(path, "xb")  # noqa: SIM115 - closed by close()
        self._f.seek(_HEADER_ROOM)
        self.count = 0
        self._crc = 0
        self._bytes = 0

    def append(self, values: np.ndarray) -> None:
        data = np.ascontiguousarray(np.asarray(values).astype(self.dtype, copy=False))
        if data.size:
            raw = memoryview(data).cast("B")
            self._f.write(raw)
            self._crc = zlib.crc32(raw, self._crc)
            self._bytes += len(raw)
            self.count += data.size

    def close(self) -> tuple[int, int]:
        """Write the header, fsync, close; (size, CRC-32) of the whole file."""
        bio = io.BytesIO()
        npformat.write_array_header_1_0(bio, {"descr": npformat.dtype_to_descr(self.dtype),
                                              "fortran_order": False, "shape": (self.count,)})
        header = bio.getvalue()
        if len(header) != _HEADER_ROOM:  # never for a 1-D array; refuse rather than misplace
            raise ValueError(f"unexpected .npy header of {len(header)} bytes")
        self._f.seek(0)
        self._f.write(header)
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        return (_HEADER_ROOM + self._bytes,
                crc32_combine(zlib.crc32(header), self._crc, self._bytes))

    def abandon(self) -> None:
        self._f.close()


class OffsetsColumn(NpyColumn):
    """An offsets column (0, then running sums) appended to by counts."""

    def __init__(self, path: Path, dtype: str) -> None:
        super().__init__(path, dtype)
        self.end = 0
        self.append(np.zeros(1, dtype=np.int64))

    def add_counts(self, counts: np.ndarray) -> None:
        sums = np.cumsum(np.asarray(counts, dtype=np.int64)) + self.end
        if len(sums):
            self.append(sums)
            self.end = int(sums[-1])

    def add_offsets(self, offsets: np.ndarray) -> None:
        """Offsets starting at 0 (a chunk's own), shifted to follow what was written."""
        self.add_counts(np.diff(np.asarray(offsets, dtype=np.int64)))
