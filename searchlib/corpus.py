"""Turn PATH arguments into articles, reporting (never raising) what could not be read.

A corpus is whatever the user points at: files, folders, symlinks, half-broken exports.
Indexing a thousand files must not die on the one that is binary, Latin-1 or vanished,
so every problem becomes one warning line naming the file, and the rest is still read.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import io
import json
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, BinaryIO, NamedTuple

from searchlib.metadata import NO_METADATA, Metadata, read_fields

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl",
                      ".json.gz", ".jsonl.gz")
MAX_FILE_BYTES = 256 * 2**20  # a .json file is one JSON document, parsed whole
MAX_ARTICLE_BYTES = 32 * 2**20  # a .txt/.md/.html file is one article: beyond this, not news
MAX_RECORD_BYTES = 16 * 2**20  # one .jsonl line; the file is streamed, so it has no limit
MAX_PARAGRAPH_CHARS = 100_000
MAX_TITLE_CHARS = 120
TITLE_WORDS = 12
SNIFF_BYTES = 8192

Warn = Callable[[str], None]
BytesRead = Callable[[int], None]  # bytes of the current file consumed so far
Progress = Callable[[int, int, str], None]  # (bytes read, bytes to read, current file)


@dataclass(frozen=True)
class Source:
    """One file on disk that yields articles. `stamp` lets the indexer skip unchanged files:
    size and mtime, plus ctime and inode, which catch a same-size replacement whose mtime was
    preserved (cp -p, rsync -t)."""

    path: str
    root: str
    rel: str
    size: int
    mtime_ns: int
    ctime_ns: int = 0
    inode: int = 0

    @property
    def stamp(self) -> list[int]:
        return [self.size, self.mtime_ns, self.ctime_ns, self.inode]


@dataclass(frozen=True)
class Article:
    """One article; paragraph numbers match the file, so results can point back into it.
    `source` is the file it came from; `meta` what the article says about itself (its date,
    publication, authors, keyword fields)."""

    id: str
    title: str
    paragraphs: tuple[str, ...]
    source: str
    meta: Metadata = NO_METADATA


class _Skip(Exception):
    """The whole file is unusable; the message is the reason shown to the user."""


class _Unreadable(_Skip):
    """The file could not be read at all (permissions, I/O): its content is unknown."""


class ReadInterrupted(Exception):
    """A record file stopped being readable part-way (an I/O error): the records before it
    were given, the rest is unknown, so an updater must read the file again next time."""


def display_name(text: str) -> str:
    """File names may hold newlines or undecodable bytes; keep every warning one clean line."""
    return text if text.isprintable() else repr(text)[1:-1]



def _source(path: str, root: str, rel: str, st: os.stat_result) -> Source:
    return Source(path, root, rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _suffix(name: str) -> str:
    """'.txt'; '.jsonl.gz' for a compressed record file (other .gz files are not read)."""
    base, ext = os.path.splitext(name.lower())
    if ext == ".gz" and os.path.splitext(base)[1] in (".json", ".jsonl"):
        return os.path.splitext(base)[1] + ext
    return ext


def find_sources(paths: Iterable[str | os.PathLike], warn: Warn, *,
                 unlisted: list[str] | None = None) -> Iterator[Source]:
    """Yield readable-looking files under PATHs lazily, in sorted order, each file once.

    Absolute paths whose content could not be listed (a missing PATH, an unreadable folder)
    are appended to `unlisted`: an updater must not take their files for deleted."""
    visited: dict[tuple[int, int], str] = {}  # folder identity -> where it was first read
    seen: set[str] = set()  # absolute paths already yielded (overlapping PATH arguments)
    blind = unlisted if unlisted is not None else []
    for given in paths:
        raw = os.fsdecode(os.fspath(given))
        shown, root = display_name(raw), os.path.abspath(raw)
        try:
            st = os.stat(root)
        except FileNotFoundError:
            warn(f"no such file or folder: {shown}")
            blind.append(root)
            continue
        except OSError as exc:
            warn(f"skipped {shown}: {exc.strerror or exc}")
            blind.append(root)
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(root, shown, st, visited, seen, warn, blind)
        elif not stat.S_ISREG(st.st_mode):
            warn(f"skipped {shown}: not a regular file")
        elif _suffix(root) not in SUPPORTED_SUFFIXES:
            warn(f"skipped {shown}: unsupported file type")  # silent only inside folders
        elif root not in seen:
            seen.add(root)
            yield _source(root, root, os.path.basename(root), st)


def _list_dir(path: str, shown: str, warn: Warn,
              blind: list[str]) -> Iterator[os.DirEntry[str]]:
    """One folder's entries, sorted; an unreadable folder is a warning, not a crash."""
    try:
        with os.scandir(path) as it:
            return iter(sorted(it, key=lambda entry: entry.name))
    except OSError as exc:
        reason = "permission denied" if isinstance(exc, PermissionError) else exc.strerror
        warn(f"skipped folder {shown}: {reason or exc}")
        blind.append(path)
        return iter(())


def _walk(root: str, shown: str, st: os.stat_result, visited: dict[tuple[int, int], str],
          seen: set[str], warn: Warn, blind: list[str]) -> Iterator[Source]:
    """Depth-first walk with an explicit stack: no recursion limit, one listing per level."""
    if _already_visited(st, root, shown, [], visited, warn):
        return
    stack = [((st.st_dev, st.st_ino), root, "", _list_dir(root, shown, warn, blind))]
    while stack:
        _, folder, prefix, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        name = entry.name
        if name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir()  # follows symlinks; False for broken links
        except OSError:
            is_dir = True  # let os.stat below report what is wrong
        if not is_dir and _suffix(name) not in SUPPORTED_SUFFIXES:
            continue
        path, rel = os.path.join(folder, name), prefix + name
        try:
            est = os.stat(path)
        except FileNotFoundError:
            why = "broken symbolic link" if entry.is_symlink() else "vanished while listing"
            warn(f"skipped {display_name(rel)}: {why}")
            continue
        except OSError as exc:
            warn(f"skipped {display_name(rel)}: {exc.strerror or exc}")
            blind.append(path)
            continue
        if stat.S_ISDIR(est.st_mode):
            ancestors = [frame[0] for frame in stack]
            if not _already_visited(est, path, display_name(rel), ancestors, visited, warn):
                key = (est.st_dev, est.st_ino)
                listed = _list_dir(path, display_name(rel), warn, blind)
                stack.append((key, path, rel + "/", listed))
        elif not stat.S_ISREG(est.st_mode):
            # a FIFO would block the reader
            warn(f"skipped {display_name(rel)}: not a regular file")
        elif path not in seen:
            seen.add(path)
            yield _source(path, root, rel, est)


def _already_visited(st: os.stat_result, path: str, shown: str, ancestors: list[tuple[int, int]],
                     visited: dict[tuple[int, int], str], warn: Warn) -> bool:
    """Stop symlink loops and aliases (which would index the same files under new ids)."""
    key = (st.st_dev, st.st_ino)
    first = visited.get(key)
    if first is None:
        visited[key] = path
        return False
    if first == path:
        return True  # the same folder named again by another PATH: nothing new, no warning
    if key in ancestors:
        warn(f"skipped folder {shown}: symlink loop (leads back to {display_name(first)})")
    else:
        warn(f"skipped folder {shown}: same folder as {display_name(first)}, already read")
    return True


_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_BLOCK_GAP = re.compile(r"\n\s*\n")


def split_paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks if the text has any blank line, else one paragraph a line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    parts = _BLOCK_GAP.split(text) if _BLANK_LINE.search(text) else text.split("\n")
    return _limit([part.strip() for part in parts])


def _limit(paragraphs: Iterable[str]) -> list[str]:
    """Drop empty paragraphs and cut giant ones, so one 200 MB line is not one posting."""
    out: list[str] = []
    for para in paragraphs:
        if len(para) > MAX_PARAGRAPH_CHARS:
            out.extend(_cut(para, MAX_PARAGRAPH_CHARS))
        elif para:
            out.append(para)
    return out


def _cut(text: str, limit: int) -> list[str]:
    """Cut at the last whitespace before `limit` (hard cut only if a huge run has none)."""
    limit = max(limit, 1)
    pieces: list[str] = []
    start = 0
    while len(text) - start > limit:
        end = start + limit
        cut = max(text.rfind(ws, start + limit // 2, end + 1) for ws in " \n\t")
        if cut < 0:
            cut = end
        piece = text[start:cut].strip()
        if piece:
            pieces.append(piece)
        start = cut
        while start < len(text) and text[start].isspace():
            start += 1
    tail = text[start:].strip()
    return [*pieces, tail] if tail else pieces


def read_source(source: Source, warn: Warn) -> list[Article]:
    """All articles of one file, or [] plus one warning saying why the file was skipped."""
    return read_source_checked(source, warn)[0]


def read_source_checked(source: Source, warn: Warn) -> tuple[list[Article], bool]:
    """Like `read_source`, and whether the file could be read at all. An updater keeps what
    it indexed from a file it cannot read now (permissions, I/O errors), but a file that was
    read and holds nothing usable (empty, binary, no records) replaces its old articles."""
    stream = iter_source(source, warn)
    if stream is None:
        return [], False
    articles: list[Article] = []
    with contextlib.suppress(ReadInterrupted):  # warned: what was read is returned
        articles.extend(stream)
    return articles, True


def iter_source(source: Source, warn: Warn, on_bytes: BytesRead | None = None, *,
                defer: bool = False) -> Iterator[Article | Pending] | None:
    """The articles of one file, lazily: a .jsonl file is streamed record by record, so its
    size is not limited and memory holds one record at a time. `on_bytes` hears how many
    bytes of the file have been consumed (for a progress bar). None: the file could not be
    read at all (see `read_source_checked`); a file with nothing usable gives no articles.
    `defer`: a record file's lines come as `Pending` (see `parse_pending`), unparsed."""
    name = display_name(source.rel)
    try:
        return _open(source, name, warn, on_bytes or _ignore, defer)
    except _Skip as skip:
        warn(f"skipped {name}: {skip}")
        return None if isinstance(skip, _Unreadable) else iter(())


def _ignore(_: int) -> None:
    pass


class ReadProgress:
    """Bytes read of all the files an update reads, reported to `report` only when the
    count grows: the bar ends exactly at the total even if a file changed while read."""

    def __init__(self, report: Progress | None, total: int) -> None:
        self.report, self.total = report, total
        self.done = 0
        self.shown = -1

    def file(self, source: Source) -> BytesRead | None:
        if self.report is None:
            return None
        return lambda n: self.display_name(self.done + min(n, source.size), source.rel)

    def finished(self, source: Source) -> None:
        self.done += source.size
        self.display_name(self.done, source.rel)

    def status(self, what: str) -> None:
        """Say what the update does once every byte is read (it merges)."""
        if self.report is not None and self.total > 0:
            self.report(max(self.shown, 0), self.total, what)

    def display_name(self, done: int, rel: str) -> None:
        if self.report is not None and done > self.shown:
            self.shown = done
            self.report(done, self.total, rel)


def _open(source: Source, name: str, warn: Warn, on_bytes: BytesRead,
          defer: bool) -> Iterator[Article | Pending]:
    suffix = _suffix(source.path)
    if suffix not in SUPPORTED_SUFFIXES:
        raise _Skip("unsupported file type")
    kind, packed = suffix.removesuffix(".gz"), suffix.endswith(".gz")
    limit = MAX_FILE_BYTES if kind == ".json" else MAX_ARTICLE_BYTES
    try:
        st = os.stat(source.path)
        if not stat.S_ISREG(st.st_mode):
            raise _Skip("not a regular file")
        if kind != ".jsonl" and not packed and st.st_size > limit:
            raise _Skip(f"too large ({_mb(st.st_size)}, limit {_mb(limit)} for {suffix} files)")
        raw = open(source.path, "rb")  # noqa: SIM115 -- a .jsonl stream outlives this call
    except FileNotFoundError:
        raise _Skip("vanished before it could be read") from None
    except PermissionError:
        raise _Unreadable("permission denied") from None
    except OSError as exc:
        raise _Unreadable(exc.strerror or str(exc)) from None
    stream: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb") if packed else raw
    streaming = False
    try:
        head = stream.read(SNIFF_BYTES)
        encoding = _sniff(head)
        if kind == ".jsonl":
            stream.seek(0)
            streaming = True
            return _jsonl_articles(stream, raw, encoding, source, name, warn, on_bytes, defer)
        data = head + stream.read(limit + 1 - len(head))  # gzip: a bomb stops at the limit
        on_bytes(raw.tell())
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _Skip(_gzip_error(exc)) from None
    except OSError as exc:
        raise _Unreadable(exc.strerror or str(exc)) from None
    finally:
        if not streaming:
            stream.close()
            raw.close()
    if len(data) > limit:
        raise _Skip(f"too large (over {_mb(limit)})")  # grew since stat, or unpacked
    text = _decode(data, encoding, name, warn)
    if not text.strip():
        raise _Skip("empty")
    if kind == ".json":
        return iter(_json_articles(text, source, name, warn))
    meta, problems = NO_METADATA, []
    if suffix in (".md", ".markdown"):
        title, paragraphs, meta, problems = _markdown(text, source.path)
    elif suffix in (".html", ".htm"):
        title, paragraphs, meta, problems = _html(text, source.path)
    else:  # plain text has no metadata (its mtime is when it was saved, not published)
        paragraphs = split_paragraphs(text)
        title = _plain_title(paragraphs, source.path)
    if problems:
        warn(f"{name}: metadata ignored: {_some(problems, 4)}; the text is indexed")
    return iter([Article(source.rel, title, tuple(paragraphs), source.path, meta)])


def _gzip_error(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "compressed data ends early (truncated .gz file)"
    return f"not a valid gzip file ({exc})"


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n} bytes"


def _sniff(head: bytes) -> str:
    """Pick the codec from a BOM; NUL bytes without one mean binary (UTF-16 is full of NULs)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\0" in head:
        raise _Skip(f"binary file (NUL byte in the first {SNIFF_BYTES // 1024} KB)")
    return "utf-8"


def _decode(data: bytes, encoding: str, name: str, warn: Warn) -> str:
    """Text that is not UTF-8 is read in the legacy codec that fits it (old archives are
    cp1252/Latin-1), with one warning naming it; bytes no codec fits are skipped."""
    try:
        return data.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        reason = _bad_bytes(data, exc, encoding)
    legacy = _guess_encoding(data) if encoding == "utf-8" else None
    if legacy:
        try:
            text = data.decode(legacy)
        except UnicodeDecodeError:
            pass
        else:
            warn(f"{name}: {reason}; decoded as {legacy}")
            return text
    raise _Skip(reason)


def _bad_bytes(data: bytes, exc: UnicodeDecodeError, encoding: str, base: int = 0) -> str:
    where = f"at offset {base + exc.start}"
    if encoding == "utf-8":
        where = f"byte 0x{data[exc.start]:02x} {where}"
    return f"not valid {encoding.upper()} ({where})"


CHAOS_SLACK, COHERENCE_SLACK = 0.15, 0.1  # see _guess_encoding
_MULTIBYTE = ("utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le")


def _guess_encoding(data: bytes) -> str | None:
    """The legacy codec of bytes that are not UTF-8, or None if none fits (binary).

    Short Western text fits many codecs about equally well, and charset-normalizer's pick
    among them is close to arbitrary ('naïve crème' came out as cp1257 'naļve crčme'; '€5'
    as a DOS code page). So cp1252 wins whenever it is among the nearly best: within
    CHAOS_SLACK of the least "chaos" and COHERENCE_SLACK of the best language fit. It is the
    legacy codec of Western news archives, and what browsers read 'latin-1' as; a text
    clearly in another script (Cyrillic, Greek, Polish...) fits its own codec far better.
    UTF-16/32 are excluded: without a BOM they would have shown as NUL bytes to `_sniff`."""
    from charset_normalizer import from_bytes  # only for the rare non-UTF-8 file

    matches = from_bytes(data, cp_exclusion=list(_MULTIBYTE))
    if matches.best() is None:
        return None
    least = min(match.chaos for match in matches)
    near = [m for m in matches if m.chaos <= least + CHAOS_SLACK]
    fit = max(m.coherence for m in near)
    if any("cp1252" in m.could_be_from_charset for m in near
           if m.coherence >= fit - COHERENCE_SLACK):
        return "cp1252"
    return max(near, key=lambda m: (m.coherence, -m.chaos)).encoding


def _plain_title(paragraphs: list[str], path: str) -> str:
    """A short first line reads as a headline; otherwise the file name usually is one."""
    if not paragraphs:
        return _name_title(path)
    first = paragraphs[0]
    if len(paragraphs) >= 2 and len(first) <= MAX_TITLE_CHARS and "\n" not in first \
            and not first.endswith("."):
        return first
    return _name_title(path) or _lead_words(first)


def _name_title(path: str) -> str:
    """'000_north-korea_war.txt' -> 'North korea war'; '' if no letters are left."""
    stem = _SURROGATES.sub("\ufffd", os.path.splitext(os.path.basename(path))[0])
    stem = re.sub(r"^(?:\d+[\s._-]+)+", "", stem)
    words = re.sub(r"[\s_-]+", " ", stem).strip()
    if not any(ch.isalpha() for ch in words):
        return ""
    return words[:1].upper() + words[1:]


def _lead_words(text: str) -> str:
    words = text.split()
    return " ".join(words[:TITLE_WORDS]) + ("…" if len(words) > TITLE_WORDS else "")


_FRONT_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.M)
_FM_TITLE = re.compile(r"^title[ \t]*:[ \t]*(.*?)[ \t]*$", re.M)
_ATX = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_BREAK = re.compile(r"^ {0,3}([-*_])[ \t]*(?:\1[ \t]*){2,}$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _markdown(text: str, path: str) -> tuple[str, list[str], Metadata, list[str]]:
    """Title from front matter or the first heading; later headings are paragraphs. Also the
    front matter's metadata, and what was wrong with it. The front matter is never text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    meta_title, meta, problems = "", NO_METADATA, []
    opening = re.match(r"---[ \t]*\n", text)
    if opening and (end := _FRONT_END.search(text, opening.end())):
        meta_title, meta, problems = _front_matter(text[opening.end():end.start()])
        text = text[end.end():]
    lines: list[str | None] = []  # None marks a removed heading/rule: a paragraph boundary
    heading = ""
    fence = ""
    prev_is_text = False
    for line in text.split("\n"):
        opener = _FENCE.match(line)
        marker = opener.group(1) if opener else ""
        if fence or marker:
            if not fence:
                fence = marker
            elif marker[:1] == fence[0] and len(marker) >= len(fence):
                fence = ""
            lines.append(line)  # '# comment' inside code is not a heading
            prev_is_text = False
            continue
        if atx := _ATX.match(line):
            found_heading = (atx.group(1) or "").strip()
        elif prev_is_text and _SETEXT.match(line):
            found_heading = (lines.pop() or "").strip()
        elif _BREAK.match(line):
            found_heading = ""
        else:
            lines.append(line)
            prev_is_text = bool(line.strip())
            continue
        lines.append(None)
        if not heading and not meta_title and found_heading:
            heading = found_heading  # the title heading is the title, not a paragraph
        elif found_heading:
            lines += [found_heading, None]  # other headings are searchable text
        prev_is_text = False
    kept = [line for line in lines if line is not None]
    if _BLANK_LINE.search("\n".join(kept).strip()):
        body = "\n".join("" if line is None else line for line in lines)
    else:
        body = "\n".join(kept)  # line-per-paragraph file: keep that mode
    paragraphs = split_paragraphs(body)
    title = meta_title or heading
    if not title and not paragraphs:
        raise _Skip("no readable text")
    return title or _plain_title(paragraphs, path), paragraphs, meta, problems


def _front_matter(block: str) -> tuple[str, Metadata, list[str]]:
    """The title and metadata of a YAML front matter block. Bad YAML costs the metadata, not
    the article: its title is still picked out by a line match."""
    if not block.strip():
        return "", NO_METADATA, []
    import yaml  # lazily: ~40 ms to import, and most files have no front matter

    try:
        data = yaml.load(block, Loader=_yaml_loader())  # a safe loader, see there
    except Exception as exc:  # PyYAML's constructors raise anything ('!!int x', '!!bool no')
        return _line_title(block), NO_METADATA, [f"front matter is not valid YAML{_where(exc)}"]
    if data is None:
        return "", NO_METADATA, []
    if not isinstance(data, dict):
        return _line_title(block), NO_METADATA, ["front matter holds no 'name: value' fields"]
    title, problems = data.get("title"), []
    if isinstance(title, (list, dict)):
        problems.append(f"title is {'a list' if isinstance(title, list) else 'an object'}")
        title = None
    meta, meta_problems = read_fields(data)
    return " ".join(str(title or "").split()), meta, problems + meta_problems


def _line_title(block: str) -> str:
    found = _FM_TITLE.search(block)
    if not found:
        return ""
    value = found.group(1)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return value.strip()


def _where(exc: BaseException) -> str:
    """' (line 3: found a tab...)', counting lines of the file (the block starts on line 2)."""
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    if mark is not None and problem:
        return f" (line {mark.line + 2}: {problem})"
    text = " ".join(str(exc).split())
    if len(text) > 80:
        text = text[:79] + "…"
    return f" ({text})" if text and not hasattr(exc, "problem_mark") else ""


_LOADER: type | None = None


def _yaml_loader() -> type:
    """PyYAML's safe loader (the C one when built), leaving dates as strings: YAML would
    reject a bad one ('2024-13-45') with the whole block, and `parse_date` reads them all."""
    global _LOADER
    if _LOADER is None:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        _LOADER = type("FrontMatterLoader", (base,), {})
        _LOADER.add_constructor("tag:yaml.org,2002:timestamp",
                                lambda loader, node: loader.construct_scalar(node))
    return _LOADER


_HTML_BLOCKS = frozenset({
    "p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "td", "th", "div", "dd",
    "dt", "figcaption", "caption", "article", "section", "main", "aside", "ul", "ol", "dl",
    "table", "tr", "body", "html",
})
_HTML_SKIP = frozenset(
    {"script", "style", "nav", "header", "footer", "noscript", "template", "svg"}
)
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
# <meta property|name|itemprop=...> -> metadata field: Open Graph, Dublin Core, schema.org
# and the plain names news sites use; the list-valued ones may repeat, and `keywords` tags
# hold comma-separated lists
_HTML_META = {
    **dict.fromkeys(("article:published_time", "og:article:published_time", "date", "pubdate",
                     "publishdate", "publish-date", "publication_date", "dc.date",
                     "dc.date.issued", "dcterms.date", "dcterms.issued", "datepublished",
                     "parsely-pub-date", "sailthru.date"), "date"),
    **dict.fromkeys(("og:site_name", "source", "publisher", "dc.publisher", "dcterms.publisher"),
                    "source"),
    **dict.fromkeys(("author", "dc.creator", "dcterms.creator", "parsely-author",
                     "sailthru.author"), "authors"),
    **dict.fromkeys(("article:tag", "keywords", "news_keywords"), "tags"),
    "og:url": "url",
}
_HTML_LISTS = ("authors", "tags")
_HTML_SPLIT = ("keywords", "news_keywords")


class _HTMLText(HTMLParser):
    """Collect block texts: each block boundary ends the current paragraph."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.blocks: list[tuple[str, str]] = []  # (tag kind, text)
        self._buf: list[str] = []
        self._kind = "p"
        self._skipping: list[str] = []
        self._in_title = False
        self._title_buf: list[str] = []
        self.meta: dict[str, list[str]] = {}
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "meta" and not self._skipping:
            self._read_meta(dict(attrs))
        elif tag == "html" and self.lang is None:
            self.lang = dict(attrs).get("lang")
        if tag in _HTML_SKIP:
            self._skipping.append(tag)
        elif tag == "title":
            self._in_title = True
        elif tag in _HTML_BLOCKS:
            self._end_title()  # an unclosed <title> must not swallow the page
            self._flush()
            self._kind = tag

    def _read_meta(self, attrs: dict[str, str | None]) -> None:
        key = (attrs.get("property") or attrs.get("name") or attrs.get("itemprop")
               or "").strip().lower()
        content = attrs.get("content")
        if key in _HTML_META and content:
            values = content.split(",") if key in _HTML_SPLIT else [content]
            self.meta.setdefault(_HTML_META[key], []).extend(v for v in values if v.strip())

    def fields(self) -> dict[str, Any]:
        """The page's metadata as record fields; a repeated single-valued tag: the first."""
        fields: dict[str, Any] = {k: v if k in _HTML_LISTS else v[0] for k, v in self.meta.items()}
        if self.lang:
            fields["language"] = self.lang
        return fields

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_SKIP:
            if tag in self._skipping:  # unbalanced close tags must not swallow the page
                del self._skipping[len(self._skipping) - 1 - self._skipping[::-1].index(tag):]
        elif tag == "title":
            self._end_title()
        elif tag in _HTML_BLOCKS:
            self._flush()
            self._kind = "p"

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            (self._title_buf if self._in_title else self._buf).append(data)

    def close(self) -> None:
        super().close()
        self._end_title()
        self._flush()

    def _end_title(self) -> None:
        if self._in_title and not self.title:  # only the first <title> (svg has its own)
            self.title = _HTML_SPACE.sub(" ", "".join(self._title_buf)).strip()
        self._in_title = False
        self._title_buf.clear()

    def _flush(self) -> None:
        text = _HTML_SPACE.sub(" ", "".join(self._buf)).strip()
        self._buf.clear()
        if text:
            self.blocks.append((self._kind, text))


def _html(text: str, path: str) -> tuple[str, list[str], Metadata, list[str]]:
    """Title from <title> or the first <h1>; an h1 that is not the title stays a paragraph.
    Metadata from <meta> tags and <html lang>, and what was wrong with it."""
    parser = _HTMLText()
    try:
        parser.feed(text)
        parser.close()
    except Exception as exc:  # html.parser can still assert on odd markup ('<![foo[')
        raise _Skip(f"could not parse HTML ({type(exc).__name__}: {exc})") from None
    h1 = next((block for kind, block in parser.blocks if kind == "h1"), "")
    title = parser.title or h1
    paragraphs = _limit(text for kind, text in parser.blocks if kind != "h1" or text != title)
    if not title and not paragraphs:
        raise _Skip("no readable text")
    meta, problems = read_fields(parser.fields())
    return title or _plain_title(paragraphs, path), paragraphs, meta, problems


def _json_error(exc: Exception, one_line: bool = False) -> str:
    """What is wrong with a JSON text; `one_line`: a JSONL record, whose line the caller
    names, so only the column is given (the end of the line when the record is cut short)."""
    if isinstance(exc, json.JSONDecodeError):
        if one_line:
            ended = exc.pos >= len(exc.doc.rstrip("\r\n"))
            return (f"invalid JSON at column {exc.pos + 1}: "
                    + ("the record ends early" if ended else exc.msg))
        return f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
    return "invalid JSON: " + ("nested too deeply" if isinstance(exc, RecursionError) else str(exc))


# A JSON escape of a surrogate (\ud800): the only way a lone one reaches a string, and such
# a string cannot be written as UTF-8. Paired escapes (emoji) match too, and are left alone.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATES = re.compile("[\ud800-\udfff]")


def _article(notes: RecordNotes, record: dict[str, Any], fallback_id: str,
             suspect: bool) -> Article:
    """A record object as an article, noting what was odd about it. `suspect`: the JSON
    text holds a surrogate escape, so strings may need repair."""
    meta, meta_problems = read_fields(record)
    article, problems = _record(record, fallback_id, notes.source, meta)
    if not _has_id(record):
        notes.missing.append(article.id)
    if suspect and (fixed := _repair(article)) is not None:
        article = fixed
        notes.repaired.append(article.id)
    if problems:
        notes.mistyped.append(f"{article.id} ({', '.join(problems)})")
    if meta_problems:
        notes.bad_meta.append(f"{article.id} ({_some(meta_problems, 4, ', ')})")
    return article


def _records(items: list[str]) -> str:
    return "1 record" if len(items) == 1 else f"{len(items)} records"


def _some(items: list[str], shown: int = 3, sep: str = "; ") -> str:
    rest = len(items) - shown
    return sep.join(items[:shown]) + (f"{sep}and {rest} more" if rest > 0 else "")


def _repair(article: Article) -> Article | None:
    """U+FFFD for lone surrogates (they cannot be stored as UTF-8); None if there are none."""
    texts = (article.id, article.title, *article.paragraphs, *article.meta.texts())
    if not any(_SURROGATES.search(text) for text in texts):
        return None

    def fix(text: str) -> str:
        return _SURROGATES.sub("\ufffd", text)

    return Article(fix(article.id), fix(article.title), tuple(map(fix, article.paragraphs)),
                   article.source, article.meta.map_text(fix))


def _json_articles(text: str, source: Source, name: str, warn: Warn) -> list[Article]:
    """A .json file is one record object or a list of them."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _Skip(_json_error(exc)) from None
    suspect = bool(_SURROGATE_ESCAPE.search(text))
    del text
    records = RecordNotes(source, name)
    if isinstance(data, dict):
        article = _article(records, data, source.rel, suspect)
        records.missing.clear()  # one record: its id is the file's, not made up
        records.warn(warn)
        return [article]
    if not isinstance(data, list):
        raise _Skip("expected a JSON object or a list of objects")
    if not data:
        raise _Skip("no records")
    articles = []
    for index, record in enumerate(data):
        if isinstance(record, dict):
            articles.append(_article(records, record, f"{source.rel}#{index}", suspect))
        else:
            warn(f"skipped {name} record {index}: not a JSON object")
    records.warn(warn)
    return articles


class _Stop(Exception):
    """Reading a stream failed part-way: the records before it stand."""


class _LineDecoder:
    """UTF-8 line by line; a line that is not UTF-8 is read in the legacy codec guessed from
    the first such line (one warning per file), so a cp1252 feed is read, not skipped."""

    def __init__(self, name: str, warn: Warn) -> None:
        self.name, self.warn = name, warn
        self.legacy: str | None = None

    def __call__(self, raw: bytes, offset: int, number: int) -> str | None:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = _bad_bytes(raw, exc, "utf-8", offset)
        if self.legacy is None:
            self.legacy = _guess_encoding(raw) or ""
            if self.legacy:
                self.warn(f"{self.name}: {reason}; decoded as {self.legacy}")
        if self.legacy:
            try:
                return raw.decode(self.legacy)
            except UnicodeDecodeError:
                pass
        self.warn(f"skipped {self.name} line {number}: {reason}")
        return None


_ID_HINT = re.compile(r'"_?id"\s*:\s*("(?:[^"\\]|\\.){0,80}"|-?\d{1,30})')


def _record_hint(head: bytes | str) -> str:
    """' (id "x")' from the start of a record too big to parse, so the user can find it."""
    if isinstance(head, bytes):
        head = head.decode("utf-8", "replace")
    found = _ID_HINT.search(head)
    return f" (id {found.group(1)})" if found else ""


def _jsonl_lines(stream: BinaryIO, encoding: str, name: str,
                 warn: Warn) -> Iterator[tuple[int, str | None]]:
    """(line number, text), holding one line at a time: a line over MAX_RECORD_BYTES is
    skipped (warned, naming it) while being read in bounded chunks, never whole. Text is
    None for a line no codec could decode (warned too)."""
    decode = _LineDecoder(name, warn) if encoding == "utf-8" else None
    reader = stream if decode else io.TextIOWrapper(stream, encoding=encoding)
    newline = b"\n" if decode else "\n"
    number = offset = 0
    while True:
        try:
            line = reader.readline(MAX_RECORD_BYTES + 1)
        except UnicodeDecodeError:
            raise _Stop(f"not valid {encoding.upper()} after line {number}") from None
        if not line:
            return
        number += 1
        if len(line) > MAX_RECORD_BYTES and not line.endswith(newline):
            hint, size = _record_hint(line[:4096]), len(line)
            del line
            while chunk := reader.readline(2**20):
                size += len(chunk)
                if chunk.endswith(newline):
                    break
            warn(f"skipped {name} line {number}{hint}: record too large "
                 f"({_mb(size)}, limit {_mb(MAX_RECORD_BYTES)} per record)")
            offset += size
            continue
        text = decode(line, offset, number) if decode else line
        offset += len(line)
        yield number, text.removeprefix("\ufeff") if number == 1 and text else text


class Pending(NamedTuple):
    """A line of a record file read but not parsed yet. Parsing (JSON, metadata, paragraph
    splitting) is most of the cost of reading, so an indexer hands these to its analysis
    workers (`parse_pending`) instead of parsing them in the process that reads. A named
    tuple: one is made per line, cheap to make and to pickle, and the cyclic collector stops
    tracking it."""

    number: int
    line: str


@dataclass
class RecordNotes:
    """What was odd about a record file's records (made-up ids, wrong types, repaired text,
    ignored metadata): gathered wherever its lines are parsed, warned once per file."""

    source: Source
    name: str
    missing: list[str] = field(default_factory=list)  # made-up ids
    mistyped: list[str] = field(default_factory=list)  # "id (title is a number)"
    repaired: list[str] = field(default_factory=list)  # ids whose text had invalid code points
    bad_meta: list[str] = field(default_factory=list)  # "id (date 'x' is not a date)"

    @classmethod
    def of(cls, source: Source) -> RecordNotes:
        return cls(source, display_name(source.rel))

    def absorb(self, other: RecordNotes) -> None:
        """Add what a later part of the same file gathered (in file order)."""
        self.missing += other.missing
        self.mistyped += other.mistyped
        self.repaired += other.repaired
        self.bad_meta += other.bad_meta

    def fresh(self) -> RecordNotes:
        return RecordNotes(self.source, self.name)

    def warn(self, warn: Warn) -> None:
        name = self.name
        if self.missing:
            some = ("record has" if len(self.missing) == 1
                    else f"{len(self.missing)} records have")
            warn(f"{name}: {some} no 'id' or '_id'; using ids like {self.missing[0]}")
        if self.mistyped:
            warn(f"{name}: {_records(self.mistyped)} with fields of the wrong type: "
                 f"{_some(self.mistyped)}; read as text where possible, else ignored")
        if self.repaired:
            warn(f"{name}: invalid characters (lone surrogates) replaced by U+FFFD in "
                 f"{_records(self.repaired)}: {_some(self.repaired)}")
        if self.bad_meta:
            warn(f"{name}: metadata ignored in {_records(self.bad_meta)}: "
                 f"{_some(self.bad_meta)}; their text is indexed")


def parse_line(notes: RecordNotes, number: int, line: str, warn: Warn) -> Article | None:
    """One JSONL line as an article (None, warned, if it is not a JSON object)."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError) as exc:
        warn(f"skipped {notes.name} line {number}: {_json_error(exc, one_line=True)}")
        return None
    if not isinstance(record, dict):
        warn(f"skipped {notes.name} line {number}: not a JSON object")
        return None
    suspect = bool(_SURROGATE_ESCAPE.search(line))
    return _article(notes, record, f"{notes.source.rel}#{number}", suspect)


def parse_pending(notes: RecordNotes, lines: Iterable[Pending],
                  warn: Warn) -> list[Article | None]:
    """Parse deferred lines of one file (anywhere: a worker gathers into a `fresh` notes
    and sends it back to be `absorb`ed); an article or None (warned) per line."""
    return [parse_line(notes, p.number, p.line, warn) for p in lines]


def _jsonl_articles(stream: BinaryIO, raw: BinaryIO, encoding: str, source: Source, name: str,
                    warn: Warn, on_bytes: BytesRead, defer: bool) -> Iterator[Article | Pending]:
    """One record per line, streamed; a bad line costs only that line. `defer`: yield the
    lines as `Pending`, for the caller to parse (and warn its `RecordNotes`) where it likes."""
    notes = RecordNotes(source, name)
    any_line = False
    try:
        for number, line in _jsonl_lines(stream, encoding, name, warn):
            on_bytes(raw.tell())
            if line is None:
                any_line = True  # undecodable: warned about already
                continue
            if not line or line.isspace():  # (no copy of the line, as strip() makes)
                continue
            any_line = True
            if defer:
                yield Pending(number, line)
            elif (article := parse_line(notes, number, line, warn)) is not None:
                yield article
    except _Stop as stop:
        any_line = True
        warn(f"stopped reading {name}: {stop}; the records before it are indexed")
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        any_line = True
        warn(f"stopped reading {name}: {_gzip_error(exc)}; the records before it are indexed")
    except OSError as exc:
        warn(f"stopped reading {name}: {exc.strerror or exc}; the records before it are "
             "indexed, and the file is read again next time")
        raise ReadInterrupted(name) from None
    finally:
        stream.close()
        raw.close()
    if not any_line:
        warn(f"skipped {name}: empty")
    if not defer:
        notes.warn(warn)


def _scalar(value: object) -> str | None:
    """str() only where it is meaningful: a dict or list is not a title or an id."""
    return str(value) if isinstance(value, (str, bool, int, float)) else None


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(value), "null")


def _body(record: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Paragraphs from 'paragraphs' (a list of strings) or 'text' (a string), and what was of
    the wrong type: a string is split like text, a list read as paragraphs, numbers become
    text, and objects are ignored."""
    key = "paragraphs" if record.get("paragraphs") is not None else "text"
    value = record.get(key)
    if value is None:
        return [], []
    problems: list[str] = []
    if isinstance(value, list):
        if key == "text":
            problems.append("text is a list")
        odd = [item for item in value if not isinstance(item, str)]
        if odd:
            problems.append(f"{key} holds {_kind(odd[0])}")
        texts = (text.strip() for item in value if (text := _scalar(item)) is not None)
        return _limit(texts), problems
    if not isinstance(value, str) or key == "paragraphs":
        problems.append(f"{key} is {_kind(value)}")
    text = _scalar(value)
    return (split_paragraphs(text) if text is not None else []), problems


def _has_id(record: dict[str, Any]) -> bool:
    return any(_scalar(record.get(key)) for key in ("id", "_id"))


def _record(record: dict[str, Any], fallback_id: str, source: Source,
            meta: Metadata = NO_METADATA) -> tuple[Article, list[str]]:
    """'paragraphs' wins over 'text'; an article without text is kept (its title is searchable).
    Also returns which fields had the wrong type (numbers are read as text)."""
    problems = []
    for key in ("id", "_id", "title"):
        value = record.get(key)
        if value is None or isinstance(value, str) or (key != "title" and type(value) is int):
            continue  # integer ids are common and meant
        problems.append(f"{key} is {_kind(value)}")
    ids = (_scalar(record.get(key)) for key in ("id", "_id"))
    article_id = next((value for value in ids if value), fallback_id)
    title = (_scalar(record.get("title")) or "").strip()
    paragraphs, body_problems = _body(record)
    article = Article(article_id, title, tuple(paragraphs), source.path, meta)
    return article, problems + body_problems
