"""Turn PATH arguments into articles, reporting (never raising) what could not be read.

A corpus is whatever the user points at: files, folders, symlinks, half-broken exports.
Indexing a thousand files must not die on the one that is binary, Latin-1 or vanished,
so every problem becomes one warning line naming the file, and the rest is still read.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, BinaryIO

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")
MAX_FILE_BYTES = 256 * 2**20  # record files (.json/.jsonl): many articles in one file
MAX_ARTICLE_BYTES = 32 * 2**20  # a .txt/.md/.html file is one article: beyond this, not news
MAX_PARAGRAPH_CHARS = 100_000
MAX_TITLE_CHARS = 120
TITLE_WORDS = 12
SNIFF_BYTES = 8192

Warn = Callable[[str], None]


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
    """One article; paragraph numbers match the file, so results can point back into it."""

    id: str
    title: str
    paragraphs: tuple[str, ...]
    source: str


class _Skip(Exception):
    """The whole file is unusable; the message is the reason shown to the user."""


class _Unreadable(_Skip):
    """The file could not be read at all (permissions, I/O): its content is unknown."""


def _show(text: str) -> str:
    """File names may hold newlines or undecodable bytes; keep every warning one clean line."""
    return text if text.isprintable() else repr(text)[1:-1]


def _source(path: str, root: str, rel: str, st: os.stat_result) -> Source:
    return Source(path, root, rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _suffix(name: str) -> str:
    return os.path.splitext(name)[1].lower()


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
        shown, root = _show(raw), os.path.abspath(raw)
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
            warn(f"skipped {_show(rel)}: {why}")
            continue
        except OSError as exc:
            warn(f"skipped {_show(rel)}: {exc.strerror or exc}")
            blind.append(path)
            continue
        if stat.S_ISDIR(est.st_mode):
            ancestors = [frame[0] for frame in stack]
            if not _already_visited(est, path, _show(rel), ancestors, visited, warn):
                key = (est.st_dev, est.st_ino)
                stack.append((key, path, rel + "/", _list_dir(path, _show(rel), warn, blind)))
        elif not stat.S_ISREG(est.st_mode):
            warn(f"skipped {_show(rel)}: not a regular file")  # a FIFO would block the reader
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
        warn(f"skipped folder {shown}: symlink loop (leads back to {_show(first)})")
    else:
        warn(f"skipped folder {shown}: same folder as {_show(first)}, already read")
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
    name = _show(source.rel)
    try:
        return _read(source, name, warn), True
    except _Skip as skip:
        warn(f"skipped {name}: {skip}")
        return [], not isinstance(skip, _Unreadable)


def _read(source: Source, name: str, warn: Warn) -> list[Article]:
    suffix = _suffix(source.path)
    if suffix not in SUPPORTED_SUFFIXES:
        raise _Skip("unsupported file type")
    try:
        st = os.stat(source.path)
        if not stat.S_ISREG(st.st_mode):
            raise _Skip("not a regular file")
        limit = MAX_FILE_BYTES if suffix in (".json", ".jsonl") else MAX_ARTICLE_BYTES
        if st.st_size > limit:
            raise _Skip(f"too large ({_mb(st.st_size)}, limit {_mb(limit)} for {suffix} files)")
        with open(source.path, "rb") as f:
            head = f.read(SNIFF_BYTES)
            encoding = _sniff(head)
            if suffix == ".jsonl":
                f.seek(0)
                return _jsonl_articles(f, encoding, source, name, warn)
            data = head + f.read(limit + 1 - len(head))
    except FileNotFoundError:
        raise _Skip("vanished before it could be read") from None
    except PermissionError:
        raise _Unreadable("permission denied") from None
    except OSError as exc:
        raise _Unreadable(exc.strerror or str(exc)) from None
    if len(data) > limit:
        raise _Skip(f"too large (over {_mb(limit)})")  # grew since stat
    text = _decode(data, encoding)
    if not text.strip():
        raise _Skip("empty")
    if suffix == ".json":
        return _json_articles(text, source, name, warn)
    if suffix in (".md", ".markdown"):
        title, paragraphs = _markdown(text, source.path)
    elif suffix in (".html", ".htm"):
        title, paragraphs = _html(text, source.path)
    else:
        paragraphs = split_paragraphs(text)
        title = _plain_title(paragraphs, source.path)
    return [Article(source.rel, title, tuple(paragraphs), source.path)]


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n} bytes"


def _sniff(head: bytes) -> str:
    """Pick the codec from a BOM; NUL bytes without one mean binary (UTF-16 is full of NULs)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\0" in head:
        raise _Skip(f"binary file (NUL byte in the first {SNIFF_BYTES // 1024} KB)")
    return "utf-8"


def _decode(data: bytes, encoding: str, base: int = 0) -> str:
    """Strict decoding: guessing a legacy codec silently corrupts text, so we skip instead."""
    try:
        return data.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        where = f"at offset {base + exc.start}"
        if encoding == "utf-8":
            where = f"byte 0x{data[exc.start]:02x} {where}"
        raise _Skip(f"not valid {encoding.upper()} ({where})") from None


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
    stem = os.path.splitext(os.path.basename(path))[0]
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


def _markdown(text: str, path: str) -> tuple[str, list[str]]:
    """Title from front matter or the first heading; later headings are paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    meta_title = ""
    opening = re.match(r"---[ \t]*\n", text)
    if opening and (end := _FRONT_END.search(text, opening.end())):
        if found := _FM_TITLE.search(text, opening.end(), end.start()):
            value = found.group(1)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            meta_title = value.strip()
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
    return title or _plain_title(paragraphs, path), paragraphs


_HTML_BLOCKS = frozenset({
    "p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "td", "th", "div", "dd",
    "dt", "figcaption", "caption", "article", "section", "main", "aside", "ul", "ol", "dl",
    "table", "tr", "body", "html",
})
_HTML_SKIP = frozenset(
    {"script", "style", "nav", "header", "footer", "noscript", "template", "svg"}
)
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


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

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _HTML_SKIP:
            self._skipping.append(tag)
        elif tag == "title":
            self._in_title = True
        elif tag in _HTML_BLOCKS:
            self._end_title()  # an unclosed <title> must not swallow the page
            self._flush()
            self._kind = tag

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


def _html(text: str, path: str) -> tuple[str, list[str]]:
    """Title from <title> or the first <h1>; an h1 that is not the title stays a paragraph."""
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
    return title or _plain_title(paragraphs, path), paragraphs


def _json_error(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
    return "invalid JSON: " + ("nested too deeply" if isinstance(exc, RecursionError) else str(exc))


def _json_articles(text: str, source: Source, name: str, warn: Warn) -> list[Article]:
    """A .json file is one record object or a list of them."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _Skip(_json_error(exc)) from None
    if isinstance(data, dict):
        return [_record(data, source.rel, source)]
    if not isinstance(data, list):
        raise _Skip("expected a JSON object or a list of objects")
    if not data:
        raise _Skip("no records")
    articles = []
    missing = []
    for index, record in enumerate(data):
        if isinstance(record, dict):
            articles.append(_record(record, f"{source.rel}#{index}", source))
            if not _has_id(record):
                missing.append(articles[-1].id)
        else:
            warn(f"skipped {name} record {index}: not a JSON object")
    _warn_missing_ids(name, missing, warn)
    return articles


def _jsonl_lines(f: BinaryIO, encoding: str) -> Iterator[tuple[int, str]]:
    """Decode line by line so a big .jsonl is never held whole in memory (UTF-8 case)."""
    if encoding != "utf-8":
        try:
            yield from enumerate(io.TextIOWrapper(f, encoding=encoding), 1)
        except UnicodeDecodeError:
            raise _Skip(f"not valid {encoding.upper()}") from None
        return
    offset = 0
    for number, raw in enumerate(f, 1):
        yield number, _decode(raw, "utf-8", offset)
        offset += len(raw)


def _jsonl_articles(f: BinaryIO, encoding: str, source: Source, name: str,
                    warn: Warn) -> list[Article]:
    """One record per line; a bad line costs only that line."""
    articles: list[Article] = []
    missing: list[str] = []
    any_line = False
    for number, line in _jsonl_lines(f, encoding):
        if not line.strip():
            continue
        any_line = True
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:
            warn(f"skipped {name} line {number}: {_json_error(exc)}")
            continue
        if isinstance(record, dict):
            articles.append(_record(record, f"{source.rel}#{number}", source))
            if not _has_id(record):
                missing.append(articles[-1].id)
        else:
            warn(f"skipped {name} line {number}: not a JSON object")
    if not any_line:
        raise _Skip("empty")
    _warn_missing_ids(name, missing, warn)
    return articles


def _scalar(value: object) -> str | None:
    """str() only where it is meaningful: a dict or list is not a title or an id."""
    return str(value) if isinstance(value, (str, bool, int, float)) else None


def _field_paragraphs(value: object) -> list[str]:
    if isinstance(value, list):
        return _limit(text.strip() for item in value if (text := _scalar(item)) is not None)
    text = _scalar(value)
    return split_paragraphs(text) if text is not None else []


def _has_id(record: dict[str, Any]) -> bool:
    return any(_scalar(record.get(key)) for key in ("id", "_id"))


def _warn_missing_ids(name: str, missing: list[str], warn: Warn) -> None:
    """One line per file: judgments cannot name records whose ids were made up."""
    if missing:
        some = "record has" if len(missing) == 1 else f"{len(missing)} records have"
        warn(f"{name}: {some} no 'id' or '_id'; using ids like {missing[0]}")


def _record(record: dict[str, Any], fallback_id: str, source: Source) -> Article:
    """'paragraphs' wins over 'text'; an article without text is kept (its title is searchable)."""
    ids = (_scalar(record.get(key)) for key in ("id", "_id"))
    article_id = next((value for value in ids if value), fallback_id)
    title = (_scalar(record.get("title")) or "").strip()
    body = record.get("paragraphs")
    if body is None:
        body = record.get("text")
    return Article(article_id, title, tuple(_field_paragraphs(body)), source.path)
