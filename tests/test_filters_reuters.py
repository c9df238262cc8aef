"""Metadata filters on Reuters-21578, checked against counts computed from the JSONL itself
(the index is built once for the module)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

import searchlib
from searchlib.cli import cli

from .conftest import need_datasets


@pytest.fixture(scope="module")
def corpus() -> Path:
    path = need_datasets() / "reuters21578" / "corpus.jsonl"
    if not path.is_file():
        pytest.skip("reuters21578/corpus.jsonl not found")
    return path


@pytest.fixture(scope="module")
def records(corpus: Path) -> list[dict]:
    with corpus.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def index(corpus: Path, tmp_path_factory) -> searchlib.Index:
    return searchlib.Index.build([corpus], tmp_path_factory.mktemp("reuters") / "index")


def has(record: dict, field: str, value: str) -> bool:
    return any(v.casefold() == value for v in record.get(field) or [])


def test_topics_and_places_equal_a_brute_force_count(index, records) -> None:
    expected = {r["id"] for r in records
                if has(r, "topics", "crude") and has(r, "places", "saudi-arabia")}
    assert len(expected) > 20
    res = index.search("topics:crude AND places:saudi-arabia", k=len(expected) + 10)
    assert res.total == len(expected)
    assert {h.article_id for h in res.hits} == expected


def test_topic_facets_equal_a_brute_force_count(index, records) -> None:
    res = index.search("opec", facets=["topics"], articles=True)
    matched = {h.article_id for h in index.search("opec", k=res.total, articles=True).hits}
    assert len(matched) == res.total > 50
    counts = Counter(t for r in records if r["id"] in matched for t in set(r["topics"]))
    top = dict(res.facets["topics"])
    assert len(top) == 10
    assert top == {t: counts[t] for t in top}
    assert min(top.values()) >= sorted(counts.values(), reverse=True)[9]


def test_opec_in_march_newest_first_from_the_command_line(index, records) -> None:
    out = CliRunner().invoke(cli, ["search", "opec", "--index", str(index.root), "--since",
                                   "1987-03-01", "--until", "1987-03-31", "--sort", "-date",
                                   "--json", "-k", "1000"])
    assert out.exit_code == 0, out.output
    hits = [json.loads(line) for line in out.output.splitlines()[:-1]]
    dates = [dt.datetime.fromisoformat(h["date"]) for h in hits]
    assert dates and all(d.year == 1987 and d.month == 3 for d in dates)
    assert dates == sorted(dates, reverse=True)
    march = {r["id"] for r in records if r.get("date", "").startswith("1987-03")}
    found = {h["article"] for h in hits}
    assert found <= march
    words = {h.article_id for h in
             index.search("opec", k=5000, articles=True).hits}  # every opec article
    assert found == words & march


def test_a_month_alone_lists_its_articles_by_date(index, records) -> None:
    res = index.search("date:1987-03", k=20)
    march = [r for r in records if r.get("date", "").startswith("1987-03")]
    assert res.total == len(march)
    newest = sorted(march, key=lambda r: r["date"], reverse=True)[0]["date"]
    assert res.hits[0].date == dt.datetime.fromisoformat(newest).replace(tzinfo=dt.timezone.utc)
