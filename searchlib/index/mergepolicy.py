"""Which segments an update merges into one: a tiered policy that works like a binary counter.

Pure (manifest entries in, entries out): the streamed merge itself is `merge`.
"""

from __future__ import annotations

TIER_RATIO = 1.0  # an older segment joins a merge when it is at most this × the merge's size


def live_paragraphs(entry: dict) -> int:
    return entry["paragraphs"] - entry.get("deleted_paragraphs", 0)


def choose_merge(entries: list[dict], max_segments: int, purge: bool = False,
                 new: frozenset[str] = frozenset(), ratio: float = TIER_RATIO) -> list[dict]:
    """Segments to merge into one.

    - those more than half deleted (`purge`: with any deletion);
    - the segments this update wrote (`new`: its flushes become one segment);
    - tiers: then every older segment no bigger than `ratio` × what is being merged, smallest
      first. Sizes then fall geometrically, like a binary counter: an update of d paragraphs
      rewrites the small segments only (each paragraph is rewritten about log₂(archive / d)
      times over its life) and the count stays logarithmic; a big archive is never rewritten
      for a small update;
    - then the smallest until at most `max_segments` remain (a cap).
    Nothing when there is nothing to gain (one segment without deletions)."""
    chosen = [e for e in entries if e.get("deleted_count", 0) * 2 > e["articles"]
              or (purge and e.get("deleted_count", 0))]
    chosen += [e for e in entries if e["name"] in new and e not in chosen]
    rest = sorted((e for e in entries if e not in chosen), key=live_paragraphs)
    size = sum(live_paragraphs(e) for e in chosen)
    while rest and chosen and ratio > 0 and live_paragraphs(rest[0]) <= ratio * size:
        size += live_paragraphs(rest[0])
        chosen.append(rest.pop(0))
    left = len(entries) - len(chosen) + (1 if chosen else 0)
    while rest and left > max(max_segments, 1):
        chosen.append(rest.pop(0))
        left = len(entries) - len(chosen) + 1
    if len(chosen) == 1 and not chosen[0].get("deleted_count", 0):
        return []
    return chosen
