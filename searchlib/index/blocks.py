"""Per-block score bounds of postings: what dynamic pruning reads to skip postings.

The postings of each term are cut into blocks of `POSTING_BLOCK` (the last block of a term
may be shorter). For each block a segment stores the largest tf, the shortest document and
the last document id. BM25's tf weight rises with tf and falls with the document's length,
so `tf_weight(max tf, min length)` bounds every posting of the block for any k1 and b: the
bounds need no recomputation when the ranking parameters change.
"""

from __future__ import annotations

import numpy as np

from .schema import POSTING_BLOCK


def block_columns(ptr: np.ndarray, doc: np.ndarray, tf: np.ndarray,
                  length: np.ndarray) -> dict[str, np.ndarray]:
    """Decoded CSR postings (`ptr` per term, `doc`, `tf` per posting, `length` per document)
    → the block columns of one field: `bmax_tf`, `bmin_len` and `blast` (the block's last
    document) per block; blocks of term t are rows blk[t]:blk[t+1] (the packed postings'
    own block offsets, `postinglists.encode_postings`)."""
    ptr = np.asarray(ptr, dtype=np.int64)
    counts = np.diff(ptr)
    per_term = -(-counts // POSTING_BLOCK)
    bptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(per_term, out=bptr[1:])
    n_blocks = int(bptr[-1])
    if not n_blocks:
        empty = np.zeros(0, dtype=np.int32)
        return {"bmax_tf": empty, "bmin_len": empty, "blast": empty}
    # where each block starts among the postings: its term's start + 128 · its rank
    term_of_block = np.repeat(np.arange(len(counts)), per_term)
    rank = np.arange(n_blocks) - bptr[term_of_block]
    starts = ptr[term_of_block] + rank * POSTING_BLOCK
    ends = np.minimum(starts + POSTING_BLOCK, ptr[term_of_block + 1])
    doc = np.asarray(doc)
    return {
        "bmax_tf": np.maximum.reduceat(np.asarray(tf), starts).astype(np.int32),
        "bmin_len": np.minimum.reduceat(np.asarray(length)[doc], starts).astype(np.int32),
        "blast": doc[ends - 1].astype(np.int32),
    }
