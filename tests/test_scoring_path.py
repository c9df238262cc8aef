"""One scoring path: a hit's explanation comes from the weights that scored it (its total is
the score, for every kind of plan node), explaining runs no second search, and the collection
statistics behind the scores can be replaced."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner

import searchlib
from searchlib.cli import cli
from searchlib.ranking import BM25, Matches, Searcher, SearchOptions, TopK
from searchlib.ranking.postings import EMPTY

FILES = {
    "a.txt": "Zebra news\n\nThe zebra crossed the river near the lion.\n\n"
             "Stripes of the zebra are black and white.\n\nA lion and a tiger rested.",
    "b.txt": "Savanna report\n\nA zebra with stripes and a lion.\n\n"
             "The tiger hunted alone in the grass.",
    "c.txt": "Lions everywhere\n\nGrass grows after rain.\n\nHerds of zebras migrate each year.",
}


@pytest.fixture(scope="module")
def idx(tmp_path_factory) -> searchlib.Index:
    root = tmp_path_factory.mktemp("scoring")
    src = root / "src"
    src.mkdir()
    for name, text in FILES.items():
        (src / name).write_text(text)
    return searchlib.Index.build([src], root / "idx")


@pytest.fixture
def executions(monkeypatch) -> list[str]:
    """Every query Searcher.execute runs, as it runs."""
    seen: list[str] = []
    original = Searcher.execute

    def counted(self, query, options):
        seen.append(query)
        return original(self, query, options)

    monkeypatch.setattr(Searcher, "execute", counted)
    return seen


# Each query exercises one kind of plan node; `shows` checks the explanation has its part.
KINDS = {
    "term": ("stripes", lambda p: p.term == "stripe"),
    "fuzzy alternatives": ("tigre~", lambda p: p.term == "tiger" and p.weight < 1),
    "prefix blended": ("strip*", lambda p: "stripe" in p.term.split(" | ")),
    "phrase with slop": ('"zebra lion"~6', lambda p: p.term == "zebra lion" and p.df == 0),
    "must": ("+zebra +lion", lambda p: p.term == "lion"),
    "must_not": ("zebra -tiger", lambda p: p.term == "zebra"),
    "should group": ("zebra (lion OR tiger)", lambda p: p.term in ("lion", "tiger")),
    "repeated clause": ("zebra zebra lion", lambda p: p.term == "zebra" and p.weight == 2.0),
    "title inheritance": ("savanna", lambda p: p.field == "title" and p.weight == 0.5),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("articles", [False, True])
def test_explanation_total_is_the_score(idx, executions, kind, articles):
    query, shows = KINDS[kind]
    res = idx.search(query, articles=articles)
    assert res.hits, query
    for hit in res.hits:
        exp = idx.explain(query, hit, articles=articles)
        assert exp.score == hit.score  # the very same computation, not an approximation
        assert sum(p.score for p in exp.parts) == pytest.approx(hit.score, rel=1e-12)
        assert res.explain(hit).parts == exp.parts
    assert any(shows(p) for hit in res.hits for p in idx.explain(query, hit,
                                                                 articles=articles).parts)
    assert executions == [query]  # explaining every hit searched nothing again


def test_explain_with_other_options_runs_the_query_once(idx, executions):
    hit = idx.search("zebra lion").hits[0]
    exp = idx.explain("zebra lion", hit, title_boost=0.0)
    assert executions == ["zebra lion", "zebra lion"]
    assert all(p.field == "text" for p in exp.parts)


def test_cli_explain_of_ten_hits_is_one_search(idx, executions):
    res = CliRunner().invoke(cli, ["search", "zebra", "lion", "tiger", "-k", "10", "--explain",
                                   "--index", str(idx.root)])
    assert res.exit_code == 0, res.output
    assert res.stdout.count("sum of (BM25") >= 5
    assert executions == ["zebra lion tiger"]


def test_a_hit_of_other_results_is_refused(idx):
    hit = idx.search("zebra").hits[0]
    with pytest.raises(searchlib.InvalidArgument, match="hit of these results"):
        idx.search("lion").explain(hit)


class DoubledCollection:
    """Statistics of a collection twice as large with the same average lengths and df, as a
    shard might be given for the whole index."""

    def __init__(self, snap) -> None:
        self.snap = snap

    def num_docs(self, field: str) -> int:
        return 2 * self.snap.num_docs(field)

    def total_length(self, field: str) -> int:
        return 2 * self.snap.total_length(field)

    def doc_freq(self, term: str, field: str) -> int:
        return self.snap.doc_freq(term, field)


def test_injected_statistics_change_scores_as_the_formula_says(idx):
    snap = idx.snapshot
    options = SearchOptions(fuzzy=False, params=BM25(title_boost=0.0))
    own = Searcher(snap).execute("stripes", options)
    doubled = Searcher(snap, stats=DoubledCollection(snap)).execute("stripes", options)
    n, df = snap.num_docs("text"), snap.doc_freq("stripe", "text")
    ratio = math.log1p((2 * n - df + 0.5) / (df + 0.5)) / math.log1p((n - df + 0.5) / (df + 0.5))
    assert len(own.hits) == df == 2
    assert [h.address for h in doubled.hits] == [h.address for h in own.hits]
    for mine, theirs in zip(own.hits, doubled.hits):
        assert theirs.score == pytest.approx(mine.score * ratio, rel=1e-12)
        score, parts = doubled.explain(theirs.address)
        assert score == theirs.score and parts[0].docs == 2 * n


def test_top_k_merge_breaks_ties_by_segment_then_paragraph(idx):
    """Merging per-segment fruits gives one order whatever the split: score first, then the
    earlier segment, then the lower paragraph id (what a shard merge will rely on)."""
    top = TopK(4)
    seg = idx.snapshot.segments[0]
    fruits = [top.collect(1, seg, np.array([3, 5, 9]), np.array([2.0, 1.0, 2.0])),
              top.collect(0, seg, np.array([7, 8]), np.array([2.0, 3.0]))]
    merged = top.merge(fruits)
    assert [(h.address.segment, h.address.paragraph, h.score) for h in merged.hits()] == [
        (0, 8, 3.0), (0, 7, 2.0), (1, 3, 2.0), (1, 9, 2.0)]
    assert top.merge([merged]).hits() == merged.hits()  # merging merged fruits changes nothing


def test_shard_merge_breaks_ties_by_shard_before_segment(idx):
    """Shards' merged fruits, labelled with their shard, merge with the same collectors:
    a tie goes to the lower shard, then segment, then paragraph; matches stay per shard."""
    top, matches = TopK(3), Matches()
    seg = idx.snapshot.segments[0]
    shard0 = top.merge([top.collect(1, seg, np.array([4]), np.array([2.0]))])
    shard1 = top.merge([top.collect(0, seg, np.array([2, 6]), np.array([2.0, 5.0]))])
    merged = top.merge([top.on_shard(shard0, 0), top.on_shard(shard1, 1)])
    assert [(h.address.shard, h.address.segment, h.address.paragraph) for h in merged.hits()] \
        == [(1, 0, 6), (0, 1, 4), (1, 0, 2)]
    found = [matches.on_shard(matches.merge([matches.collect(0, seg, np.array([n]), EMPTY[1])]),
                              shard) for shard, n in ((0, 3), (1, 7))]
    assert {key: docs.tolist() for key, docs in matches.merge(found).items()} == {
        (0, 0): [3], (1, 0): [7]}


def test_fuzzy_flags_are_the_same_when_matches_are_not_kept(tmp_path):
    """A sharded index does not keep the exact query's matches (every shard would ship
    them); when the fallback answers for a rare word, running the exact query again flags
    the very hits one index flags."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        (src / f"r{i}.txt").write_text(f"Books {i}\n\nThey were reading.\n\nReading {i} again.")
    (src / "rare.txt").write_text("Tools\n\nThe lathe was heading north.")
    snap = searchlib.Index.build([src], tmp_path / "idx").snapshot

    class Shipping(Searcher):
        matches_are_free = False

    for query in ["heading", "heading north"]:
        kept, rerun = (cls(snap).execute(query, SearchOptions()) for cls in (Searcher, Shipping))
        flags = [(h.address, h.score, h.fuzzy) for h in kept.hits]
        assert any(f for *_, f in flags) and not all(f for *_, f in flags), query
        assert [(h.address, h.score, h.fuzzy) for h in rerun.hits] == flags, query
