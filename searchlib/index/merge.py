"""Merging: which segments to merge, and their live documents as the content of one segment.

Postings are expanded back to (term, document, position) triples with merged term ids and
renumbered documents, so the merged segment is written by the very routine a flush uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import metacolumns
from .schema import COLUMNS, FIELDS
from .segment import (
    FieldPostings,
    FieldTriples,
    Segment,
    SegmentContent,
    expand_ranges,
    merge_vocabularies,
    write_segment,
)
from .storage import failpoint

MERGE_BYTES_PER_TOKEN = 120  # triples, their sort and the new postings, per position
MERGE_BYTES_PER_STORED = 3  # the live text gathered, joined and written


def merge_cost(entry: dict) -> int:
    """Bytes merging this segment takes in memory, estimated from its file sizes."""
    files = entry["files"]
    # format 3 packs positions in about a byte each and compresses text about 2.2x (fmt)
    positions = sum(files[f"{f}.pos.npy"][0] for f in FIELDS)
    return positions * MERGE_BYTES_PER_TOKEN + files["store.bin"][0] * 3 * MERGE_BYTES_PER_STORED


def choose_merge(entries: list[dict], max_segments: int,
                 budget: float = float("inf")) -> list[dict]:
    """Segments worth merging: those more than half deleted, and the smallest ones while
    there are more than `max_segments` (down to half of it) — as many as the memory
    `budget` holds. A tiered policy: a segment costing over half the budget (a full flush)
    is never merged for size, so no merge holds more than the budget and the number of
    segments grows with the archive instead."""
    chosen: list[dict] = []
    cost = 0
    for e in sorted((e for e in entries if e.get("deleted_count", 0) * 2 > e["articles"]),
                    key=merge_cost):
        if cost + merge_cost(e) <= budget or not chosen:
            chosen.append(e)
            cost += merge_cost(e)
    if len(entries) > max_segments:
        small = [e for e in entries if e not in chosen and merge_cost(e) * 2 <= budget]
        for e in sorted(small, key=lambda e: e["paragraphs"] - e.get("deleted_paragraphs", 0)):
            if len(entries) - len(chosen) + 1 <= max_segments // 2:
                break
            if cost + merge_cost(e) > budget:
                break
            chosen.append(e)
            cost += merge_cost(e)
    return chosen if len(chosen) > 1 or any(
        e.get("deleted_count", 0) for e in chosen) else []


def merge_segments(seg_root: Path, entries: list[dict], name: str, written: list[Path]):
    """Rewrite the live documents of several segments into one; returns (its manifest entry,
    or None if nothing is live, and each old segment's article number → new number)."""
    segs = [Segment(seg_root / e["name"], e, verify=True) for e in entries]  # we rewrite them
    try:
        content, remaps = live_content(segs)
        if content is None:
            return None, remaps
        failpoint("merge-gathered")
        written.append(seg_root / name)
        entry = write_segment(seg_root / name, content)
        failpoint("merge-written")
        return entry, remaps
    finally:
        for seg in segs:
            seg.close()


def live_content(segs: list[Segment]) -> tuple[SegmentContent | None, dict[str, np.ndarray]]:
    """The live documents of `segs`, in order, as one segment's content."""
    merged_terms = merge_vocabularies(segs)
    terms = sorted(merged_terms)
    gid = {t: i for i, t in enumerate(terms)}
    parts: dict[str, list[list[np.ndarray]]] = {f: [[], [], [], []] for f in FIELDS}
    # other declared columns: their live rows carry over (metadata is re-encoded below)
    plain = {n: c for n, c in COLUMNS.items() if c.per in ("article", "paragraph")
             and c.offsets is None and not n.startswith("meta.")}
    columns: dict[str, list[np.ndarray]] = {n: [] for n in plain}
    texts, text_lens, par_counts, articles = [], [], [], []
    remaps: dict[str, np.ndarray] = {}
    base = {"text": 0, "title": 0}
    meta_parts = []
    for seg in segs:
        art_live = ~seg.deleted if seg.deleted is not None else np.ones(seg.n_articles, bool)
        meta_parts.append((seg.meta, art_live))
        par_live = art_live[seg.para_article]
        remaps[seg.name] = np.cumsum(art_live) - 1 + base["title"]
        term_map = np.array([gid[t] for t in seg.vocab], dtype=np.int64)
        for f, live in (("text", par_live), ("title", art_live)):
            for acc, values in zip(parts[f], _live_triples(seg.fields[f], live, base[f],
                                                            term_map)):
                acc.append(values)
            base[f] += int(live.sum())
        for n, column in plain.items():
            columns[n].append(seg.columns[n][art_live if column.per == "article" else par_live])
        all_lens, all_text = seg.text.all()
        lens = all_lens[par_live]
        text_lens.append(lens)
        starts = np.cumsum(all_lens) - all_lens
        texts.append(np.frombuffer(all_text, dtype=np.uint8)[expand_ranges(starts[par_live],
                                                                          lens)])
        par_counts.append(np.diff(seg.art_first64)[art_live])
        articles.extend(a for a, alive in zip(seg.articles, art_live) if alive)
    if base["title"] == 0:
        return None, remaps
    meta_columns, dictionary = metacolumns.merged(meta_parts)
    fields, terms = _compact({f: [np.concatenate(p) for p in parts[f]] for f in FIELDS}, terms)
    content = SegmentContent(
        terms=terms, surface=[merged_terms[t] for t in terms], fields=fields,
        paragraph_counts=np.concatenate(par_counts), store=np.concatenate(texts).tobytes(),
        paragraph_bytes=np.concatenate(text_lens), articles=articles,
        columns={**{n: np.concatenate(v) for n, v in columns.items()}, **meta_columns},
        meta_dictionary=dictionary)
    return content, remaps


def _live_triples(fp: FieldPostings, live: np.ndarray, base: int,
                  term_map: np.ndarray) -> tuple[np.ndarray, ...]:
    """A field's postings of live documents as (merged term id, new document, position)
    triples, plus the live documents' lengths."""
    new_doc = np.cumsum(live) - 1 + base
    post_term = np.repeat(np.arange(len(fp.ptr) - 1), np.diff(fp.ptr))
    doc, tf, pos = fp.decode_all()
    keep = np.repeat(live[doc], tf)
    return (term_map[np.repeat(post_term, tf)[keep]], new_doc[np.repeat(doc, tf)[keep]],
            pos[keep], np.asarray(fp.length)[live])


def _compact(parts: dict[str, list[np.ndarray]], terms: list[str]):
    """Drop the terms only deleted documents had (no ghost did-you-mean) and put each field's
    triples in (document, position) order."""
    used = np.unique(np.concatenate([parts[f][0] for f in FIELDS]))
    compact = np.full(len(terms), -1, dtype=np.int64)
    compact[used] = np.arange(len(used))
    fields = {}
    for f in FIELDS:
        t, d, p, lengths = parts[f]
        order = np.lexsort((p, d))
        fields[f] = FieldTriples(compact[t][order], d[order], p[order], lengths)
    return fields, [terms[i] for i in used]
