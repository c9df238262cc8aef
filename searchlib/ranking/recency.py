"""Recency as a ranking option: scores multiplied by an exponential decay with age.

A match's factor is 0.5 ** (age / half_life), its age counted from `now` or, without it, from
the newest date among all the query's matches (so an archive's newest story is not
penalized for the archive being old). An undated article ages as the oldest dated match; a
date after `now` counts as age 0. Off by default: without it no score changes. A sharded
index pins both dates to the whole cluster's (`pinned`), so every shard decays alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..index.schema import NO_DATE
from ..index.segment import Segment


@dataclass(frozen=True)
class Recency:
    half_life: float  # seconds, > 0
    now: int | None = None  # seconds UTC; None: the newest matching date
    oldest: int | None = None  # the oldest matching date (None: found among the matches)

    def pinned(self, span: tuple[int, int] | None) -> Recency:
        """These settings with the (oldest, newest) matching dates of the whole collection
        fixed; unchanged when nothing dated matches anywhere."""
        if span is None:
            return self
        return replace(self, now=span[1] if self.now is None else self.now, oldest=span[0])

    def apply(self, segments: Sequence[Segment],
              matched: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
        dates = matched_dates(segments, matched)
        span = date_span(dates) if self.oldest is None else (self.oldest, self.now)
        if span is None:
            return matched
        oldest = span[0]
        ref = self.now if self.now is not None else span[1]
        out = []
        for (docs, scores), d in zip(matched, dates):
            age = ref - np.where(d == NO_DATE, oldest, d).astype(np.float64)
            factor = np.power(0.5, np.maximum(age, 0.0) / self.half_life)
            out.append((docs, scores * factor))
        return out


def matched_dates(segments: Sequence[Segment],
                  matched: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """The article date of each match, per segment."""
    return [seg.meta.date[seg.para_article[docs]] for seg, (docs, _) in zip(segments, matched)]


def date_span(dates: Sequence[np.ndarray]) -> tuple[int, int] | None:
    """(oldest, newest) of the dated among `dates` (None: none is dated)."""
    dated = [d[d != NO_DATE] for d in dates]
    known = [d for d in dated if len(d)]
    if not known:
        return None
    return min(int(d.min()) for d in known), max(int(d.max()) for d in known)
