"""The manifest's schema, checked every time a manifest is read.

A manifest that parses as JSON can still be damaged (a renamed key, a wrong type, an unknown
stemmer). Every reader and the writer trust what it says, so it is checked once, up front,
and any problem is one `CorruptIndex` line instead of a KeyError deep inside a command.
File names are checked too: they are joined to the index path, so `../x` must never pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..analysis import LANGUAGES, STEMMERS


@dataclass(frozen=True)
class Column:
    """One array file of a segment, declared once: writing, opening and merging all iterate
    the declarations, so a new column (a date per article, a max score per block) is one line
    here plus the code computing its values.

    `per` is what one row stands for (a unit: term, posting, position, doc — the field's
    documents — article, paragraph, byte). With `offsets`, the column has one row more and
    rises from 0 to the number of `offsets` units; with `points_to`, its values are rows of
    that unit."""

    name: str
    dtype: str
    per: str
    offsets: str | None = None
    points_to: str | None = None
    optional: bool = False  # a segment may lack it (what its absence means: see the column)


FIELDS = ("text", "title")
FIELD_COLUMNS = (  # for each field: compact postings with positions (see postinglists), lengths
    Column("ptr", "int64", per="term", offsets="posting"),
    Column("blk", "int64", per="term", offsets="posting block"),
    # per block of POSTING_BLOCK postings: the byte widths of its doc, tf and position runs
    Column("width", "uint8", per="posting block"),
    Column("doc", "uint8", per="doc byte"),  # document gaps
    Column("doc.off", "int64", per="term", offsets="doc byte"),
    Column("tf", "uint8", per="tf byte"),  # tf - 1
    Column("tf.off", "int64", per="term", offsets="tf byte"),
    Column("pos", "uint8", per="pos byte"),  # position gaps within each posting
    Column("pos.off", "int64", per="term", offsets="pos byte"),
    Column("len", "int32", per="doc"),
    # score bounds per block of POSTING_BLOCK postings of a term (index.blocks): blocks of
    # term t are rows blk[t]:blk[t+1]; max tf, min document length and last document each
    Column("bmax_tf", "int32", per="posting block"),
    Column("bmin_len", "int32", per="posting block"),
    Column("blast", "int32", per="posting block", points_to="doc"),
)
SEGMENT_COLUMNS = (  # per segment: the article table and the paragraph store's offsets
    Column("art.first", "int32", per="article", offsets="paragraph"),
    # store.bin holds a zstd frame per block of STORE_BLOCK paragraphs (see textstore): where
    # each starts, and its CRC-32, checked when a hit first reads it (opening reads no byte)
    Column("store.off", "int64", per="store block", offsets="byte"),
    Column("store.crc", "uint32", per="store block"),
    # the first paragraph of each frame (and the count): a merge copies whole frames as they
    # are, so its frames may hold fewer; absent (a flush), frame b holds STORE_BLOCK·b onward
    Column("store.first", "int64", per="store block", offsets="paragraph", optional=True),
    # where each record starts, so one hit decodes one record and a term lookup bisects the
    # file instead of splitting it whole: articles.json is "[" + ", ".join(records) + "]",
    # record a is bytes art.off[a]+1 : art.off[a+1]-1; vocab.txt is "\n".join(terms), term t
    # is bytes vocab.off[t] : vocab.off[t+1]-1
    Column("art.off", "int64", per="article", offsets="articles byte"),
    Column("vocab.off", "int64", per="term", offsets="vocab byte"),
    # article metadata (see segment_meta): a date per article (NO_DATE: none) and its keyword
    # values as CSR, each a code into the segment's dictionary of (field, value) in meta.json
    Column("meta.date", "int64", per="article"),
    Column("meta.ptr", "int64", per="article", offsets="keyword"),
    Column("meta.code", "int32", per="keyword"),
)
STORE_BLOCK = 64  # paragraphs per zstd frame of store.bin (~30 KB of news text, 27 us to read)
POSTING_BLOCK = 128  # postings per block of a term (one width per block and run)
NO_DATE = -(2**63)  # meta.date of an article without a date: sorts before every real date
COLUMNS = {**{f"{f}.{c.name}": c for f in FIELDS for c in FIELD_COLUMNS},
           **{c.name: c for c in SEGMENT_COLUMNS}}
BLOBS = ("vocab.txt", "surface.txt", "store.bin", "articles.json", "meta.json")


def segment_files(required: bool = False) -> set[str]:
    """The files a segment's manifest entry may list (`required`: must list): its declared
    columns and blobs."""
    return ({f"{name}.npy" for name, c in COLUMNS.items() if not (required and c.optional)}
            | set(BLOBS))
SEGMENT_NAME = re.compile(r"seg-\d+-m?\d+")
DELETED_NAME = re.compile(r"deleted-\d+\.npy")
SOURCES_NAME = re.compile(r"sources-\d+\.json")
STEMS_NAME = re.compile(r"stems-\d+\.tsv")
CRC_LIMIT = 2**32


def manifest_problem(manifest: dict[str, Any]) -> str | None:
    """What is wrong with a manifest (of our format and version), or None if it is sound."""
    generation = manifest.get("generation")
    if not _count(generation):
        return f"'generation' is {generation!r}, not a whole number"
    problem = analyzer_problem(manifest.get("analyzer"))
    if problem:
        return problem
    segments = manifest.get("segments")
    if not isinstance(segments, list):
        return "'segments' is not a list"
    names: set[str] = set()
    for i, entry in enumerate(segments):
        problem = _segment_problem(entry)
        if problem:
            return f"segment {i}: {problem}"
        if entry["name"] in names:
            return f"segment {entry['name']} is listed twice"
        names.add(entry["name"])
    for key, pattern, required in (("sources", SOURCES_NAME, True),
                                   ("stems", STEMS_NAME, False)):
        name, recorded = manifest.get(key), manifest.get(f"{key}_file")
        if name is None and not required:
            continue
        if not _name(name, pattern):
            return f"{key!r} is {name!r}, not a file name of an index"
        if not _size_crc(recorded):
            return f"'{key}_file' is {recorded!r}, not [size, checksum]"
    roots = manifest.get("roots")
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        return "'roots' is not a list of paths"
    return None


def analyzer_problem(analyzer: object) -> str | None:
    if not isinstance(analyzer, dict):
        return "'analyzer' is not an object"
    if analyzer.get("stemmer") not in STEMMERS:
        return f"unknown stemmer {analyzer.get('stemmer')!r}"
    if not isinstance(analyzer.get("stopwords"), bool):
        return f"'stopwords' is {analyzer.get('stopwords')!r}, not true or false"
    language = analyzer.get("language", "en")
    if not isinstance(language, str) or language not in LANGUAGES:
        return f"unknown language {analyzer.get('language')!r}"
    if not _count(analyzer.get("version", 1)):
        return f"analyzer 'version' is {analyzer.get('version')!r}, not a whole number"
    return None


def _segment_problem(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return "not an object"
    if not _name(entry.get("name"), SEGMENT_NAME):
        return f"'name' is {entry.get('name')!r}, not a segment name"
    for key in ("articles", "paragraphs"):
        if not _count(entry.get(key)):
            return f"{key!r} is {entry.get(key)!r}, not a count"
    files = entry.get("files")
    if not isinstance(files, dict) or not segment_files(True) <= set(files) <= segment_files():
        return "'files' does not list the files of a segment"
    if not all(_size_crc(v) for v in files.values()):
        return "'files' holds a size or checksum that is not a number"
    if "deleted" not in entry:
        return None
    if not _name(entry["deleted"], DELETED_NAME) or not _size_crc(entry.get("deleted_file")):
        return "its deletion file is not named or not checksummed"
    for key, limit in (("deleted_count", "articles"), ("deleted_paragraphs", "paragraphs")):
        value = entry.get(key)
        if not _count(value) or value > entry[limit]:
            return f"{key!r} is {value!r}, not a count up to {limit!r}"
    return None


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _size_crc(value: object) -> bool:
    return (isinstance(value, list) and len(value) == 2 and all(_count(v) for v in value)
            and value[1] < CRC_LIMIT)


def _name(value: object, pattern: re.Pattern[str]) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None
