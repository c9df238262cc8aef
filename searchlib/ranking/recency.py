"""Recency as a ranking option: scores multiplied by an exponential decay with age.

A match's factor is 0.5 ** (age / half_life), its age counted from `now` or, without it, from
the newest date among all the query's matches (so an archive's newest story is not
penalized for the archive being old). An undated article ages as the oldest dated match; a
date after `now` counts as age 0. Off by default: without it no score changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..index.schema import NO_DATE
from ..index.segment import Segment


@dataclass(frozen=True)
class Recency:
    half_life: float  # seconds, > 0
    now: int | None = None  # seconds UTC; None: the newest matching date

    def apply(self, segments: Sequence[Segment],
              matched: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
        dates = [seg.meta.date[seg.para_article[docs]] for seg, (docs, _) in
                 zip(segments, matched)]
        dated = [d[d != NO_DATE] for d in dates]
        known = [d for d in dated if len(d)]
        if not known:
            return matched
        ref = self.now if self.now is not None else max(int(d.max()) for d in known)
        oldest = min(int(d.min()) for d in known)
        out = []
        for (docs, scores), d in zip(matched, dates):
            age = ref - np.where(d == NO_DATE, oldest, d).astype(np.float64)
            factor = np.power(0.5, np.maximum(age, 0.0) / self.half_life)
            out.append((docs, scores * factor))
        return out
