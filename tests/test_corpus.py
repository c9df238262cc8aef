"""Behaviour of searchlib.corpus as a user sees it: which articles come out, which warnings."""

from __future__ import annotations

import gzip
import io
import json
import os
import random
from pathlib import Path

import pytest

import searchlib
from searchlib import corpus
from searchlib.corpus import Article, Source, find_sources, read_source, split_paragraphs

SEED = Path(__file__).resolve().parent.parent / "seeds" / "north-korea-ukraine-war.txt"


def load(*paths: str | os.PathLike) -> tuple[list[Article], list[str]]:
    """Find and read everything, the way the indexer will."""
    warnings: list[str] = []
    sources = find_sources(paths, warnings.append)
    articles = [a for s in sources for a in read_source(s, warnings.append)]
    return articles, warnings


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def one(path: Path) -> tuple[Article, list[str]]:
    articles, warnings = load(path)
    assert len(articles) == 1, warnings
    return articles[0], warnings


# --------------------------------------------------------------------------- seed article


def test_seed_article_reads_as_thirteen_paragraphs() -> None:
    article, warnings = one(SEED)
    assert warnings == []
    assert article.id == "north-korea-ukraine-war.txt"
    assert article.title == "North korea ukraine war"
    assert article.source == str(SEED)
    assert len(article.paragraphs) == 13
    assert "Kim Jong-un" in article.paragraphs[3]
    lines = [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert list(article.paragraphs) == lines  # text exactly as written


# --------------------------------------------------------------------------- splitting


def test_blank_lines_separate_paragraphs_and_keep_inner_newlines() -> None:
    text = "  First line\nstill first.  \n\n\n  Second.\n \t \nThird.\n"
    assert split_paragraphs(text) == ["First line\nstill first.", "Second.", "Third."]


def test_without_blank_lines_every_line_is_a_paragraph() -> None:
    # A trailing or leading blank line is not a separator and must not merge the lines.
    assert split_paragraphs("\n\nOne.\nTwo.\n   \nThree.") == ["One.\nTwo.", "Three."]
    assert split_paragraphs("\nOne.\n  Two.  \nThree.\n\n") == ["One.", "Two.", "Three."]
    assert split_paragraphs(" \n\t\n") == []


def test_crlf_and_cr_newlines_are_normalised() -> None:
    assert split_paragraphs("a\r\nb\r\n\r\nc") == ["a\nb", "c"]
    assert split_paragraphs("a\rb\rc") == ["a", "b", "c"]


def test_giant_paragraph_is_cut_at_whitespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpus, "MAX_PARAGRAPH_CHARS", 10_000)
    words = [f"word{i}" for i in range(120_000)]
    line = " ".join(words)  # ~1.1 MB, no newline
    pieces = split_paragraphs("Title\n" + line)[1:]
    assert 100 <= len(pieces) <= 250
    assert all(len(p) <= 10_000 for p in pieces)
    assert all(len(p) > 5_000 for p in pieces[:-1])  # cut near the limit, not early
    assert " ".join(pieces) == line  # no word split or lost


def test_giant_run_without_whitespace_is_hard_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpus, "MAX_PARAGRAPH_CHARS", 1_000)
    pieces = split_paragraphs("x" * 2_500)
    assert [len(p) for p in pieces] == [1_000, 1_000, 500]


# --------------------------------------------------------------------------- plain text titles


def test_short_first_line_is_the_title_and_stays_paragraph_one(tmp_path: Path) -> None:
    article, _ = one(write(tmp_path / "x.txt", "Seoul braces for summit\n\nLeaders meet.\n"))
    assert article.title == "Seoul braces for summit"
    assert article.paragraphs == ("Seoul braces for summit", "Leaders meet.")


def test_title_from_file_name_drops_numeric_prefix(tmp_path: Path) -> None:
    article, _ = one(write(tmp_path / "000_NATO_summit-in-vilnius.txt", "It began.\nIt ended."))
    assert article.title == "NATO summit in vilnius"


def test_title_falls_back_to_first_words(tmp_path: Path) -> None:
    text = "one two three four five six seven eight nine ten eleven twelve thirteen.\nMore."
    article, _ = one(write(tmp_path / "2024-05-01.txt", text))
    assert article.title == "one two three four five six seven eight nine ten eleven twelve…"


# --------------------------------------------------------------------------- markdown


def test_markdown_front_matter_title_wins_and_other_headings_are_text(tmp_path: Path) -> None:
    text = (
        '---\ntitle: "Front title"\nauthor: x\n---\n# Heading title\n\n'
        "Intro *text*\nspans lines.\n\n## Section\nBody.\n\n```sh\n# not a heading\n```\n"
    )
    article, warnings = one(write(tmp_path / "a.md", text))
    assert warnings == []
    assert article.title == "Front title"
    assert article.paragraphs == (
        "Heading title", "Intro *text*\nspans lines.", "Section", "Body.",
        "```sh\n# not a heading\n```",
    )


def test_markdown_atx_and_setext_headings(tmp_path: Path) -> None:
    atx, _ = one(write(tmp_path / "a.markdown", "# Kim visits Moscow #\nFirst.\nSecond.\n"))
    assert (atx.title, atx.paragraphs) == ("Kim visits Moscow", ("First.", "Second."))
    text = "Troops move\n===========\n\nFirst.\n\nSub\n---\nNext."
    setext, _ = one(write(tmp_path / "b.MD", text))
    assert (setext.title, setext.paragraphs) == ("Troops move", ("First.", "Sub", "Next."))


# --------------------------------------------------------------------------- html


def test_html_title_blocks_and_skipped_chrome(tmp_path: Path) -> None:
    html = """<!doctype html><html><head><title>Page  title</title>
    <style>p { color: red }</style><script>var x = "<p>no</p>";</script></head>
    <body><nav><a href="/">Home</a></nav><header>Site banner</header>
    <h1>Headline</h1>
    <p>Tom &amp; Jerry&nbsp;met
       in    <b>Paris</b>.</p>
    <ul><li>one</li><li>two</li></ul><div>loose div text<p>inner</p></div>
    <h2>Sub</h2><table><tr><td>cell</td></tr></table><footer>(c) site</footer></body></html>"""
    article, warnings = one(write(tmp_path / "page.html", html))
    assert warnings == []
    assert article.title == "Page title"
    assert article.paragraphs == (
        "Headline", "Tom & Jerry\xa0met in Paris.", "one", "two", "loose div text", "inner",
        "Sub", "cell",
    )


def test_html_h1_is_title_without_title_tag_and_broken_html_is_read(tmp_path: Path) -> None:
    article, _ = one(write(tmp_path / "a.htm", "<h1>Big news<p>unclosed <b>bold<p>next</div>"))
    assert article.title == "Big news"
    assert article.paragraphs == ("unclosed bold", "next")
    unclosed, _ = one(write(tmp_path / "b.html", "<title>T<p>text survives"))
    assert (unclosed.title, unclosed.paragraphs) == ("T", ("text survives",))


def test_html_the_parser_rejects_gives_one_warning(tmp_path: Path) -> None:
    write(tmp_path / "bad.html", "<p>a</p><![foo[ x ]]>")
    write(tmp_path / "good.html", "<p>fine</p>")
    articles, warnings = load(tmp_path)
    assert [a.id for a in articles] == ["good.html"]
    assert len(warnings) == 1 and warnings[0].startswith("skipped bad.html: could not parse HTML")


# --------------------------------------------------------------------------- json / jsonl


def test_json_single_record_and_list(tmp_path: Path) -> None:
    single, _ = one(write(tmp_path / "one.json", json.dumps(
        {"id": 42, "title": "T", "text": "A.\n\nB.\nstill B."})))
    assert (single.id, single.title, single.paragraphs) == ("42", "T", ("A.", "B.\nstill B."))
    records = [{"_id": "x1", "paragraphs": [" p1 ", "", "p2"]}, "oops", {"text": "no id"}]
    articles, warnings = load(write(tmp_path / "many.json", json.dumps(records)))
    assert [(a.id, a.paragraphs) for a in articles] == [
        ("x1", ("p1", "p2")), ("many.json#2", ("no id",)),
    ]
    assert warnings == [
        "skipped many.json record 1: not a JSON object",
        "many.json: record has no 'id' or '_id'; using ids like many.json#2",
    ]


def test_invalid_json_file_is_skipped_with_position(tmp_path: Path) -> None:
    articles, warnings = load(write(tmp_path / "bad.json", '{"id": 1,\n "text": }'))
    assert articles == []
    assert warnings == ["skipped bad.json: invalid JSON at line 2 column 10: Expecting value"]


def test_jsonl_bad_line_costs_only_that_line(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "a", "title": "Alpha", "text": "One.\nTwo."}),
        "",
        "{not json",
        json.dumps({"_id": 7, "paragraphs": ["P1", "P2"]}),
        json.dumps({"id": "", "_id": "fallback", "title": "Only a title"}),
        "[1, 2]",
    ]
    articles, warnings = load(write(tmp_path / "feed.jsonl", "\r\n".join(lines) + "\n"))
    assert [(a.id, a.title, a.paragraphs) for a in articles] == [
        ("a", "Alpha", ("One.", "Two.")),
        ("7", "", ("P1", "P2")),
        ("fallback", "Only a title", ()),
    ]
    assert len(warnings) == 2
    # the line is named once: no "line 1" of the record inside line 3 of the file
    assert warnings[0] == ("skipped feed.jsonl line 3: invalid JSON at column 2: Expecting "
                           "property name enclosed in double quotes")
    assert warnings[1] == "skipped feed.jsonl line 6: not a JSON object"
    assert {a.source for a in articles} == {str(tmp_path / "feed.jsonl")}
    _, warnings = load(write(tmp_path / "cut.jsonl", '{"id": "a", "text": "cut sh\n'))
    assert warnings == ["skipped cut.jsonl line 1: invalid JSON at column 28: the record "
                        "ends early"]


def test_jsonl_without_id_uses_line_number(tmp_path: Path) -> None:
    articles, _ = load(write(tmp_path / "f.jsonl", '\n{"text": "x"}\n'))
    assert [a.id for a in articles] == ["f.jsonl#2"]


# --------------------------------------------------------------------------- walking


def test_walk_is_sorted_recursive_and_skips_hidden_and_unsupported(tmp_path: Path) -> None:
    for rel in ["b/z.txt", "b/a.md", "a.TXT", "c/d/e.jsonl", ".hidden/x.txt", "b/.secret.txt",
                "notes.pdf", "b/image.png"]:
        write(tmp_path / rel, '{"id": "e"}' if rel.endswith("jsonl") else "text")
    warnings: list[str] = []
    sources = list(find_sources([tmp_path], warnings.append))
    assert [s.rel for s in sources] == ["a.TXT", "b/a.md", "b/z.txt", "c/d/e.jsonl"]
    assert warnings == []
    first = sources[1]
    assert first.root == str(tmp_path)
    assert first.path == os.path.join(str(tmp_path), "b", "a.md")
    assert first.size == 4 and first.mtime_ns == (tmp_path / "b" / "a.md").stat().st_mtime_ns


def test_file_path_argument_and_duplicates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "news" / "k.txt", "x")
    monkeypatch.chdir(tmp_path)
    warnings: list[str] = []
    sources = list(find_sources(
        ["news/k.txt", Path("news"), str(tmp_path / "news" / "k.txt"), "news/../news"],
        warnings.append,
    ))
    assert [(s.rel, s.root) for s in sources] == [("k.txt", str(tmp_path / "news" / "k.txt"))]
    assert warnings == []
    articles, _ = load(tmp_path / "news" / "k.txt")
    assert articles[0].id == "k.txt"


def test_walk_is_lazy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in "abc":
        write(tmp_path / name / "f.txt", "x")
    listed: list[str] = []
    real_scandir = os.scandir

    def spy(path: str) -> object:
        listed.append(os.path.basename(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", spy)
    sources = find_sources([tmp_path], print)
    assert next(sources).rel == "a/f.txt"
    assert listed == [tmp_path.name, "a"]  # b and c not listed yet


def test_missing_path_warns_once_and_the_rest_is_read(tmp_path: Path) -> None:
    write(tmp_path / "ok.txt", "fine")
    articles, warnings = load(tmp_path / "gone", tmp_path / "ok.txt")
    assert [a.id for a in articles] == ["ok.txt"]
    assert warnings == [f"no such file or folder: {tmp_path / 'gone'}"]


def test_symlink_loop_warns_once(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    write(root / "sub" / "a.txt", "A")
    os.symlink(root, root / "sub" / "loop")
    articles, warnings = load(root)
    assert [a.id for a in articles] == ["sub/a.txt"]
    assert len(warnings) == 1 and "sub/loop" in warnings[0] and "symlink loop" in warnings[0]


def test_symlinked_folder_is_followed(tmp_path: Path) -> None:
    write(tmp_path / "real" / "a.txt", "A")
    (tmp_path / "corpus").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "corpus" / "linked")
    articles, warnings = load(tmp_path / "corpus")
    assert [a.id for a in articles] == ["linked/a.txt"] and warnings == []
    assert articles[0].source == str(tmp_path / "corpus" / "linked" / "a.txt")  # not resolved


def test_unlistable_folder_warns_and_walk_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "locked" / "a.txt", "A")
    write(tmp_path / "open" / "b.txt", "B")
    real_scandir = os.scandir

    def guarded(path: str) -> object:
        if os.path.basename(path) == "locked":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", guarded)
    articles, warnings = load(tmp_path)
    assert [a.id for a in articles] == ["open/b.txt"]
    assert warnings == ["skipped folder locked: permission denied"]


# --------------------------------------------------------------------------- bad files


def noise(n: int = 512) -> bytes:
    """Binary data without a NUL byte: no text codec fits it."""
    return random.Random(0).randbytes(n).replace(b"\0", b"\1")


def test_bad_files_each_give_one_warning_and_the_rest_is_read(tmp_path: Path) -> None:
    write(tmp_path / "good.txt", "Good text.")
    write(tmp_path / "image.txt", b"GIF89a\x00\x01\x02 binary")
    write(tmp_path / "notes" / "noise.txt", noise())
    write(tmp_path / "blank.md", " \n\t\n")
    write(tmp_path / "zero.txt", b"")
    articles, warnings = load(tmp_path)
    assert [a.id for a in articles] == ["good.txt"]
    first_bad = noise().decode("utf-8", "replace").index("\ufffd")
    assert sorted(warnings) == [
        "skipped blank.md: empty",
        "skipped image.txt: binary file (NUL byte in the first 8 KB)",
        f"skipped notes/noise.txt: not valid UTF-8 (byte 0x{noise()[first_bad]:02x} at offset "
        f"{first_bad})",
        "skipped zero.txt: empty",
    ]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_legacy_encoded_text_is_decoded_with_a_warning(tmp_path: Path, encoding: str) -> None:
    """Old news archives are cp1252/Latin-1: read them (naming the codec), do not skip them."""
    text = "Caf\u00e9 cr\u00e8me prices\n\nRen\u00e9 in Montr\u00e9al said so."
    if encoding == "cp1252":
        text += " \u201cQuoted\u201d \u2014 dashes."
    article, warnings = one(write(tmp_path / "old.txt", text.encode(encoding)))
    assert article.paragraphs == tuple(text.split("\n\n"))
    assert warnings == ["old.txt: not valid UTF-8 (byte 0xe9 at offset 3); decoded as cp1252"]


def test_other_legacy_codecs_are_detected(tmp_path: Path) -> None:
    text = "Привет, новости дня: Москва и Киев"
    article, warnings = one(write(tmp_path / "ru.txt", text.encode("cp1251")))
    assert article.paragraphs == (text,)
    assert len(warnings) == 1 and warnings[0].endswith("; decoded as cp1251")


@pytest.mark.parametrize("text", [
    "A na\u00efve cr\u00e8me br\u00fbl\u00e9e", "Legacy brief\n\nPrices rose \u20ac5 a ton.",
    "Z\u00fcrich caf\u00e9 and \u201cquoted\u201d fa\u00e7ade",
    "Legacy brief\n\nA na\u00efve se\u00f1or story from the archive."])
def test_short_western_briefs_are_read_as_cp1252(tmp_path: Path, text: str) -> None:
    """A few accented letters fit many codecs about equally; a short brief from a Western
    archive must not come out as Baltic or DOS mojibake ('na\u013cve cr\u010dme')."""
    articles, warnings = load(write(tmp_path / "brief.txt", text.encode("cp1252")))
    assert "\n\n".join(articles[0].paragraphs).endswith(text.split("\n\n")[-1])
    assert warnings[0].endswith("decoded as cp1252")


def test_longer_text_in_other_scripts_keeps_its_codec(tmp_path: Path) -> None:
    for text, codec in [
            ("Греция: правительство объявило о новых мерах поддержки экономики.", "cp1251"),
            ("Zażółć gęślą jaźń. Rząd ogłosił nowe środki wsparcia gospodarki w piątek.",
             "cp1250")]:
        articles, warnings = load(write(tmp_path / f"{codec}.txt", text.encode(codec)))
        assert articles[0].paragraphs == (text,)
        assert warnings[0].endswith(f"decoded as {codec}")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_files_with_a_bom_are_decoded(tmp_path: Path, encoding: str) -> None:
    bom = b"\xfe\xff" if encoding == "utf-16-be" else b""
    text = "Séoul headline\r\n\r\nParagraph – one.\r\n"
    article, warnings = one(write(tmp_path / "u.txt", bom + text.encode(encoding)))
    assert warnings == []
    assert article.paragraphs == ("Séoul headline", "Paragraph – one.")


def test_utf16_jsonl_is_decoded(tmp_path: Path) -> None:
    data = '{"id": "k", "text": "Kim Jong-un"}\n'.encode("utf-16")
    articles, warnings = load(write(tmp_path / "u.jsonl", data))
    assert [(a.id, a.paragraphs) for a in articles] == [("k", ("Kim Jong-un",))] and not warnings


def test_legacy_encoded_jsonl_lines_are_decoded_with_one_warning(tmp_path: Path) -> None:
    """UTF-8 lines stay UTF-8; the others are read as the codec found for the first of them;
    a line no codec fits (0x81 and 0x8d are undefined in cp1252) costs only that line."""
    data = (b'{"id": "a", "text": "ok caf\xc3\xa9"}\n{"id": "b", "text": "caf\xe9"}\n'
            b'{"id": "c", "text": "cr\xe8me"}\n{"id": "d", "text": "\x81\x8d"}\n')
    articles, warnings = load(write(tmp_path / "l.jsonl", data))
    assert [(a.id, a.paragraphs) for a in articles] == [
        ("a", ("ok caf\u00e9",)), ("b", ("caf\u00e9",)), ("c", ("cr\u00e8me",))]
    bad, undefined = data.index(b"caf\xe9") + 3, data.index(b"\x81")
    assert warnings == [
        f"l.jsonl: not valid UTF-8 (byte 0xe9 at offset {bad}); decoded as cp1252",
        f"skipped l.jsonl line 4: not valid UTF-8 (byte 0x81 at offset {undefined})",
    ]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file_warns(tmp_path: Path) -> None:
    locked = write(tmp_path / "locked.txt", "secret")
    write(tmp_path / "open.txt", "public")
    locked.chmod(0)
    try:
        articles, warnings = load(tmp_path)
    finally:
        locked.chmod(0o644)
    assert [a.id for a in articles] == ["open.txt"]
    assert warnings == ["skipped locked.txt: permission denied"]


def test_permission_error_on_open_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same path as the chmod test, but also runs as root (which ignores chmod 000)."""
    write(tmp_path / "locked.txt", "secret")

    def deny(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    (source,) = find_sources([tmp_path], print)
    monkeypatch.setattr(corpus, "open", deny, raising=False)
    warnings: list[str] = []
    assert read_source(source, warnings.append) == []
    assert warnings == ["skipped locked.txt: permission denied"]


def test_file_vanishing_between_find_and_read(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "A")
    write(tmp_path / "b.txt", "B")
    warnings: list[str] = []
    sources = list(find_sources([tmp_path], warnings.append))
    (tmp_path / "a.txt").unlink()
    articles = [a for s in sources for a in read_source(s, warnings.append)]
    assert [a.id for a in articles] == ["b.txt"]
    assert warnings == ["skipped a.txt: vanished before it could be read"]


def test_too_large_file_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpus, "MAX_ARTICLE_BYTES", 100)
    monkeypatch.setattr(corpus, "MAX_FILE_BYTES", 200)
    write(tmp_path / "big.txt", "x" * 101)
    write(tmp_path / "small.txt", "x" * 100)
    write(tmp_path / "huge.json", '{"id": "h", "text": "' + "z" * 250 + '"}')
    articles, warnings = load(tmp_path)
    assert [a.id for a in articles] == ["small.txt"]
    assert warnings == [
        "skipped big.txt: too large (101 bytes, limit 100 bytes for .txt files)",
        "skipped huge.json: too large (273 bytes, limit 200 bytes for .json files)",
    ]


def test_jsonl_has_no_file_limit_but_a_record_limit(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Records are streamed, so only one record's size matters: a giant one is skipped,
    named by line and id, and the records after it are still read."""
    monkeypatch.setattr(corpus, "MAX_FILE_BYTES", 100)
    monkeypatch.setattr(corpus, "MAX_RECORD_BYTES", 200)
    giant = json.dumps({"id": "g7", "text": "z " * 400})
    lines = [json.dumps({"id": f"r{i}", "text": "y" * 150}) for i in range(5)]
    write(tmp_path / "feed.jsonl", "\n".join(lines[:2] + [giant] + lines[2:]) + "\n")
    articles, warnings = load(tmp_path)
    assert [a.id for a in articles] == ["r0", "r1", "r2", "r3", "r4"]
    assert warnings == [f"skipped feed.jsonl line 3 (id \"g7\"): record too large "
                        f"({len(giant) + 1} bytes, limit 200 bytes per record)"]


def test_giant_jsonl_record_is_read_in_bounded_chunks(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The oversized line is drained in small reads: no read asks for more than the cap."""
    monkeypatch.setattr(corpus, "MAX_RECORD_BYTES", 1000)
    path = write(tmp_path / "big.jsonl", '{"id": "big", "text": "' + "w " * 2_000_000 + '"}\n'
                 '{"id": "after", "text": "still read"}\n')
    sizes: list[int] = []
    real_open = open

    class Spy(io.BufferedReader):
        def readline(self, size: int | None = -1) -> bytes:
            sizes.append(size)
            return super().readline(size)

    monkeypatch.setattr(corpus, "open", lambda p, mode: Spy(real_open(p, "rb", buffering=0)),
                        raising=False)
    articles, warnings = load(path)
    assert [a.id for a in articles] == ["after"] and len(warnings) == 1
    assert max(sizes) <= 2**20 and -1 not in sizes


def test_gzip_record_files_are_streamed(tmp_path: Path) -> None:
    lines = [json.dumps({"id": f"z{i}", "title": "Zipped", "text": f"story {i}"}) for i in range(3)]
    write(tmp_path / "news.jsonl.gz", gzip.compress("\n".join(lines).encode()))
    write(tmp_path / "one.JSON.gz", gzip.compress(b'{"id": "j", "text": "packed json"}'))
    write(tmp_path / "notes.txt.gz", gzip.compress(b"not read"))  # only record files
    write(tmp_path / "bad.jsonl.gz", b"not gzip at all")
    write(tmp_path / "cut.jsonl.gz", gzip.compress(b'{"id": "c1"}\n' + b"x" * 5000)[:40])
    articles, warnings = load(tmp_path)
    assert [(a.id, a.paragraphs) for a in articles] == [
        ("z0", ("story 0",)), ("z1", ("story 1",)), ("z2", ("story 2",)), ("j", ("packed json",))]
    assert warnings == [
        "skipped bad.jsonl.gz: not a valid gzip file (Not a gzipped file (b'no'))",
        "skipped cut.jsonl.gz: compressed data ends early (truncated .gz file)",
    ]


def test_progress_callback_counts_bytes_within_a_jsonl_file(tmp_path: Path) -> None:
    lines = [json.dumps({"id": f"r{i}", "text": f"record {i} " * 20}) for i in range(50)]
    path = write(tmp_path / "feed.jsonl", "\n".join(lines) + "\n")
    (source,) = find_sources([path], print)
    counts: list[int] = []
    stream = corpus.iter_source(source, print, counts.append)
    assert stream is not None
    seen = []
    for article in stream:
        seen.append((article.id, counts[-1]))
    assert len(seen) == 50
    assert counts == sorted(counts) and counts[-1] == path.stat().st_size
    assert seen[0][1] < seen[-1][1]  # counted as the records are read, not at the end


def test_index_progress_counts_bytes_within_a_jsonl_file(tmp_path: Path) -> None:
    """The bar's callback: bytes read of the total, growing record by record inside a big
    .jsonl (not only once per file), and ending exactly at the total."""
    lines = [json.dumps({"id": f"r{i}", "text": f"story number {i}"}) for i in range(40)]
    feed = write(tmp_path / "docs" / "feed.jsonl", "\n".join(lines) + "\n")
    note = write(tmp_path / "docs" / "note.txt", "A short note.")
    calls: list[tuple[int, int, str]] = []
    searchlib.Index.build([tmp_path / "docs"], tmp_path / "idx",
                          progress=lambda *args: calls.append(args))
    total = feed.stat().st_size + note.stat().st_size
    done = [call[0] for call in calls]
    assert {call[1] for call in calls} == {total}
    assert done == sorted(set(done)) and done[-1] == total
    inside = [n for n, _, name in calls if name == "feed.jsonl" and n < feed.stat().st_size]
    assert len(inside) >= 10


# --------------------------------------------------------------------------- record fields


def test_fields_of_the_wrong_type_warn_once_per_file_naming_the_records(tmp_path: Path) -> None:
    records = [
        {"id": "ok", "title": "Fine", "paragraphs": ["One.", "Two."]},
        {"id": "t", "title": 42, "text": "Numeric title."},
        {"id": "p", "paragraphs": "A string\n\nof two paragraphs."},
        {"id": "q", "title": ["no"], "paragraphs": ["Kept.", 7, None, {"x": 1}]},
        {"id": "r", "text": {"body": "object"}},
        {"id": 5, "text": "integer ids are fine"},
    ]
    path = write(tmp_path / "feed.jsonl", "\n".join(json.dumps(r) for r in records))
    articles, warnings = load(path)
    assert [(a.id, a.title, a.paragraphs) for a in articles] == [
        ("ok", "Fine", ("One.", "Two.")),
        ("t", "42", ("Numeric title.",)),
        ("p", "", ("A string", "of two paragraphs.")),
        ("q", "", ("Kept.", "7")),
        ("r", "", ()),
        ("5", "", ("integer ids are fine",)),
    ]
    assert warnings == [
        "feed.jsonl: 4 records with fields of the wrong type: t (title is a number); "
        "p (paragraphs is a string); q (title is a list, paragraphs holds a number); "
        "and 1 more; read as text where possible, else ignored"
    ]


def test_wrong_types_in_a_json_file_warn_once(tmp_path: Path) -> None:
    path = write(tmp_path / "list.json", json.dumps([{"id": "a", "title": True}, {"id": "b"}]))
    articles, warnings = load(path)
    assert [a.title for a in articles] == ["True", ""]
    assert warnings == ["list.json: 1 record with fields of the wrong type: a (title is "
                        "true/false); read as text where possible, else ignored"]


# --------------------------------------------------------------------------- odd characters


def test_lone_surrogates_in_records_become_replacement_characters(tmp_path: Path) -> None:
    lines = ['{"id": "s1", "text": "bad \\ud800 zebra"}',
             '{"id": "e", "text": "ok \\ud83d\\ude00"}',  # a valid pair (emoji) is kept
             '{"id": "s\\udfff2", "title": "t \\udc80", "text": "more"}']
    path = write(tmp_path / "feed.jsonl", "\n".join(lines))
    articles, warnings = load(path)
    assert [(a.id, a.title, a.paragraphs) for a in articles] == [
        ("s1", "", ("bad \ufffd zebra",)), ("e", "", ("ok \U0001f600",)),
        ("s\ufffd2", "t \ufffd", ("more",))]
    assert warnings == ["feed.jsonl: invalid characters (lone surrogates) replaced by U+FFFD "
                        "in 2 records: s1; s\ufffd2"]
    for article in articles:  # what the index stores must be encodable
        "".join((article.id, article.title, *article.paragraphs)).encode("utf-8")


@pytest.mark.skipif(os.name != "posix", reason="byte file names are a POSIX thing")
def test_file_name_that_is_not_utf8_is_read(tmp_path: Path) -> None:
    folder = os.fsencode(tmp_path)
    with open(os.path.join(folder, b"caf\xe9-news.txt"), "w") as f:
        f.write("Zebra crossing opened.\n\nSecond paragraph.")
    (article,) = load(tmp_path)[0]
    assert article.id == os.fsdecode(b"caf\xe9-news.txt")  # surrogate-escaped, exact
    assert article.title == "Caf\ufffd news"  # a title is for display: encodable
    assert os.path.exists(article.source)


def test_source_built_by_hand_is_read() -> None:
    """The indexer may rebuild a Source from its catalogue; only `path` and `rel` matter."""
    st = SEED.stat()
    source = Source(str(SEED), str(SEED.parent), "seeds/x.txt", st.st_size, st.st_mtime_ns)
    (article,) = read_source(source, print)
    assert article.id == "seeds/x.txt" and len(article.paragraphs) == 13
