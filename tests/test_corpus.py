"""Behaviour of searchlib.corpus as a user sees it: which articles come out, which warnings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

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
    assert warnings[0].startswith("skipped feed.jsonl line 3: invalid JSON")
    assert warnings[1] == "skipped feed.jsonl line 6: not a JSON object"
    assert {a.source for a in articles} == {str(tmp_path / "feed.jsonl")}


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


def test_bad_files_each_give_one_warning_and_the_rest_is_read(tmp_path: Path) -> None:
    write(tmp_path / "good.txt", "Good text.")
    write(tmp_path / "image.txt", b"GIF89a\x00\x01\x02 binary")
    write(tmp_path / "notes" / "latin1.txt", "Ren\u00e9 in Montr\u00e9al".encode("latin-1"))
    write(tmp_path / "blank.md", " \n\t\n")
    write(tmp_path / "zero.txt", b"")
    articles, warnings = load(tmp_path)
    assert [a.id for a in articles] == ["good.txt"]
    assert sorted(warnings) == [
        "skipped blank.md: empty",
        "skipped image.txt: binary file (NUL byte in the first 8 KB)",
        "skipped notes/latin1.txt: not valid UTF-8 (byte 0xe9 at offset 3)",
        "skipped zero.txt: empty",
    ]


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


def test_invalid_utf8_in_jsonl_skips_the_file_with_offset(tmp_path: Path) -> None:
    data = b'{"id": "a", "text": "ok"}\n{"id": "b", "text": "caf\xe9"}\n'
    articles, warnings = load(write(tmp_path / "l.jsonl", data))
    assert articles == []
    assert warnings == ["skipped l.jsonl: not valid UTF-8 (byte 0xe9 at offset 50)"]


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
    write(tmp_path / "records.jsonl", '{"id": "r", "text": "' + "y" * 150 + '"}')
    write(tmp_path / "huge.jsonl", '{"id": "h", "text": "' + "z" * 250 + '"}')
    articles, warnings = load(tmp_path)
    assert [a.id for a in articles] == ["r", "small.txt"]
    assert warnings == [
        "skipped big.txt: too large (101 bytes, limit 100 bytes for .txt files)",
        "skipped huge.jsonl: too large (273 bytes, limit 200 bytes for .jsonl files)",
    ]


def test_source_built_by_hand_is_read() -> None:
    """The indexer may rebuild a Source from its catalogue; only `path` and `rel` matter."""
    st = SEED.stat()
    source = Source(str(SEED), str(SEED.parent), "seeds/x.txt", st.st_size, st.st_mtime_ns)
    (article,) = read_source(source, print)
    assert article.id == "seeds/x.txt" and len(article.paragraphs) == 13
