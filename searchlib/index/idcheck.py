"""Article ids given twice in one indexing run, found as articles are placed.

A news dump often holds the same story twice (re-sent, or in two files); both are indexed,
but a user who looks an article up by id should hear that its id is not unique. Ids are
remembered as 64-bit hashes in sorted numpy runs (8 bytes an article, merged like a binary
counter), not as strings: a run over millions of articles stays small in memory. A hash
collision could name a false duplicate, at odds of about n²/2⁶⁵ (1e-7 for a million ids).
"""

from __future__ import annotations

import numpy as np

SHOWN = 3  # duplicates named in the warning


class IdCheck:
    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []  # sorted, disjoint hashes, the largest first
        self.count = 0
        self.examples: list[str] = []

    def add(self, ids: list[str], where: list[str]) -> None:
        """Note `ids` (placed in this order; `where`: each one's file, for the warning)."""
        if not ids:
            return
        hashes = np.fromiter(map(hash, ids), dtype=np.int64, count=len(ids))
        unique, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        seen = np.zeros(len(unique), dtype=bool)  # given in an earlier batch
        for run in self.runs:  # (never empty)
            at = np.minimum(np.searchsorted(run, unique), len(run) - 1)
            seen |= run[at] == unique
        repeated = seen[inverse]
        later = np.ones(len(ids), dtype=bool)
        later[first] = False  # a second copy within this batch
        found = np.flatnonzero(repeated | later)
        self.count += len(found)
        for i in found[: max(SHOWN - len(self.examples), 0)].tolist():
            self.examples.append(f"{ids[i]!r} ({where[i]})")
        if not seen.all():
            self.runs.append(unique[~seen])
        while len(self.runs) > 1 and len(self.runs[-1]) >= len(self.runs[-2]):
            last = self.runs.pop()
            self.runs[-1] = np.union1d(self.runs[-1], last)

    def warning(self) -> str | None:
        if not self.count:
            return None
        some = ", ".join(self.examples) + (", ..." if self.count > len(self.examples) else "")
        return (f"{self.count:,} article{' reuses' if self.count == 1 else 's reuse'} an id given "
                f"earlier in this run: {some}; each is indexed as an article of its own "
                "(ids should be unique)")

