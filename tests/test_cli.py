"""The `searchlib` command line, driven as a user would: CliRunner, pipes and a pseudo-terminal."""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import searchlib
from searchlib.cli import cli
from searchlib.cli.output import Style

from .conftest import REPO, SEED_ID, SEEDS

QUERY = "north korea artillery shells"
QUERY_WORDS = {"north", "korea", "korea's", "korea’s", "artillery", "shells"}
MATCH_PRE, MATCH_POST = Style(color=True).match("\0").split("\0")
HIGHLIGHT = re.compile(re.escape(MATCH_PRE) + "(.*?)" + re.escape(MATCH_POST))
HIT_LINE = re.compile(r"^\s*\d+\. \d+\.\d+ ", re.M)
FOOTER = re.compile(r"^(\d+) of (\d+) (paragraph|article)s?", re.M)
CLEAN_ENV = {"NO_COLOR": None, "SEARCHLIB_INDEX": None, "TERM": "xterm"}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env=CLEAN_ENV)


@pytest.fixture
def fresh_clone(tmp_path, monkeypatch) -> Path:
    """A working directory like a fresh clone: seeds/ and an index/ holding only its README."""
    shutil.copytree(SEEDS, tmp_path / "seeds")
    (tmp_path / "index").mkdir()
    shutil.copy(REPO / "index" / "README.md", tmp_path / "index" / "README.md")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    """Good articles next to a binary, a Latin-1 and an empty file."""
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    (folder / "cocoa.txt").write_text(
        "Cocoa harvest in Bahia\n\nFarmers in Bahia expect a record cocoa crop this season.\n"
    )
    (folder / "blob.txt").write_bytes(b"\x00\x01\x02\xffbinary junk\x00")
    (folder / "latin1.txt").write_bytes("Café prices soar in Brazil\n".encode("latin-1"))
    (folder / "empty.txt").write_bytes(b"")
    return folder


def idx_args(index: searchlib.Index) -> list[str]:
    return ["--index", str(index.root)]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def run_module(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "SEARCHLIB_INDEX")}
    return subprocess.run([sys.executable, "-m", "searchlib", *args], capture_output=True,
                          text=True, cwd=cwd, env={**environ, **env}, timeout=300)


# -- search ----------------------------------------------------------------------------------


def test_search_on_a_fresh_clone_builds_the_index_and_highlights_matches(fresh_clone, runner):
    res = runner.invoke(cli, ["search", QUERY, "--color", "always"])
    assert res.exit_code == 0, res.output
    assert "building index/ from seeds/" in res.stderr
    assert "searchlib:" not in res.stdout
    assert (fresh_clone / "index" / "README.md").exists()
    first = res.stdout.split("\n\n")[0]
    assert first.lstrip().startswith("1.") and "¶2" in first
    marked = HIGHLIGHT.findall(res.stdout)
    assert {"artillery", "shells"} <= set(marked)
    assert {m.lower() for m in marked} <= QUERY_WORDS
    hit = searchlib.Index.open(fresh_clone / "index").search(QUERY).hits[0]
    assert HIGHLIGHT.findall(first) == [hit.text[s:e] for s, e in hit.spans]
    again = runner.invoke(cli, ["search", QUERY])
    assert again.exit_code == 0 and "building index/" not in again.stderr
    assert "\x1b[" not in again.stdout  # not a terminal: no colour by default


def test_search_human_output_has_rank_score_title_paragraph_and_footer(seed_index, runner):
    res = runner.invoke(cli, ["search", *QUERY.split(), "-k", "3", *idx_args(seed_index)])
    assert res.exit_code == 0
    heads = HIT_LINE.findall(res.stdout)
    assert len(heads) == 3
    assert re.search(r"^ 1\. \d+\.\d{3}  North korea ukraine war  ¶2 ", res.stdout, re.M)
    # 11 of the 13 paragraphs say one of the words; the other 2 match only through the
    # title, which an article whose text matches does not add again
    assert re.search(r"^3 of 11 paragraphs \(\d+\.\d ms\)$", res.stdout, re.M)
    assert "artillery" in res.stdout and "shells" in res.stdout


def test_json_lines_spans_point_at_the_matched_words(seed_index, runner):
    res = runner.invoke(cli, ["search", QUERY, "--json", "--color", "always",
                              *idx_args(seed_index)])
    assert res.exit_code == 0
    assert "\x1b" not in res.stdout
    records = [json.loads(line) for line in res.stdout.splitlines()]
    hits, summary = records[:-1], records[-1]
    assert hits and all(r["type"] == "hit" for r in hits)
    assert [r["rank"] for r in hits] == list(range(1, len(hits) + 1))
    assert hits[0]["article"] == SEED_ID and hits[0]["paragraph"] == 2
    for r in hits:
        assert set(r) >= {"score", "title", "text", "spans", "fuzzy"}
        assert r["spans"] or "korea" in r["title"].lower()  # else matched by its title
        for s, e in r["spans"]:
            assert r["text"][s:e].lower() in QUERY_WORDS
    assert summary["type"] == "summary" and summary["query"] == QUERY
    assert summary["total"] == 11 and summary["did_you_mean"] is None
    assert set(summary) >= {"took_ms", "warnings"}


def test_json_on_a_fresh_clone_gives_the_build_notice_as_json(fresh_clone, runner):
    res = runner.invoke(cli, ["search", "--json", "korea"])
    assert res.exit_code == 0 and res.stderr == ""  # no prose anywhere
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert {r["type"] for r in records} == {"note", "hit", "summary"}
    assert any("building index/" in r["message"] for r in records if r["type"] == "note")


def test_json_errors_are_json_records(seed_index, runner):
    res = runner.invoke(cli, ["search", "--strict", "--json", "(a OR", *idx_args(seed_index)])
    assert res.exit_code == 2 and res.stderr == ""
    assert [json.loads(line) for line in res.stdout.splitlines()] == [
        {"type": "error", "error": "QuerySyntaxError", "message": "missing closing parenthesis",
         "position": 0}]
    for args in (["-k", "0", "korea"], ["--json-typo", "korea"], ["  "], []):
        res = runner.invoke(cli, ["search", "--json", *args, *idx_args(seed_index)])
        assert res.exit_code == 2 and res.stderr == "", args
        (record,) = [json.loads(line) for line in res.stdout.splitlines()]
        assert record["type"] == "error" and record["message"], args
    res = runner.invoke(cli, ["search", "--json", "korea", "--index", "nowhere"])
    (record,) = [json.loads(line) for line in res.stdout.splitlines()]
    assert res.exit_code == 2 and record["error"] == "IndexNotFound"
    words = runner.invoke(cli, ["search", *idx_args(seed_index), "--", "korea", "--json"])
    assert words.exit_code == 0 and not words.stdout.startswith("{")  # after --: a word


def test_stopwords_of_a_question_make_one_warning_line(seed_index, runner):
    res = runner.invoke(cli, ["search", "did the fed raise the discount rate?", "--no-fuzzy",
                              *idx_args(seed_index)])
    warnings = [line for line in error_lines(res.stderr) if "stopword" in line]
    assert warnings == ["searchlib: warning: stopwords ignored: did, the"]


def test_a_10000_character_query_prints_a_handful_of_warnings(seed_index, runner):
    words = ["the", "(", "of", "korea", "xq*", ")", "a", "OR", "foo:bar", "and", "^2", "in"]
    query = " ".join(f"{words[i % len(words)]}{i}" if i % 5 == 0 else words[i % len(words)]
                     for i in range(3000))[:10_000]
    res = runner.invoke(cli, ["search", query, *idx_args(seed_index)])
    assert res.exit_code in (0, 1), res.stderr
    lines = error_lines(res.stderr)
    assert 1 <= len(lines) <= 5 and all(line.startswith("searchlib: warning:") for line in lines)
    assert re.fullmatch(r"searchlib: warning: … and \d+ more", lines[-1])


@pytest.mark.parametrize("query", [[""], ["   "], ["\t", " "], []])
def test_an_empty_query_is_a_usage_error(seed_index, runner, query):
    res = runner.invoke(cli, ["search", *query, *idx_args(seed_index)])
    assert res.exit_code == 2 and res.stdout == ""
    assert error_lines(res.stderr) == [
        "searchlib: error: empty query: give words to search for, e.g. searchlib search korea"]


def test_unknown_field_is_a_strict_error_and_a_lenient_warning(seed_index, runner):
    strict = runner.invoke(cli, ["search", "--strict", "korea foo:bar", *idx_args(seed_index)])
    assert strict.exit_code == 2
    lines = error_lines(strict.stderr)
    assert lines[0] == ("searchlib: error: unknown field 'foo' (fields: author, date, "
                        "language, source, text, title, url) (at position 6)")
    assert lines[2].index("^") - lines[1].index("korea") == 6
    lenient = runner.invoke(cli, ["search", "korea foo:bar", *idx_args(seed_index)])
    assert lenient.exit_code == 0
    assert "unknown field 'foo'" in lenient.stderr
    for text in ("korea 10:30", "korea http://x.org/a"):  # neither is a field
        res = runner.invoke(cli, ["search", "--strict", text, *idx_args(seed_index)])
        assert res.exit_code == 0 and "field" not in res.stderr, text


def test_typos_get_fuzzy_hits_and_did_you_mean(seed_index, runner):
    res = runner.invoke(cli, ["search", "artilery", "shels", *idx_args(seed_index)])
    assert res.exit_code == 0
    assert "~fuzzy" in res.stdout
    assert "did you mean: artillery shells" in res.stdout
    as_json = runner.invoke(cli, ["search", "artilery shels", "--json", *idx_args(seed_index)])
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert lines[0]["fuzzy"] is True
    assert lines[-1]["did_you_mean"] == "artillery shells"


def test_articles_and_and_and_explain(seed_index, runner):
    per_article = runner.invoke(cli, ["search", "korea", "--articles", *idx_args(seed_index)])
    assert per_article.exit_code == 0
    assert len(HIT_LINE.findall(per_article.stdout)) == 1
    assert FOOTER.search(per_article.stdout).groups() == ("1", "1", "article")
    either = FOOTER.search(runner.invoke(cli, ["search", "korea", "shells",
                                               *idx_args(seed_index)]).stdout)
    both = FOOTER.search(runner.invoke(cli, ["search", "korea", "shells", "--and",
                                             *idx_args(seed_index)]).stdout)
    assert int(both.group(2)) < int(either.group(2))
    explained = runner.invoke(cli, ["search", "artillery", "--explain", *idx_args(seed_index)])
    assert explained.exit_code == 0
    assert "BM25" in explained.stdout and "idf=" in explained.stdout
    assert "'artillery'" in explained.stdout


def test_lenient_parser_warnings_go_to_stderr(seed_index, runner):
    res = runner.invoke(cli, ["search", "(korea OR", *idx_args(seed_index)])
    assert res.exit_code == 0
    assert "parenthesis" in res.stderr and "warning" in res.stderr
    assert "parenthesis" not in res.stdout


def test_minus_word_needs_double_dash_and_says_so(seed_index, runner):
    res = runner.invoke(cli, ["search", "korea", "-russia", *idx_args(seed_index)])
    assert res.exit_code == 2 and "--" in res.stderr
    res = runner.invoke(cli, ["search", *idx_args(seed_index), "--", "korea", "-russia"])
    assert res.exit_code == 0
    assert re.search(r"\bRussia\b", res.stdout) is None  # ("Russian" is another word)


# -- exit codes and errors -------------------------------------------------------------------


def test_no_hits_exits_1(seed_index, runner):
    res = runner.invoke(cli, ["search", "zebra", "--no-fuzzy", *idx_args(seed_index)])
    assert res.exit_code == 1
    assert "no paragraph matches" in res.stdout


def test_strict_syntax_error_shows_a_caret_under_the_position(seed_index, runner):
    res = runner.invoke(cli, ["search", "--strict", "(a OR", *idx_args(seed_index)])
    assert res.exit_code == 2
    lines = error_lines(res.stderr)
    assert lines[0].startswith("searchlib: error:") and "parenthesis" in lines[0]
    query = "korea AND (russia OR"
    res = runner.invoke(cli, ["search", "--strict", query, *idx_args(seed_index)])
    assert res.exit_code == 2 and res.stdout == ""
    lines = error_lines(res.stderr)
    echoed = next(i for i, line in enumerate(lines) if line.strip() == query)
    start = lines[echoed].index(query)
    assert lines[echoed + 1].index("^") - start == query.index("(")


def test_not_an_index_folder_is_one_line_and_exit_2(tmp_path):
    junk = tmp_path / "photos"
    junk.mkdir()
    (junk / "cat.jpg").write_bytes(b"\xff\xd8")
    proc = run_module("search", "korea", "--index", str(junk))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("searchlib: error:")
    assert "not a searchlib index" in lines[0]


def test_explicit_missing_index_is_an_error_not_a_build(fresh_clone, runner):
    res = runner.invoke(cli, ["search", "korea", "--index", "elsewhere"])
    assert res.exit_code == 2
    assert "no index at elsewhere" in res.stderr
    assert not (fresh_clone / "elsewhere").exists()


def test_bad_option_values_exit_2(seed_index, runner):
    for k in ("abc", "0"):
        res = runner.invoke(cli, ["search", "korea", "-k", k, *idx_args(seed_index)])
        assert res.exit_code == 2 and "-k" in res.stderr
    assert runner.invoke(cli, ["search", "korea", "--color", "pink"]).exit_code == 2
    assert runner.invoke(cli, ["search"]).exit_code == 2


def test_exit_codes_end_to_end(seed_index):
    found = run_module("search", "artillery", *idx_args(seed_index))
    missing = run_module("search", "zebra", "--no-fuzzy", *idx_args(seed_index))
    bad = run_module("search", "korea", "-k", "abc", *idx_args(seed_index))
    assert (found.returncode, missing.returncode, bad.returncode) == (0, 1, 2)
    assert "artillery" in found.stdout
    assert all("Traceback" not in p.stderr for p in (found, missing, bad))


# -- colour ----------------------------------------------------------------------------------


@pytest.fixture
def fake_tty(monkeypatch):
    """stdout is a terminal as far as the colour decision is concerned."""
    monkeypatch.setattr("searchlib.cli.search_cmd.isatty", lambda stream: True)


def test_colour_follows_the_terminal_and_no_color(seed_index, runner, fake_tty):
    args = ["search", "korea", *idx_args(seed_index)]
    assert MATCH_PRE in runner.invoke(cli, args).stdout  # a terminal: colour
    assert "\x1b" not in runner.invoke(cli, args, env={"NO_COLOR": "1"}).stdout
    assert "\x1b" not in runner.invoke(cli, [*args, "--color", "auto"],
                                       env={"NO_COLOR": "yes"}).stdout
    assert "\x1b" not in runner.invoke(cli, [*args, "--color", "never"]).stdout
    assert MATCH_PRE in runner.invoke(cli, args, env={"NO_COLOR": ""}).stdout  # empty: unset
    # documented choice: an explicit --color always beats NO_COLOR
    assert MATCH_PRE in runner.invoke(cli, [*args, "--color", "always"],
                                      env={"NO_COLOR": "1"}).stdout


# -- index -----------------------------------------------------------------------------------


def test_index_skips_bad_files_with_one_warning_each(mixed_folder, tmp_path, runner):
    out = tmp_path / "X"
    res = runner.invoke(cli, ["index", str(mixed_folder), "--index", str(out)])
    assert res.exit_code == 0
    warnings = error_lines(res.stderr)
    assert len(warnings) == 3
    for name in ("blob.txt", "latin1.txt", "empty.txt"):
        assert sum(name in line for line in warnings) == 1
    assert [line.startswith("searchlib: warning: skipped ") for line in warnings] == [
        True, True, False]  # Latin-1 is read, with a warning naming the codec
    assert warnings[2].endswith("latin1.txt: not valid UTF-8 (byte 0xe9 at offset 3); "
                                "decoded as cp1252")
    assert "\r" not in res.stderr  # not a terminal: no progress line
    summary = error_lines(res.stdout)
    assert len(summary) == 1 and "3 articles" in summary[0] and "3 added" in summary[0]
    found = runner.invoke(cli, ["search", "cocoa", "--index", str(out), "--json"])
    assert found.exit_code == 0
    assert json.loads(found.stdout.splitlines()[0])["article"] == "cocoa.txt"
    assert runner.invoke(cli, ["search", "artillery", "--index", str(out)]).exit_code == 0


def test_index_is_incremental(mixed_folder, tmp_path, runner):
    out = str(tmp_path / "X")
    for bad in ("blob.txt", "latin1.txt", "empty.txt"):
        (mixed_folder / bad).unlink()
    runner.invoke(cli, ["index", str(mixed_folder), "--index", out])
    same = runner.invoke(cli, ["index", str(mixed_folder), "--index", out])
    assert "0 added, 0 changed, 0 removed, 2 unchanged" in same.stdout
    (mixed_folder / "cocoa.txt").write_text("Coffee harvest\n\nBrazil coffee crop falls.\n")
    changed = runner.invoke(cli, ["index", str(mixed_folder), "--index", out])
    assert "1 changed" in changed.stdout
    assert runner.invoke(cli, ["search", "cocoa", "--no-fuzzy", "--index", out]).exit_code == 1
    assert runner.invoke(cli, ["search", "coffee", "--index", out]).exit_code == 0


def test_index_progress_line_on_a_terminal_is_erased(mixed_folder, tmp_path, runner,
                                                     monkeypatch):
    monkeypatch.setattr("searchlib.cli.common.isatty", lambda stream: True)
    res = runner.invoke(cli, ["index", str(mixed_folder), "--index", str(tmp_path / "X")])
    assert res.exit_code == 0
    assert "indexing:   0%|" in res.stderr  # a bar of bytes (its total is the folder's size)
    screen = []  # what a terminal shows: each \r goes back to the line start
    for line in res.stderr.split("\n"):
        shown = ""
        for part in line.split("\r"):
            shown = part + shown[len(part):]
        screen.append(shown.rstrip())
    visible = [line for line in screen if line]
    assert len(visible) == 3 and all(line.startswith("searchlib: warning:") for line in visible)


def test_index_bar_shows_bytes_on_a_terminal_and_nothing_otherwise(tmp_path, runner,
                                                                   monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    lines = [json.dumps({"id": f"r{i}", "text": f"story number {i}"}) for i in range(200)]
    (docs / "feed.jsonl").write_text("\n".join(lines) + "\n")
    plain = runner.invoke(cli, ["index", str(docs), "--index", str(tmp_path / "A")])
    assert plain.exit_code == 0 and plain.stderr == ""  # not a terminal: no bar at all
    monkeypatch.setattr("searchlib.cli.common.isatty", lambda stream: True)
    shown = runner.invoke(cli, ["index", str(docs), "--index", str(tmp_path / "B")])
    assert shown.exit_code == 0
    size = (docs / "feed.jsonl").stat().st_size
    total = f"{size / 1024:.2f}k" if size < 10 * 1024 else f"{size / 1024:.1f}k"
    assert f"/{total}B [" in shown.stderr and "B/s" in shown.stderr  # bytes, with a rate
    assert shown.stderr.endswith("\r")  # and erased at the end


def test_index_errors_exit_2(mixed_folder, tmp_path, runner):
    out = str(tmp_path / "X")
    assert runner.invoke(cli, ["index", str(tmp_path / "nope"), "--index", out]).exit_code == 2
    runner.invoke(cli, ["index", str(mixed_folder), "--index", out])
    res = runner.invoke(cli, ["index", str(mixed_folder), "--index", out, "--stemmer", "porter"])
    assert res.exit_code == 2
    assert error_lines(res.stderr) == [error_lines(res.stderr)[0]]
    assert "--rebuild" in res.stderr
    rebuilt = runner.invoke(cli, ["index", str(mixed_folder), "--index", out, "--stemmer",
                                  "porter", "--rebuild"])
    assert rebuilt.exit_code == 0
    assert "porter" in runner.invoke(cli, ["stats", "--index", out]).stdout


def test_index_defaults_to_seeds_into_index(fresh_clone, runner):
    res = runner.invoke(cli, ["index"])
    assert res.exit_code == 0 and res.stdout.startswith("index/: 1 article, 13 paragraphs")


def _suggested(stderr: str) -> list[str]:
    """The command a `...; build one with: searchlib index ...` hint tells the user to run."""
    match = re.search(r"with: searchlib (index.*)$", stderr.strip())
    assert match, stderr
    return shlex.split(match.group(1))


@pytest.mark.parametrize("explicit", [False, True])
def test_the_no_index_hint_names_a_command_that_works_here(tmp_path, monkeypatch, runner,
                                                           explicit):
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    work = tmp_path / "empty"
    work.mkdir()
    monkeypatch.chdir(work)  # no seeds/ here
    where = ["--index", "news idx"] if explicit else []
    res = runner.invoke(cli, ["search", "korea", *where])
    assert res.exit_code == 2
    suggested = _suggested(res.stderr)
    bare = runner.invoke(cli, ["index", *where])  # the bare command cannot work here...
    assert bare.exit_code == 2 and "PATH" in bare.stderr
    assert "PATH..." in suggested  # ...so the hint does not suggest it
    command = [str(articles) if word == "PATH..." else word for word in suggested]
    assert command[0] == "index" and ("news idx" in command) == explicit
    assert runner.invoke(cli, command).exit_code == 0
    assert runner.invoke(cli, command).exit_code == 0
    assert runner.invoke(cli, ["search", "korea", *where]).exit_code == 0


def test_with_seeds_here_the_hint_is_the_bare_command(fresh_clone, runner):
    res = runner.invoke(cli, ["stats"])  # stats does not build on the fly
    assert res.exit_code == 2
    assert _suggested(res.stderr) == ["index"]
    assert runner.invoke(cli, ["index"]).exit_code == 0
    assert runner.invoke(cli, ["stats"]).exit_code == 0


# -- shell -----------------------------------------------------------------------------------


def test_shell_through_a_pipe(seed_index, runner):
    script = "artillery\n:k 3\nkorea\n:open 1\n:explain 1\n:bogus\n"
    res = runner.invoke(cli, ["shell", *idx_args(seed_index)], input=script)
    assert res.exit_code == 0
    out = res.stdout
    footers = list(FOOTER.finditer(out))
    assert len(footers) == 2
    korea_hits = HIT_LINE.findall(out[footers[0].end():footers[1].start()])
    assert 1 <= len(korea_hits) <= 3 and footers[1].group(1) == str(len(korea_hits))
    first = seed_index.search("korea", k=3).hits[0]
    title, paragraphs = seed_index.article(first.article_id)
    opened = out[footers[1].end():]
    assert re.search(rf"^>> ¶{first.paragraph} ", opened, re.M)
    assert len(re.findall(r"^>> ", opened, re.M)) == 1
    for para in paragraphs:
        assert para[:30] in opened
    assert "BM25" in opened and "'korea'" in opened
    assert "unknown command :bogus" in res.stderr and ":help" in res.stderr
    assert "3 hits per query" in res.stderr


def test_shell_commands_and_hints(seed_index, runner):
    script = ":help\n:open 1\nkorea\n:articles\nkorea\n:k zero\n:open 99\n:quit\nartillery\n"
    res = runner.invoke(cli, ["shell", *idx_args(seed_index)], input=script)
    assert res.exit_code == 0
    assert ":explain N" in res.stdout
    assert "search first" in res.stderr
    footers = FOOTER.findall(res.stdout)
    assert [f[2] for f in footers] == ["paragraph", "article"]  # nothing after :quit
    assert "usage: :k N" in res.stderr and "no hit 99: the last results have" in res.stderr


def test_shell_open_after_no_hits_says_there_is_no_such_hit(seed_index, runner):
    script = "zzzyx\n:open 9\n:explain 1\n:open\n"
    res = runner.invoke(cli, ["shell", *idx_args(seed_index)], input=script)
    assert res.exit_code == 0
    assert "no hit 9: the last search found nothing" in res.stderr
    assert "no hit 1: the last search found nothing" in res.stderr
    assert "search first" not in res.stderr
    assert "usage: :open N" in res.stderr


def test_pager_gets_colours_and_keeps_the_page_on_screen(tmp_path):
    from searchlib.cli.pager import LESS_DEFAULT, choose_pager

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("less", "more", "most"):
        (bin_dir / name).write_text("#!/bin/sh\ncat >/dev/null\n")
        (bin_dir / name).chmod(0o755)
    path = {"PATH": str(bin_dir)}
    pager = choose_pager(path)
    assert pager is not None and pager.argv == [str(bin_dir / "less")] and pager.color
    assert pager.env["LESS"] == LESS_DEFAULT and set("FRX") <= set(LESS_DEFAULT)
    for mine, added in (("-i", ["-R", "-X"]), ("-R", ["-X"]), ("FRX", []), ("-r -X", []),
                        ("--RAW-CONTROL-CHARS --no-init", []), ("-Pfoo -RX", []),
                        ("-j5 -S", ["-R", "-X"]), ("-R -+X", ["-X"])):
        pager = choose_pager({**path, "LESS": mine})
        assert pager is not None and pager.env["LESS"] == mine  # the user's own LESS is kept
        assert pager.argv[1:] == added, mine
    assert choose_pager({**path, "PAGER": "less -S"}).argv[1:] == ["-S"]
    assert choose_pager({**path, "PAGER": "cat"}) is None
    assert choose_pager({**path, "PAGER": ""}) is None
    assert choose_pager({"PATH": str(tmp_path)}) is None  # no pager at all: print
    assert choose_pager({**path, "PAGER": "most"}).color is False  # unknown: sent plain
    assert choose_pager(path, start_line=40).argv[1:] == ["+40"]
    assert choose_pager({**path, "PAGER": "more"}, start_line=40).argv[1:] == ["+40"]
    assert choose_pager({**path, "PAGER": "most"}, start_line=40).argv[1:] == []


def test_shell_completion_offers_index_words(seed_index):
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    from searchlib.cli.shell import completer

    comp = completer(seed_index)
    words = [c.text for c in comp.get_completions(Document("north ko"), CompleteEvent())]
    assert "korea" in words
    commands = [c.text for c in comp.get_completions(Document(":ex"), CompleteEvent())]
    assert commands == [":explain"]


def test_shell_prompt_session_keeps_history_outside_the_repo(seed_index, tmp_path, monkeypatch,
                                                             capsys):
    try:
        from prompt_toolkit.input import create_pipe_input
        from prompt_toolkit.output import DummyOutput
    except ImportError:  # pragma: no cover
        pytest.skip("prompt_toolkit pipe input not available")
    from searchlib.cli.shell import Shell, run_interactive

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    try:
        pipe = create_pipe_input()
    except (OSError, NotImplementedError) as exc:  # pragma: no cover
        pytest.skip(f"no pipe input here: {exc}")
    with pipe as inp:
        inp.send_text("artillery\r")
        inp.send_text("half a line\x03")  # Ctrl-C drops the line, the shell goes on
        inp.send_text("\x04")
        run_interactive(Shell(seed_index, Style()), input=inp, output=DummyOutput())
    out = capsys.readouterr().out
    assert "1 of 1 paragraph" in out
    history = (tmp_path / "data" / "searchlib" / "history").read_text()
    assert "artillery" in history and "half a line" not in history


def _pty_session(args: list[str], cwd: Path, keys: list[tuple[bytes, bytes]],
                 env: dict[str, str | None]) -> tuple[int, bytes]:
    """Run `python -m searchlib ARGS` on a pseudo-terminal; send each key string once the
    output contains its trigger. Deadlines only keep a broken run from hanging the suite."""
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 200, 120, 0, 0))
    environ: dict[str, str | None] = {
        k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "SEARCHLIB_INDEX")}
    environ.update({"TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "PAGER": "cat", **env})
    environ = {k: v for k, v in environ.items() if v is not None}  # None: unset it
    proc = subprocess.Popen([sys.executable, "-m", "searchlib", *args], stdin=slave,
                            stdout=slave, stderr=slave, cwd=cwd, env=environ, close_fds=True)
    os.close(slave)
    buf, seen = b"", 0
    deadline = time.monotonic() + 120

    def pump() -> bool:
        nonlocal buf
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return False
            buf += chunk
            return bool(chunk)
        return True

    try:
        for trigger, key in keys:
            while trigger not in buf[seen:]:
                if time.monotonic() > deadline or not pump():
                    pytest.fail(f"no {trigger!r} in the terminal output: {buf[-500:]!r}")
            seen = buf.index(trigger, seen) + len(trigger)
            os.write(master, key)
        while proc.poll() is None and time.monotonic() < deadline:
            pump()
        while pump() and select.select([master], [], [], 0)[0]:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
    return proc.returncode, buf


@pytest.mark.skipif(not sys.platform.startswith(("linux", "darwin")), reason="needs a pty")
def test_shell_on_a_real_terminal(seed_index, tmp_path):
    code, screen = _pty_session(
        ["shell", *idx_args(seed_index)], tmp_path,
        [(b"search>", b"artillery\r"), (b"paragraph (", b""), (b"search>", b"\x04")],
        {"XDG_DATA_HOME": str(tmp_path / "data")},
    )
    assert code == 0
    assert b"\xc2\xb62" in screen  # ¶2, the artillery paragraph
    assert b"Traceback" not in screen
    assert "artillery" in (tmp_path / "data" / "searchlib" / "history").read_text()


@pytest.mark.skipif(not sys.platform.startswith(("linux", "darwin")), reason="needs a pty")
def test_shell_pages_long_answers_in_colour_and_opens_at_the_hit(seed_index, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "pager.log"
    fake_less = bin_dir / "less"  # records how it was run and what it was given
    fake_less.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        "text = sys.stdin.read()\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps([sys.argv[1:], os.environ.get('LESS'), text]) + '\\n')\n"
        "print('<paged>')\n")
    fake_less.chmod(0o755)
    code, screen = _pty_session(
        ["shell", *idx_args(seed_index)], tmp_path,
        [(b"search>", b"korea\r"), (b"<paged>", b""), (b"search>", b":open 3\r"),
         (b"<paged>", b""), (b"search>", b"\x04")],
        {"PAGER": None, "LESS": None, "LINES": "20", "COLUMNS": "100",
         "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
         "XDG_DATA_HOME": str(tmp_path / "data")},
    )
    assert code == 0 and b"Traceback" not in screen
    (results, opened) = [json.loads(line) for line in log.read_text().splitlines()]
    args, less, text = results
    assert less == "FRX" and args == []  # colours shown, the page stays after q
    assert MATCH_PRE in text  # ...and the colours are there to show
    args, less, text = opened
    hit = seed_index.search("korea").hits[2]
    lines = click.unstyle(text).splitlines()
    marked = next(i for i, line in enumerate(lines) if line.startswith(">>"))
    assert lines[marked].startswith(f">> ¶{hit.paragraph} ") and marked > 1
    assert args == [f"+{marked}"]  # 1-based: the line just above the hit paragraph


@pytest.mark.skipif(not sys.platform.startswith(("linux", "darwin")), reason="needs a pty")
def test_no_color_on_a_real_terminal(seed_index, tmp_path):
    args = ["search", "korea", "-k", "1", *idx_args(seed_index)]
    _, coloured = _pty_session(args, tmp_path, [], {})
    _, plain = _pty_session(args, tmp_path, [], {"NO_COLOR": "1"})
    assert MATCH_PRE.encode() in coloured
    assert b"Korea" in plain and b"\x1b" not in plain


# -- stats, check, help, version -------------------------------------------------------------


def test_stats(seed_index, runner):
    res = runner.invoke(cli, ["stats", *idx_args(seed_index)])
    assert res.exit_code == 0
    out = res.stdout
    assert re.search(r"^articles\s+1$", out, re.M)
    assert re.search(r"^paragraphs\s+13$", out, re.M)
    assert re.search(r"^vocabulary\s+\d+ words$", out, re.M)
    assert re.search(r"^stemmer\s+snowball$", out, re.M)
    assert re.search(r"^\s+1\s+north\s+11$", out, re.M)


def test_check_ok_and_damaged(seed_index, tmp_path, runner):
    ok = runner.invoke(cli, ["check", *idx_args(seed_index)])
    assert ok.exit_code == 0 and ok.stdout.startswith("OK: ")
    damaged = tmp_path / "damaged"
    shutil.copytree(seed_index.root, damaged)
    store = next(damaged.glob("segments/*/store.bin"))
    store.write_bytes(store.read_bytes()[:100])
    res = runner.invoke(cli, ["check", "--index", str(damaged)])
    assert res.exit_code == 2 and res.stdout == ""
    lines = error_lines(res.stderr)
    assert len(lines) == 1 and "store.bin" in lines[0]
    flipped = tmp_path / "flipped"
    shutil.copytree(seed_index.root, flipped)
    store = next(flipped.glob("segments/*/store.bin"))
    data = bytearray(store.read_bytes())
    data[10] ^= 0x20
    store.write_bytes(bytes(data))
    proc = run_module("check", "--index", str(flipped))
    assert proc.returncode == 2 and "store.bin" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_check_without_an_index(tmp_path, runner):
    res = runner.invoke(cli, ["check", "--index", str(tmp_path / "none")])
    assert res.exit_code == 2 and "no index" in res.stderr


@pytest.mark.parametrize("command", ["index", "search", "shell", "stats", "check"])
def test_every_command_has_help_with_an_example(command, runner):
    res = runner.invoke(cli, [command, "--help"])
    assert res.exit_code == 0
    assert "Example" in res.stdout and f"searchlib {command}" in res.stdout


def test_version(runner):
    assert runner.invoke(cli, ["--version"]).stdout.strip() == f"searchlib {searchlib.__version__}"
    proc = run_module("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == "searchlib 0.1.0"


def test_environment_variable_names_the_index(seed_index, runner):
    res = runner.invoke(cli, ["stats"], env={"SEARCHLIB_INDEX": str(seed_index.root)})
    assert res.exit_code == 0 and re.search(r"^paragraphs\s+13$", res.stdout, re.M)


@pytest.mark.parametrize("args, option", [
    (["index", "--memory-budget", "-1"], "'--memory-budget'"),
    (["index", "--jobs", "0"], "'--jobs'"),
    (["search", "-k", "abc", "oil"], "'-k': 'abc' is not a valid whole number"),
    (["index", "/nonexistent/feed.jsonl"], "/nonexistent/feed.jsonl"),
    (["frobnicate"], "'frobnicate'"),
    (["--bogus"], "'--bogus'"),
])
def test_a_bad_option_or_command_is_one_error_line_naming_the_help(args, option):
    """click's own usage errors (bad values, missing paths, unknown commands) are one line
    like every other error, not its four-line usage banner."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "searchlib", *args], capture_output=True,
                         text=True)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("searchlib: error: ")
    assert option in lines[0] and lines[0].endswith("--help)")
