"""Metadata as the corpus reader gives it: dates, sources, authors and keyword fields from
JSON records, Markdown front matter and HTML <meta> tags, and one warning per file for what
could not be used."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import searchlib
from searchlib.corpus import Article, find_sources, read_source
from searchlib.metadata import MAX_VALUE_CHARS, fold

from .conftest import need_datasets


def load(*paths: Path) -> tuple[list[Article], list[str]]:
    warnings: list[str] = []
    articles = [a for s in find_sources(paths, warnings.append)
                for a in read_source(s, warnings.append)]
    return articles, warnings


def records(path: Path, *items: dict) -> Path:
    path.write_text("\n".join(json.dumps(item) for item in items) + "\n", encoding="utf-8")
    return path


def utc(*parts: int) -> int:
    return int(dt.datetime(*parts, tzinfo=dt.timezone.utc).timestamp())


# --------------------------------------------------------------------------- JSON records


def test_json_record_fields_become_metadata(tmp_path: Path) -> None:
    path = records(tmp_path / "feed.jsonl", {
        "id": "a1", "title": "Oil", "text": "Crude rose.", "date": "1987-03-03T10:00:00",
        "source": " Reuters ", "author": "Jane  Doe", "authors": ["Bob Roe", "Jane Doe"],
        "url": "https://example.com/a1", "language": "en", "Topics": ["crude", "  opec "],
        "dateline_place": "NEW YORK", "wordcount": 3, "draft": False, "extra": None,
    })
    (article,), warnings = load(path)
    assert warnings == []
    meta = article.meta
    assert (meta.date, meta.date_text) == (utc(1987, 3, 3, 10), "1987-03-03T10:00:00")
    assert meta.datetime == dt.datetime(1987, 3, 3, 10, tzinfo=dt.timezone.utc)
    assert (meta.source, meta.url, meta.language) == ("Reuters", "https://example.com/a1", "en")
    assert meta.authors == ("Jane Doe", "Bob Roe")  # whitespace tidied, duplicates dropped
    assert meta.keywords == {"topics": ("crude", "opec"), "dateline_place": ("NEW YORK",)}
    assert article.paragraphs == ("Crude rose.",) and article.title == "Oil"


def test_the_articles_own_fields_are_not_metadata(tmp_path: Path) -> None:
    path = records(tmp_path / "feed.jsonl", {
        "_id": "x", "title": "T", "text": "Body.", "paragraphs": None, "ID": "y", "Text": "z",
        "tags": ["a"],
    })
    (article,), warnings = load(path)
    assert warnings == []
    assert article.meta.keywords == {"tags": ("a",)}


@pytest.mark.parametrize(("written", "expected"), [
    ("1987-03-03", utc(1987, 3, 3)),
    ("1987-03-03T10:00:00+02:00", utc(1987, 3, 3, 8)),  # converted to UTC
    ("1987-03-03T10:00:00Z", utc(1987, 3, 3, 10)),
    ("1987-03-03 10:00", utc(1987, 3, 3, 10)),  # no zone: UTC
    ("Tue, 3 Mar 1987 10:00:00 EST", utc(1987, 3, 3, 15)),  # RFC 2822
    ("Tue, 03 Mar 1987 10:00:00 -0500", utc(1987, 3, 3, 15)),
    ("March 3, 1987", utc(1987, 3, 3)),
    ("3 March 1987 5pm", utc(1987, 3, 3, 17)),
    ("1987-03", utc(1987, 3, 1)),  # a month: its first day
])
def test_date_forms(tmp_path: Path, written: str, expected: int) -> None:
    path = records(tmp_path / "feed.jsonl", {"id": "d", "text": "x", "date": written})
    (article,), warnings = load(path)
    assert warnings == []
    assert (article.meta.date, article.meta.date_text) == (expected, written)


@pytest.mark.parametrize(("written", "reason"), [
    ("garbage", "is not a date"),
    ("12:30", "is not a date"),  # no year: not silently today's date
    ("March 3", "is not a date"),
    ("1066-10-14", "is out of range"),
    ("2301-01-01T00:00:00Z", "is out of range"),
    ("3 Mar 1987 10:00 XYZ", "unknown time zone 'XYZ'"),  # not silently UTC
])
def test_an_unusable_date_is_a_warning_and_the_article_stays(tmp_path: Path, written: str,
                                                             reason: str) -> None:
    path = records(tmp_path / "feed.jsonl", {"id": "d7", "text": "Cocoa rose.", "date": written,
                                             "topics": ["cocoa"]})
    (article,), warnings = load(path)
    assert article.meta.date is None and article.meta.date_text is None
    assert article.meta.keywords == {"topics": ("cocoa",)}  # the rest is kept
    assert article.paragraphs == ("Cocoa rose.",)
    assert len(warnings) == 1
    assert warnings[0].startswith("feed.jsonl: metadata ignored in 1 record: d7 (date ")
    assert reason in warnings[0]


def test_metadata_warnings_are_one_per_file_naming_the_records(tmp_path: Path) -> None:
    items = [{"id": f"r{n}", "text": f"story {n}", "date": "soon", "topics": ["oil", n]}
             for n in range(50)]
    articles, warnings = load(records(tmp_path / "feed.jsonl", *items))
    assert len(articles) == 50
    assert all(a.meta.keywords == {"topics": ("oil",)} for a in articles)  # the strings kept
    assert warnings == [
        "feed.jsonl: metadata ignored in 50 records: r0 (date 'soon' is not a date, topics "
        "holds a number); r1 (date 'soon' is not a date, topics holds a number); r2 (date "
        "'soon' is not a date, topics holds a number); and 47 more; their text is indexed"
    ]


def test_objects_wrong_types_and_long_values(tmp_path: Path) -> None:
    long = "x" * (MAX_VALUE_CHARS + 1)
    path = tmp_path / "list.json"
    path.write_text(json.dumps([{
        "id": "n1", "text": "Body.", "source": ["a", "b"], "date": 19870303, "meta": {"k": "v"},
        "tags": ["kept", long], "url": "https://ok",
    }]), encoding="utf-8")
    (article,), warnings = load(path)
    assert article.paragraphs == ("Body.",)
    assert article.meta.url == "https://ok"
    assert article.meta.keywords == {"tags": ("kept",)}
    assert article.meta.source is None and article.meta.date is None
    assert warnings == [
        "list.json: metadata ignored in 1 record: n1 (source is a list, date is a number, meta "
        "is an object, tags has a value over 1,024 characters); their text is indexed"
    ]


def test_a_field_name_a_query_could_not_use_is_a_warning(tmp_path: Path) -> None:
    path = records(tmp_path / "feed.jsonl", {"id": "q", "text": "Body.", "Related Links": "x",
                                             "dc.subject": "oil"})
    (article,), warnings = load(path)
    assert article.meta.keywords == {"dc.subject": ("oil",)}
    assert warnings == ["feed.jsonl: metadata ignored in 1 record: q (field 'Related Links' has "
                        "an unusable name); their text is indexed"]


def test_a_record_with_many_bad_fields_is_one_short_warning(tmp_path: Path) -> None:
    record = {"id": "m", "text": "Body."} | {f"f{n}": {"nested": n} for n in range(30)}
    (article,), warnings = load(records(tmp_path / "feed.jsonl", record))
    assert article.paragraphs == ("Body.",)
    assert warnings == ["feed.jsonl: metadata ignored in 1 record: m (f0 is an object, f1 is an "
                        "object, f2 is an object, f3 is an object, and 26 more); their text "
                        "is indexed"]


def test_invalid_characters_in_metadata_are_replaced(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text('{"id": "s", "text": "ok", "source": "Re\\ud800uters"}\n', encoding="utf-8")
    (article,), warnings = load(path)
    assert article.meta.source == "Re\ufffduters"
    assert len(warnings) == 1 and "U+FFFD" in warnings[0]


def test_a_record_with_bad_metadata_is_indexed_and_found(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    records(data / "feed.jsonl",
            {"id": "bad", "text": "Zeppelins landed in Bahia.", "date": "not a date",
             "topics": [1, {"x": 2}], "source": {"name": "AP"}},
            {"id": "good", "text": "Cocoa prices rose.", "date": "1987-03-03"})
    warnings: list[str] = []
    idx = searchlib.Index.build([data], tmp_path / "idx", warn=warnings.append)
    assert [hit.article_id for hit in idx.search("zeppelins").hits] == ["bad"]
    assert len(warnings) == 1 and "bad (" in warnings[0]


def test_fold_compares_values_case_insensitively() -> None:
    assert fold("REUTERS") == fold("Reuters") == "reuters"
    assert fold("Straße") == fold("STRASSE")


# --------------------------------------------------------------------------- Markdown


FRONT = """---
title: "Oil prices rise"
date: 1987-03-03 10:00:00+02:00
source: Reuters
author: Jane Doe
url: https://example.com/oil
language: en
tags: [crude, OPEC]
categories:
  - energy
draft: true
---
Zeppelin-free body text.

Second paragraph.
"""


def test_markdown_front_matter_is_metadata(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(FRONT)
    (article,), warnings = load(tmp_path / "a.md")
    assert warnings == []
    assert article.title == "Oil prices rise"
    assert article.paragraphs == ("Zeppelin-free body text.", "Second paragraph.")
    meta = article.meta
    assert meta.date == utc(1987, 3, 3, 8)
    assert (meta.source, meta.authors, meta.url, meta.language) == (
        "Reuters", ("Jane Doe",), "https://example.com/oil", "en")
    assert meta.keywords == {"tags": ("crude", "OPEC"), "categories": ("energy",)}


def test_front_matter_is_not_indexed_as_text(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.md").write_text(FRONT.replace("crude", "ornithopter"))
    idx = searchlib.Index.build([data], tmp_path / "idx")
    assert idx.search("ornithopter").total == 0
    assert idx.search("reuters").total == 0
    assert idx.search("second paragraph").hits[0].paragraph == 2


def test_bad_yaml_is_a_warning_and_the_file_is_read_without_metadata(tmp_path: Path) -> None:
    path = tmp_path / "b.md"
    path.write_text("---\ntitle: Still the title\ntags: [unclosed\n---\nBody.\n")
    (article,), warnings = load(path)
    assert (article.title, article.paragraphs) == ("Still the title", ("Body.",))
    assert not article.meta
    assert warnings == ["b.md: metadata ignored: front matter is not valid YAML (line 4: did "
                        "not find expected ',' or ']'); the text is indexed"]


def test_a_bad_front_matter_date_costs_only_the_date(tmp_path: Path) -> None:
    path = tmp_path / "c.md"
    path.write_text("---\ndate: 2024-13-45\ntags: [kept]\n---\n# Title\n\nBody.\n")
    (article,), warnings = load(path)
    assert article.meta.date is None
    assert article.meta.keywords == {"tags": ("kept",)}
    assert warnings == ["c.md: metadata ignored: date '2024-13-45' is not a date; "
                        "the text is indexed"]


def test_front_matter_that_is_not_fields(tmp_path: Path) -> None:
    path = tmp_path / "d.md"
    path.write_text("---\n- just\n- a list\n---\nBody.\n")
    (article,), warnings = load(path)
    assert article.paragraphs == ("Body.",) and not article.meta
    assert warnings == ["d.md: metadata ignored: front matter holds no 'name: value' fields; "
                        "the text is indexed"]


@pytest.mark.parametrize("line", ["count: !!int many", "flag: !!bool maybe",
                                  "run: !!python/name:os.system", "x: \x01"])
def test_odd_yaml_tags_cost_the_metadata_not_the_file(tmp_path: Path, line: str) -> None:
    path = tmp_path / "e.md"
    path.write_text(f"---\ntitle: Kept\n{line}\n---\nBody.\n")
    (article,), warnings = load(path)
    assert (article.title, article.paragraphs) == ("Kept", ("Body.",)) and not article.meta
    assert len(warnings) == 1
    assert warnings[0].startswith("e.md: metadata ignored: front matter is not valid YAML")


# --------------------------------------------------------------------------- HTML and text


def test_html_meta_tags(tmp_path: Path) -> None:
    path = tmp_path / "p.html"
    path.write_text(
        '<!doctype html><html lang="en-GB"><head><title>Page</title>'
        '<meta property="article:published_time" content="2024-03-01T10:00:00+01:00">'
        '<meta property="og:site_name" content="The Paper">'
        '<meta name="author" content="A. Writer"><meta name="author" content="B. Writer">'
        '<meta property="og:url" content="https://example.com/p">'
        '<meta property="article:tag" content="Politics">'
        '<meta property="article:tag" content="EU"></head>'
        "<body><p>Hello world.</p></body></html>")
    (article,), warnings = load(path)
    assert warnings == []
    assert (article.title, article.paragraphs) == ("Page", ("Hello world.",))
    meta = article.meta
    assert (meta.date, meta.date_text) == (utc(2024, 3, 1, 9), "2024-03-01T10:00:00+01:00")
    assert (meta.source, meta.authors, meta.url, meta.language) == (
        "The Paper", ("A. Writer", "B. Writer"), "https://example.com/p", "en-GB")
    assert meta.keywords == {"tags": ("Politics", "EU")}


@pytest.mark.parametrize("date_tag,source_tag", [
    ('<meta name="date" content="2024-03-20">', '<meta name="source" content="Wire">'),
    ('<meta name="DC.date.issued" content="2024-03-20">',
     '<meta name="DC.publisher" content="Wire">'),
    ('<meta itemprop="datePublished" content="2024-03-20">',
     '<meta name="publisher" content="Wire">'),
])
def test_html_common_date_and_source_tags(tmp_path: Path, date_tag: str, source_tag: str) -> None:
    """Plain, Dublin Core and schema.org names are as common on news pages as Open Graph."""
    path = tmp_path / "p.html"
    path.write_text(f'<html><head>{date_tag}{source_tag}'
                    '<meta name="news_keywords" content="oil, OPEC ,prices"></head>'
                    '<body><p>Text.</p></body></html>')
    (article,), warnings = load(path)
    assert warnings == []
    assert (article.meta.date, article.meta.source) == (utc(2024, 3, 20), "Wire")
    assert article.meta.keywords == {"tags": ("oil", "OPEC", "prices")}


def test_html_bad_date_is_one_warning(tmp_path: Path) -> None:
    path = tmp_path / "p.html"
    path.write_text('<html><meta property="article:published_time" content="yesterday">'
                    '<meta property="og:site_name" content="Daily"><p>Text.</p></html>')
    (article,), warnings = load(path)
    assert article.meta.source == "Daily" and article.meta.date is None
    assert warnings == ["p.html: metadata ignored: date 'yesterday' is not a date; "
                        "the text is indexed"]


def test_text_files_have_no_metadata(tmp_path: Path) -> None:
    path = tmp_path / "1987-03-03-oil.txt"
    path.write_text("date: 1987-03-03\n\nsource: Reuters\n")
    os.utime(path, (541728000, 541728000))
    (article,), warnings = load(path)
    assert warnings == [] and not article.meta and article.meta.date is None


# --------------------------------------------------------------------------- Reuters


def test_reuters_dates_sources_and_topics() -> None:
    path = need_datasets() / "reuters21578" / "corpus.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    articles, warnings = load(path)
    assert warnings == []
    by_id = {a.id: a for a in articles}
    first = by_id["1"].meta  # BAHIA COCOA REVIEW
    assert first.datetime == dt.datetime(1987, 2, 26, 15, 1, 1, tzinfo=dt.timezone.utc)
    assert first.source == "Reuters"
    assert first.keywords["topics"] == ("cocoa",)
    assert first.keywords["places"] == ("el-salvador", "usa", "uruguay")
    assert "people" not in first.keywords  # [] in the file: no values
    for missing in ("15370", "17192"):  # the two stories without a date (see its README)
        assert by_id[missing].meta.date is None
    raw = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            raw[record["id"]] = record
    assert len(raw) == len(articles)
    for some_id in ("2", "5000", "10279", "21578"):
        record, meta = raw[some_id], by_id[some_id].meta
        when = dt.datetime.fromisoformat(record["date"]).replace(tzinfo=dt.timezone.utc)
        assert meta.datetime == when
        assert meta.source == record["source"]
        assert meta.keywords.get("topics", ()) == tuple(record["topics"])
    dated = sum(1 for a in articles if a.meta.date is not None)
    assert dated == sum(1 for r in raw.values() if "date" in r) == len(raw) - 2


# --------------------------------------------------------------------------- import cost


def test_import_searchlib_loads_neither_yaml_nor_dateutil(tmp_path: Path) -> None:
    """Both cost tens of milliseconds; they load only when a file needs them."""
    (tmp_path / "a.jsonl").write_text('{"id": "1", "text": "x", "date": "1987-03-03"}\n')
    code = (
        "import sys, searchlib\n"
        "from searchlib.corpus import find_sources, read_source\n"
        f"for s in find_sources([{str(tmp_path)!r}], print): read_source(s, print)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'yaml', 'dateutil'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
