"""Metadata filters, date sort and facets on small indexes: every query form, the library
arguments, bad input, and the columns surviving flushes, merges, deletions and reopening."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import searchlib
from searchlib.cli import cli
from searchlib.errors import IncompatibleIndex, InvalidArgument, QuerySyntaxError
from searchlib.index.storage import MANIFEST


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


STORIES = [
    {"id": "a", "title": "Oil prices", "text": "Oil prices rose in early March.",
     "date": "1987-03-02T10:00:00", "source": "Reuters", "topics": ["crude", "ship"],
     "author": "Jane Doe"},
    {"id": "b", "title": "Grain harvest", "text": "Oil seed and grain harvest.",
     "date": "1987-03-20", "source": "AP", "topics": ["grain"], "author": "John Roe"},
    {"id": "c", "title": "Crude output", "text": "Oil output fell in April.",
     "date": "1987-04-05", "source": "reuters", "topics": ["Crude"]},
    {"id": "d", "title": "Cocoa", "text": "Cocoa exports and oil.",
     "date": "1986-12-31T23:59:59", "source": "Reuters", "topics": ["cocoa"]},
    {"id": "e", "title": "Undated oil", "text": "Oil with no date at all.",
     "source": "AP", "topics": ["crude"]},
]


def write(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> searchlib.Index:
    root = tmp_path_factory.mktemp("filters")
    return searchlib.Index.build([write(root / "news.jsonl", STORIES)], root / "index")


def ids(res: searchlib.SearchResults) -> set[str]:
    return {h.article_id for h in res.hits}


@pytest.mark.parametrize(("query", "expected"), [
    ("oil source:reuters", {"a", "c", "d"}),
    ("oil source:REUTERS", {"a", "c", "d"}),  # values match case-insensitively
    ("oil topics:crude", {"a", "c", "e"}),
    ('oil author:"Jane Doe"', {"a"}),
    ("oil author:jane", set()),  # exact values, not words
    ("oil date:1987-03", {"a", "b"}),
    ("oil date:1987", {"a", "b", "c"}),
    ("oil date:1987-03-01..1987-03-15", {"a"}),
    ("oil date:1987-03-20..", {"b", "c"}),
    ("oil date:>=1987-03-20", {"b", "c"}),
    ("oil date:>1987-03", {"c"}),
    ("oil date:<1987-03", {"d"}),
    ("oil date:<=1986-12-31", {"d"}),
    ("oil AND NOT source:reuters", {"b", "e"}),
    ("oil -topics:crude", {"b", "d"}),
    ("oil (topics:grain OR topics:cocoa)", {"b", "d"}),
    ("oil topics:(grain OR cocoa)", {"b", "d"}),
    ("topics:crude AND source:ap", {"e"}),
    ("cocoa OR topics:grain", {"b", "d"}),  # an explicit OR: the filter is an alternative
])
def test_filter_query_forms(index: searchlib.Index, query: str, expected: set[str]) -> None:
    for strict in (False, True):
        res = index.search(query, k=20, strict=strict)
        assert ids(res) == expected, (query, strict)
        assert not res.warnings


def test_a_filter_scores_nothing(index: searchlib.Index) -> None:
    plain = {h.article_id: h.score for h in index.search("oil", k=20).hits}
    for hit in index.search("oil source:reuters", k=20).hits:
        assert hit.score == pytest.approx(plain[hit.article_id])


def test_a_filter_alone_lists_articles_newest_first(index: searchlib.Index) -> None:
    res = index.search("source:reuters")
    assert [h.article_id for h in res.hits] == ["c", "a", "d"]
    assert res.total == 3
    assert [h.article_id for h in index.search("topics:crude", sort="date").hits] == [
        "a", "c", "e"]  # oldest first; the undated one last


def test_sort_by_date_is_exact_and_one_hit_per_article(index: searchlib.Index) -> None:
    res = index.search("oil", k=2, sort="-date")
    assert [h.article_id for h in res.hits] == ["c", "b"]
    assert res.total == 5  # articles
    dated = [h.date for h in index.search("oil", k=10, sort="-date").hits]
    assert dated[:4] == sorted(dated[:4], reverse=True) and dated[4] is None


def test_since_until_where_and_hit_metadata(index: searchlib.Index) -> None:
    res = index.search("oil", since="1987-03", until="1987-03", k=10)
    assert ids(res) == {"a", "b"}
    assert ids(index.search("oil", until="1987-03-02")) == {"a", "d"}  # until is inclusive
    assert ids(index.search("oil", where={"topics": ["grain", "COCOA"]})) == {"b", "d"}
    assert ids(index.search("oil", where={"topics": "crude", "source": "ap"})) == {"e"}
    hit = next(h for h in index.search("oil", k=10).hits if h.article_id == "a")
    assert hit.date is not None and hit.date.isoformat() == "1987-03-02T10:00:00+00:00"
    assert hit.meta["source"] == ["Reuters"] and hit.meta["author"] == ["Jane Doe"]
    assert sorted(hit.meta["topics"]) == ["crude", "ship"]


def test_facets_count_matching_articles(index: searchlib.Index) -> None:
    res = index.search("oil", facets=["topics", "source", "date:month"])
    topics = dict(res.facets["topics"])
    assert topics["crude"] + topics.get("Crude", 0) == 3 and topics["grain"] == 1
    assert sum(dict(res.facets["source"]).values()) == 5  # one source per article
    assert dict(res.facets["date:month"]) == {"1987-03": 2, "1987-04": 1, "1986-12": 1}
    filtered = index.search("oil source:ap", facets="topics")
    assert dict(filtered.facets["topics"]) == {"grain": 1, "crude": 1}
    assert not any("facet" in w for w in res.warnings + filtered.warnings)


def test_a_facet_on_a_field_no_article_has_says_so(index: searchlib.Index) -> None:
    """As a filter on such a field warns, an empty facet says why instead of '(none)' alone."""
    res = index.search("oil", facets=["bogus", "topics"])
    assert res.facets["bogus"] == [] and res.facets["topics"]
    assert [w for w in res.warnings if "facet" in w] == [
        "no article has a 'bogus' field: its facet counts nothing"]


def test_unknown_fields_and_fields_no_article_has(index: searchlib.Index) -> None:
    res = index.search("oil colour:red")
    assert any("unknown field 'colour'" in w for w in res.warnings)
    with pytest.raises(QuerySyntaxError) as err:
        index.search("oil colour:red", strict=True)
    assert err.value.position == 4
    res = index.search("oil language:en")  # a field the format knows, but no article has
    assert res.hits == [] and any("no article has a 'language' field" in w for w in res.warnings)
    assert index.search("oil topics:nosuchtopic").hits == []


@pytest.mark.parametrize("query", ["oil date:1987-13", "oil date:3000", "oil date:..",
                                   "oil date:>=soon", "oil date:1987-04..1987-03"])
def test_bad_dates_in_a_query(index: searchlib.Index, query: str) -> None:
    res = index.search(query)
    assert res.hits == [] and any("date" in w for w in res.warnings)  # never widened
    with pytest.raises(QuerySyntaxError):
        index.search(query, strict=True)


def test_a_backwards_date_range_says_so(index: searchlib.Index) -> None:
    """As --since after --until does: an empty answer with no word of why looks like no news."""
    res = index.search("oil date:1987-04..1987-03")
    assert list(res.warnings) == ["date '1987-04..1987-03' runs backwards (1987-04 is after "
                                  "1987-03) at 4: matches nothing"]
    assert not index.search("oil date:1987-03..1987-03").warnings  # one month: fine


@pytest.mark.parametrize("kwargs", [
    {"since": "1987-13-01"}, {"until": "year 3000"}, {"since": "3000-01-01"},
    {"since": "1987-04", "until": "1987-03"}, {"since": 1.5},
    {"where": {"title": ["oil"]}}, {"where": {"text": "oil"}}, {"where": {"topics": [3]}},
    {"where": ["topics"]}, {"where": {"date": "1987-04..1987-03"}},
    {"sort": "newest"}, {"facets": ["date:week"]}, {"facets": ["title"]},
])
def test_bad_metadata_arguments_are_one_line_errors(index: searchlib.Index, kwargs) -> None:
    with pytest.raises(InvalidArgument) as err:
        index.search("oil", **kwargs)
    assert "\n" not in str(err.value)


def test_the_fuzzy_fallback_never_widens_a_filter(index: searchlib.Index) -> None:
    res = index.search("oill source:ap")  # a typo: the fallback runs
    assert res.fuzzy and ids(res) == {"b", "e"}
    assert ids(index.search("oill", where={"source": "ap"})) == {"b", "e"}


def test_metadata_survives_merges_deletions_and_reopening(tmp_path: Path) -> None:
    root = tmp_path / "index"
    tmp_path = tmp_path / "news"
    tmp_path.mkdir()
    first = write(tmp_path / "first.jsonl", STORIES[:3])
    second = write(tmp_path / "second.jsonl", STORIES[3:])
    searchlib.Index.build([tmp_path], root)
    write(tmp_path / "other.jsonl", [{"id": "f", "title": "Late", "text": "Oil late.",
                                      "date": "1988-01-01", "source": "UPI"}])
    idx = searchlib.Index(root)
    idx.update([tmp_path])
    for n in range(12):  # enough commits that segments get merged
        write(tmp_path / f"x{n}.jsonl", [{"id": f"x{n}", "text": "filler words",
                                         "date": "1990-01-01", "source": f"S{n}"}])
        idx.update([tmp_path])
    first.write_text(json.dumps(STORIES[0]) + "\n")  # b and c deleted
    report = idx.update([tmp_path])
    assert report.merged  # the first segment, two thirds deleted, was rewritten
    reopened = searchlib.Index(root)
    assert ids(reopened.search("oil", k=10)) == {"a", "d", "e", "f"}
    assert [h.article_id for h in reopened.search("oil", sort="-date").hits] == [
        "f", "a", "d", "e"]
    assert ids(reopened.search("oil source:reuters")) == {"a", "d"}
    assert ids(reopened.search("source:s3")) == {"x3"}
    assert second.exists()


def test_many_distinct_values(tmp_path: Path) -> None:
    n = 100_000
    write(tmp_path / "many.jsonl", [{"id": str(i), "text": "common words here",
                                     "source": f"source {i}"} for i in range(n)])
    idx = searchlib.Index.build([tmp_path / "many.jsonl"], tmp_path / "index")
    assert ids(idx.search('source:"SOURCE 77777"')) == {"77777"}
    res = idx.search("common", facets=["source"])
    assert len(res.facets["source"]) == 10 and all(c == 1 for _, c in res.facets["source"])


def test_mixed_types_and_colliding_names_cost_only_themselves(tmp_path: Path) -> None:
    warnings: list[str] = []
    write(tmp_path / "odd.jsonl", [
        {"id": "m", "text": "oil report", "topics": ["crude", 3], "source": "AP"},
        {"id": "n", "text": "oil again", "topics": "grain", "title": "A title"},
    ])
    idx = searchlib.Index.build([tmp_path / "odd.jsonl"], tmp_path / "index",
                                warn=warnings.append)
    assert ids(idx.search("oil", k=5)) == {"m", "n"}
    assert ids(idx.search("oil topics:crude")) == {"m"}
    assert ids(idx.search("oil topics:grain")) == {"n"}
    assert ids(idx.search("title:title")) == {"n"}  # title stays the article's title


def test_an_index_of_the_previous_format_asks_for_a_rebuild(tmp_path: Path) -> None:
    root = tmp_path / "index"
    searchlib.Index.build([write(tmp_path / "a.jsonl", STORIES[:1])], root)
    manifest = json.loads((root / MANIFEST).read_text())
    manifest["version"] = 1
    (root / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IncompatibleIndex, match="rebuild"):
        searchlib.Index(root)


def test_cli_metadata_options(tmp_path: Path) -> None:
    root = tmp_path / "index"
    searchlib.Index.build([write(tmp_path / "news.jsonl", STORIES)], root)
    out = run("search", "oil", "--index", str(root), "--since", "1987-03-01", "--until",
              "1987-12-31", "--sort", "-date", "--facets", "topics")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    heads = [line for line in lines if line[:3].strip().rstrip(".").isdigit()]
    assert [h.split("[")[1].split("]")[0] for h in heads] == ["c", "b", "a"]
    assert "1987-04-05 00:00 · reuters" in heads[0]
    assert "topics (articles)" in out.output
    out = run("search", "oil", "--index", str(root), "--json", "--facets", "source")
    summary = json.loads(out.output.splitlines()[-1])
    assert sorted(map(tuple, summary["facets"]["source"])) == [("AP", 2), ("Reuters", 2),
                                                                ("reuters", 1)]
    hit = json.loads(out.output.splitlines()[0])
    assert "date" in hit and "source" in hit["meta"]
    out = run("search", "oil", "--index", str(root), "--since", "1987-13")
    assert out.exit_code == 2 and "Traceback" not in out.output
    out = run("search", "--index", str(root), "--since", "1987-04")  # no words: a listing
    assert out.exit_code == 0 and "Crude output" in out.output
    stats = run("stats", "--index", str(root)).output
    assert "1986-12-31 23:59 to 1987-04-05 00:00" in stats
    assert "author, date, source, topics" in stats


def test_recency_decays_scores_by_age(index: searchlib.Index) -> None:
    plain = {h.article_id: h.score for h in index.search("oil", k=20).hits}
    decayed = index.search("oil", k=20, recency="30d")
    newest = max(h.date for h in decayed.hits if h.date is not None)  # c, 1987-04-05
    for hit in decayed.hits:
        age = (newest - (hit.date or min(h.date for h in decayed.hits if h.date))).total_seconds()
        assert hit.score == pytest.approx(plain[hit.article_id] * 0.5 ** (age / (30 * 86400)))
    assert plain["c"] < max(plain.values())  # the newest is not the best match ...
    assert index.search("oil", recency="1d").hits[0].article_id == "c"  # ... until recency
    fixed = index.search("oil", k=20, recency="1d", now="1987-03-02T10:00:00")
    assert {h.article_id: h.score for h in fixed.hits}["a"] == pytest.approx(plain["a"])
    for bad in ("0d", "soon", "-3h", True):
        with pytest.raises(InvalidArgument):
            index.search("oil", recency=bad)
    with pytest.raises(InvalidArgument):
        index.search("oil", now="1987-03-01")  # now without a half-life


def test_article_scope_combines_the_paragraphs_of_an_article(tmp_path: Path) -> None:
    idx = searchlib.Index.build([write(tmp_path / "s.jsonl", [
        {"id": "x", "title": "Talks", "text": "Kennedy arrived.\n\nMacmillan met him.\n\n"
                                              "Kennedy and the press."},
        {"id": "y", "title": "Other", "text": "Kennedy alone here."},
        {"id": "z", "title": "Third", "text": "Macmillan alone.", "source": "AP"},
    ])], tmp_path / "index")
    assert idx.search("Kennedy AND Macmillan").hits == []  # paragraph scope: the default
    res = idx.search("Kennedy AND Macmillan", scope="article")
    assert [(h.article_id, h.paragraph) for h in res.hits] == [("x", 2)] and res.total == 1
    assert ids(idx.search("kennedy NOT macmillan")) == {"x", "y"}
    assert ids(idx.search("kennedy NOT macmillan", scope="article")) == {"y"}
    assert ids(idx.search('"kennedy arrived" macmillan', scope="article",
                          default_operator="AND")) == {"x"}
    assert ids(idx.search("macmillan source:ap", scope="article")) == {"z"}
    with pytest.raises(InvalidArgument):
        idx.search("kennedy", scope="sentence")


def test_shell_metadata_commands(tmp_path: Path) -> None:
    root = tmp_path / "index"
    searchlib.Index.build([write(tmp_path / "news.jsonl", STORIES)], root)
    script = ":since 1987-03\n:sort -date\n:facets source\noil\n:since 1987-99\n:since\noil\n"
    res = CliRunner().invoke(cli, ["shell", "--index", str(root)], input=script)
    assert res.exit_code == 0, res.output
    first, _, second = res.stdout.partition("source (articles)")
    heads = [line.split("[")[1].split("]")[0] for line in first.splitlines()
             if line[:3].strip().rstrip(".").isdigit()]
    assert heads == ["c", "b", "a"]  # since March, newest first
    assert "since: date '1987-99' is not a date" in res.stderr
    assert "[d]" in second and "[e]" in second  # :since with no date: any date again
