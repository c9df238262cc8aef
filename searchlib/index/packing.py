"""Byte-aligned packing of small unsigned integers in blocks, encoded and decoded with numpy.

A run of values (document gaps, tf − 1, position gaps) is cut in blocks; each block is stored
with the fewest bytes its largest value needs — 0 (all zero), 1, 2 or 4 — named by a 2-bit
width code. Blocks of one width are packed and unpacked together (one numpy gather per width),
so no Python loop runs per block or per value. Byte-aligned rather than bit-packed: unpacking
is a `view` of the bytes, and most of the saving is in going from 4 bytes to 1 or 0.
"""

from __future__ import annotations

import numpy as np

WIDTH_BYTES = np.array([0, 1, 2, 4], dtype=np.int64)  # bytes per value, by width code
UNPACKED = {1: np.dtype("<u1"), 2: np.dtype("<u2"), 3: np.dtype("<u4")}  # by width code
_LIMITS = np.array([1, 1 << 8, 1 << 16], dtype=np.int64)  # smallest value needing code 1, 2, 3


def expand_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenate arange(s, s+l) for each (s, l) pair, without a Python loop."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    # steps of 1, and at each range's first slot the jump from the previous range's last
    # value: one cumulative sum (two passes over the output, not a repeat per array)
    some = lengths > 0
    starts = np.asarray(starts, dtype=np.int64)[some]
    lengths = lengths[some]
    jumps = np.empty(len(starts), dtype=np.int64)
    jumps[0] = starts[0]
    jumps[1:] = starts[1:] - (starts[:-1] + lengths[:-1] - 1)
    out = np.ones(total, dtype=np.int64)
    out[exclusive_cumsum(lengths)] = jumps
    return np.cumsum(out, out=out)


def exclusive_cumsum(counts: np.ndarray) -> np.ndarray:
    """Where each of consecutive runs of `counts` starts (0 first)."""
    out = np.zeros(len(counts), dtype=np.int64)
    if len(counts) > 1:
        np.cumsum(counts[:-1], out=out[1:])
    return out


def width_codes(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The width code of each block of `values` (consecutive runs of `counts`, none empty)."""
    if not len(counts):
        return np.zeros(0, dtype=np.uint8)
    top = np.maximum.reduceat(np.asarray(values, dtype=np.int64), exclusive_cumsum(counts))
    if len(top) and int(top.max()) >= 1 << 32:
        raise ValueError("a value does not fit in 32 bits")
    return np.searchsorted(_LIMITS, top, side="right").astype(np.uint8)


def pack(values: np.ndarray, counts: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The blocks' values as bytes, each block at its width, in block order."""
    counts = np.asarray(counts, dtype=np.int64)
    sizes = counts * WIDTH_BYTES[codes]
    out = np.zeros(int(sizes.sum()), dtype=np.uint8)
    byte_start, value_start = exclusive_cumsum(sizes), exclusive_cumsum(counts)
    for code, dtype in UNPACKED.items():
        sel = np.flatnonzero(codes == code)
        if len(sel):
            chunk = np.asarray(values)[expand_ranges(value_start[sel], counts[sel])]
            out[expand_ranges(byte_start[sel], sizes[sel])] = chunk.astype(dtype).view(np.uint8)
    return out


def packed_size(counts: np.ndarray, codes: np.ndarray) -> int:
    """Bytes `pack` gives for blocks of these counts and widths."""
    return int((np.asarray(counts, dtype=np.int64) * WIDTH_BYTES[codes]).sum())


def unpack(data: np.ndarray, counts: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Inverse of `pack`: `data` holds exactly the blocks' bytes; values as uint32.

    When every block has one width (most terms), the bytes are one `view`."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if len(codes) and bool(np.all(codes == codes[0])):
        code = int(codes[0])
        if code == 0:
            return np.zeros(total, dtype=np.uint32)
        return np.asarray(data).view(UNPACKED[code]).astype(np.uint32)
    sizes = counts * WIDTH_BYTES[codes]
    out = np.zeros(total, dtype=np.uint32)
    byte_start, value_start = exclusive_cumsum(sizes), exclusive_cumsum(counts)
    for code, dtype in UNPACKED.items():
        sel = np.flatnonzero(codes == code)
        if len(sel):
            raw = np.asarray(data)[expand_ranges(byte_start[sel], sizes[sel])]
            out[expand_ranges(value_start[sel], counts[sel])] = raw.view(dtype)
    return out


def unpack_blocks(data: np.ndarray, block: int, last: int, codes: np.ndarray) -> np.ndarray:
    """`unpack` for blocks of `block` values each but the last (`last` values): each width's
    full blocks are copied as rows of a strided view of the bytes (a row starting at every
    byte; one row per block, no index built per byte), then viewed at their width."""
    widths = WIDTH_BYTES[codes]
    full = len(codes) - 1
    starts = exclusive_cumsum(widths * block)
    out = np.empty(full * block + last, dtype=np.uint32)
    rows = out[:full * block].reshape(full, block)
    data = np.ascontiguousarray(data)
    for code in range(4):
        sel = np.flatnonzero(codes[:full] == code)
        if not len(sel):
            continue
        if code == 0:
            rows[sel] = 0
            continue
        span = block * _WIDTH_LIST[code]
        windows = np.ndarray((len(data) - span + 1, span), dtype=np.uint8, buffer=data,
                             strides=(1, 1))
        rows[sel] = windows[starts[sel]].view(UNPACKED[code])
    tail_code = int(codes[-1])
    tail_start = int(starts[-1])
    out[full * block:] = (data[tail_start:tail_start + last * _WIDTH_LIST[tail_code]]
                          .view(UNPACKED[tail_code]) if tail_code else 0)
    return out


_WIDTH_LIST = WIDTH_BYTES.tolist()


def runs_cumsum(gaps: np.ndarray, run_lengths: np.ndarray) -> np.ndarray:
    """Prefix sums of `gaps` restarting at each run (consecutive runs of `run_lengths`, none
    empty): gap-encoded values back to values, for many runs at once (int64)."""
    sums = np.cumsum(gaps, dtype=np.int64)
    if not len(sums):
        return sums
    starts = exclusive_cumsum(run_lengths)
    base = sums[starts] - np.asarray(gaps[starts], dtype=np.int64)
    return sums - np.repeat(base, run_lengths)


def gaps_of(values: np.ndarray, run_lengths: np.ndarray) -> np.ndarray:
    """Inverse of `runs_cumsum`: each value minus the previous one of its run (the first of a
    run as it is)."""
    values = np.asarray(values, dtype=np.int64)
    gaps = np.empty_like(values)
    if not len(values):
        return gaps
    gaps[0] = values[0]
    gaps[1:] = values[1:] - values[:-1]
    starts = exclusive_cumsum(run_lengths)
    gaps[starts] = values[starts]
    return gaps
