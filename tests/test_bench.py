"""Tests for ``searchlib bench`` and its parts: typo generator, sweep specs, suite rows."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import OSA

import searchlib
from searchlib.cli.bench_cmd import bench
from searchlib.evaluation import (
    EngineUnavailable,
    Setting,
    SweepError,
    add_typos,
    load_dataset,
    make_engine,
    parse_spec,
    parse_specs,
    read_run,
    typo_queries,
)
from searchlib.evaluation.engines import rank_only
from searchlib.evaluation.suite import Options, Row, mark_best, means, sweep, write_runs
from searchlib.evaluation.sweep import analyzer_groups, expand, frange
from searchlib.evaluation.typos import MIN_LETTERS, edit_word

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
SEEDS = REPO / "benchmarks" / "seeds"
WORD = re.compile(r"[^\W\d_]+")
DEFAULT_METRICS = ["nDCG@10", "AP", "RR@10", "P@10", "R@100"]


def run_bench(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(bench, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def bench_json(*args: str) -> list[dict]:
    code, out, err = run_bench(*args, "--format", "json")
    assert code == 0, err
    return json.loads(out)["rows"]


# --- the command on the seeds sample ------------------------------------------------------------


def test_table_on_seeds() -> None:
    code, out, _ = run_bench("--dataset", "seeds")
    assert code == 0
    header = out.splitlines()[0].split()
    assert header[:2] == ["dataset", "engine"]
    assert all(m in header for m in DEFAULT_METRICS)
    assert "query ms" in out and "index s" in out
    assert len([line for line in out.splitlines() if line.startswith("seeds")]) == 1


def test_json_and_markdown_formats() -> None:
    (row,) = bench_json("--dataset", "seeds", "--metrics", "nDCG@10,AP")
    assert row["engine"] == "searchlib" and row["level"] == "paragraph"
    assert set(row["scores"]) == {"nDCG@10", "AP"}
    assert 0.5 < row["scores"]["nDCG@10"] <= 1.0  # judged paragraphs are found
    assert row["setting"]["k1"] == searchlib.search.DEFAULT_K1  # library defaults by default
    code, out, _ = run_bench("--dataset", "seeds", "--format", "markdown")
    assert code == 0 and out.startswith("| dataset") and "|---" in out


def test_run_file_is_trec_format(tmp_path: Path) -> None:
    path = tmp_path / "seeds.run"
    code, _, err = run_bench("--dataset", "seeds", "--run-out", str(path))
    assert code == 0 and "run written" in err
    lines = path.read_text().splitlines()
    assert lines
    for line in lines:
        qid, q0, docid, rank, score, tag = line.split()
        assert q0 == "Q0" and docid.startswith("north-korea-ukraine-war.txt#")
        assert int(rank) >= 1 and float(score) > 0 and tag.startswith("searchlib")
    run = read_run(path)  # queries without hits (typos, fuzzy off) have no line
    assert set(load_dataset(SEEDS).queries) >= set(run) and len(run) >= 40


def test_typos_gives_three_rows() -> None:
    rows = bench_json("--dataset", "seeds", "--typos", "1")
    assert [r["setting"]["queries"] for r in rows] == ["clean", "typo'd", "typo'd + fuzzy"]
    clean, typoed, fuzzy = (r["scores"]["nDCG@10"] for r in rows)
    assert typoed < clean and fuzzy > typoed  # typos hurt, the fallback wins some back


def test_sweep_marks_the_best_row() -> None:
    rows = bench_json("--dataset", "seeds", "--sweep", "b=0.5,0.75")
    assert [r["setting"]["b"] for r in rows] == [0.5, 0.75]
    assert sum(r["best"] for r in rows) == 1
    best = next(r for r in rows if r["best"])
    assert best["scores"]["nDCG@10"] == max(r["scores"]["nDCG@10"] for r in rows)
    rows = bench_json("--dataset", "seeds", "--sweep", "k1=1.0:1.2:0.2", "b=0.5,0.75")
    shown = [round(r["scores"]["nDCG@10"], 4) for r in rows]  # as the table shows them
    assert len(rows) == 4 and len(set(shown)) > 1
    assert [r["best"] for r in rows] == [s == max(shown) for s in shown]  # ties at the top too


def test_metric_names_are_case_insensitive_and_listed_once() -> None:
    code, out, err = run_bench("--dataset", "seeds", "--metrics", "ndcg@10,AP,ap,NDCG@10,p@10",
                               "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["metrics"] == ["nDCG@10", "AP", "P@10"]
    assert list(report["rows"][0]["scores"]) == ["nDCG@10", "AP", "P@10"]


def test_an_unwritable_run_file_fails_before_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for target in (tmp_path / "missing" / "x.run", blocker / "x.run"):
        code, out, err = run_bench("--dataset", "seeds", "--run-out", str(target))
        assert code == 2 and out == "", out  # no table: nothing ran
        assert err.startswith(f"searchlib: error: cannot write run file {target}")
        assert len(err.strip().splitlines()) == 1


def test_a_sweep_where_every_setting_ties_marks_none_best() -> None:
    rows = bench_json("--dataset", "seeds", "--sweep", "k1=0.8,0.80001")  # the same ranking
    assert len(rows) == 2 and rows[0]["scores"] == rows[1]["scores"]
    assert not any(r["best"] for r in rows)


def test_rows_tied_at_the_top_are_all_best() -> None:
    rows = [Row("d", "searchlib", {"k1": k1}, "paragraph", 1, {"nDCG@10": score}, 0.0, 0.0)
            for k1, score in ((1.0, 0.5), (1.2, 0.7), (1.4, 0.7), (1.6, 0.6))]
    assert [r.best for r in mark_best(rows, "nDCG@10")] == [False, True, True, False]


def test_run_out_with_one_engine_writes_exactly_that_file(tmp_path: Path) -> None:
    path = tmp_path / "out.run"
    code, _, err = run_bench("--dataset", "seeds", "--dataset", "seeds",
                             "--engine", "searchlib,SearchLib", "--run-out", str(path))
    assert code == 0, err
    assert [p.name for p in tmp_path.iterdir()] == ["out.run"]
    assert err.strip() == f"run written to {path}"


def test_two_rows_never_write_the_same_run_file(tmp_path: Path) -> None:
    rows = [Row("d", "searchlib", {}, "paragraph", 1, {}, 0.0, 0.0, run={"q": {"x": score}})
            for score in (1.0, 2.0)]
    written = write_runs(rows, tmp_path / "out.run")
    assert len(set(written)) == 2
    assert sorted(read_run(p)["q"]["x"] for p in written) == [1.0, 2.0]


def test_whoosh_row_next_to_searchlib() -> None:
    rows = bench_json("--dataset", "seeds", "--engine", "searchlib,whoosh")
    assert [r["engine"] for r in rows] == ["searchlib", "whoosh"]
    assert all(r["judged"] == 47 and r["query_ms"] > 0 for r in rows)


def test_sqlite_fts5_peer_on_seeds() -> None:
    try:
        make_engine("sqlite")
    except EngineUnavailable:
        pytest.skip("SQLite without FTS5")
    (row,) = bench_json("--dataset", "seeds", "--engine", "fts5")
    assert row["engine"] == "sqlite-fts5" and row["scores"]["RR@10"] > 0.5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "/nonexistent/dataset"], "dataset folder not found"),
        (["--dataset", "seeds", "--engine", "lucene"], "unknown engine 'lucene'"),
        (["--dataset", "seeds", "--sweep", "k1=2:1:0.1"], "below its start"),
        (["--dataset", "seeds", "--sweep", "alpha=1"], "cannot sweep 'alpha'"),
        (["--dataset", "seeds", "k1=1"], "unexpected argument"),
        (["--dataset", "seeds", "--sweep", "k1=1", "--typos", "1"], "not both"),
        (["--dataset", "seeds", "--metrics", "MRR"], "unknown metric"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    code, out, err = run_bench(*args)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_missing_seeds_dataset_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(searchlib, "__file__", str(tmp_path / "searchlib" / "__init__.py"))
    code, _, err = run_bench("--dataset", "seeds")
    assert code == 2 and "built-in 'seeds' dataset is not installed" in err


# --- typo generator ---------------------------------------------------------------------------

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(words, min_size=1, max_size=8), st.integers(1, 3), st.integers(0, 10**6))
def test_typos_edit_exactly_n_long_words_once(query_words: list[str], n: int, seed: int) -> None:
    text = " ".join(query_words) + "?"
    typoed = add_typos(text, n, random.Random(seed))
    before, after = WORD.findall(text), WORD.findall(typoed)
    assert len(before) == len(after)
    eligible = sum(len(w) >= MIN_LETTERS for w in before)
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert all(len(a) >= MIN_LETTERS for a, _ in changed)  # short words untouched
    if n <= eligible:
        assert len(changed) == n
        assert all(OSA.distance(a, b) == 1 for a, b in changed)
    assert typoed.endswith("?")


def test_typos_are_deterministic_per_seed_and_query() -> None:
    queries = {"1": "boundary layer transition", "2": "heat transfer in slabs", "3": "a b"}
    first = typo_queries(queries, 1, seed=7)
    assert first == typo_queries(dict(reversed(queries.items())), 1, seed=7)
    assert first["3"] == "a b"  # nothing long enough to edit
    assert first != typo_queries(queries, 1, seed=8)
    assert all(first[q] != queries[q] for q in ("1", "2"))


@pytest.mark.parametrize("edit", ["insert", "delete", "substitute", "transpose"])
def test_each_edit_kind_changes_the_word_by_one(edit: str) -> None:
    for seed in range(50):
        for word in ("committee", "aaaaa", "MISSILE"):
            out = edit_word(word, edit, random.Random(seed))
            assert out != word and OSA.distance(word, out) == 1
            assert out.isupper() == word.isupper()


# --- sweep specs --------------------------------------------------------------------------------


def test_ranges_include_their_end_without_float_noise() -> None:
    assert frange(0.6, 2.0, 0.2) == [0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0]
    assert parse_spec("b=0.2:1.0:0.1")[1][-1] == 1.0
    assert len(parse_spec("b=0.2:1.0:0.1")[1]) == 9
    assert parse_spec("title_boost=0,0.25,0.5,1.0") == ("title_boost", [0.0, 0.25, 0.5, 1.0])
    assert parse_spec("K1=1.2") == ("k1", [1.2])
    assert parse_spec("title-boost=1") == ("title_boost", [1.0])
    assert parse_spec("stemmer=snowball,porter,none")[1] == ["snowball", "porter", "none"]
    assert parse_spec("stopwords=on,off") == ("stopwords", [True, False])


@pytest.mark.parametrize(
    "spec",
    ["k1", "k1=", "=1", "x=1", "k1=a:b:c", "k1=1:2", "k1=1:0.5:0.1", "k1=0:1:0", "k1=0:1:-1",
     "b=0:2:0.5", "b=-0.1", "k1=nan", "k1=0:1:0.00001", "stemmer=lancaster", "stopwords=maybe"],
)
def test_bad_specs(spec: str) -> None:
    with pytest.raises(SweepError):
        parse_specs([spec])


def test_specs_combine_and_expand_analyzer_major() -> None:
    grid = parse_specs(["k1=1.0:1.2:0.2 stopwords=on,off", "stemmer=porter,none"])
    with pytest.raises(SweepError, match="twice"):
        parse_specs(["k1=1", "k1=2"])
    with pytest.raises(SweepError, match="empty"):
        parse_specs([" "])
    base = Setting(1.2, 0.75, 0.0, "snowball", True)
    points = expand(grid, base)
    assert len(points) == 8 and {p.b for p in points} == {0.75}
    groups = analyzer_groups(points)
    assert list(groups) == [("porter", True), ("porter", False), ("none", True), ("none", False)]
    assert all([s.k1 for s in g] == [1.0, 1.2] for g in groups.values())


# --- suite pieces -------------------------------------------------------------------------------


def test_means_over_datasets_weigh_each_dataset_once() -> None:
    def row(dataset: str, k1: float, ndcg: float) -> Row:
        return Row(dataset, "searchlib", {"k1": k1}, "article", 10, {"nDCG@10": ndcg}, 1.0, 2.0)

    rows = [row("a", 1.0, 0.2), row("b", 1.0, 0.6), row("a", 1.2, 0.3), row("b", 1.2, 0.4),
            row("a", 1.4, 0.9)]  # k1=1.4 misses dataset b: no mean row
    out = means(rows, "nDCG@10")
    assert [(r.setting["k1"], round(r.scores["nDCG@10"], 6), r.best) for r in out] == [
        (1.0, 0.4, True), (1.2, 0.35, False)
    ]
    assert out[0].dataset == "mean of 2" and out[0].judged == 20
    assert means(rows[:1]) == []


def test_rank_only_agrees_with_public_search(seed_index: searchlib.Index) -> None:
    queries = ["artillery shells", "Russia NOT Ukraine", '"South Korea" sanctions', "Acemolgu",
               "missle tests", "zzzz"]
    for query in queries:
        for fuzzy in (False, True):
            for params in ({}, {"k1": 0.6, "b": 0.3, "title_boost": 0.5}):
                public = seed_index.search(query, k=20, fuzzy=fuzzy, **params)
                expected = [(h.article_id, h.paragraph, h.score) for h in public.hits]
                assert rank_only(seed_index, query, 20, fuzzy, params) == expected



# --- a real collection --------------------------------------------------------------------------


def test_cranfield_sweep_builds_once_per_analyzer(monkeypatch: pytest.MonkeyPatch) -> None:
    if not DATASETS.is_dir():
        pytest.skip("../shared/datasets not found (only present in the dev/CI workspace)")
    builds: list[dict] = []
    original = searchlib.Index.build.__func__

    def counting_build(cls, paths, root, **options):
        builds.append(options)
        return original(cls, paths, root, **options)

    monkeypatch.setattr(searchlib.Index, "build", classmethod(counting_build))
    dataset = load_dataset(DATASETS / "cranfield")
    points = expand(parse_specs(["k1=0.9,1.2 b=0.4,0.75 stemmer=snowball,none"]),
                    Setting(1.2, 0.75, 0.0, "snowball", True))

    def make(stemmer: str, stopwords: bool):
        return make_engine("searchlib", stemmer=stemmer, stopwords=stopwords)

    rows = sweep(points, dataset, Options(("nDCG@10", "AP"), depth=100), make)
    assert len(rows) == 8
    assert [b["stemmer"] for b in builds] == ["snowball", "none"]  # not one build per row
    assert sum(r.best for r in rows) == 1
    for row in rows:
        assert 0.25 < row.scores["nDCG@10"] < 0.55, row  # BM25 on Cranfield: ~0.35-0.40
    stemmed = max(r.scores["nDCG@10"] for r in rows if r.setting["stemmer"] == "snowball")
    plain = max(r.scores["nDCG@10"] for r in rows if r.setting["stemmer"] == "none")
    assert stemmed > plain  # stemming helps on Cranfield's technical prose


# --- speed benchmark pieces ---------------------------------------------------------------------


def test_sampled_speed_queries_come_from_one_paragraph() -> None:
    from searchlib.evaluation.speed import sample_queries

    texts = ["North Korea shipped artillery shells to Russia, officials said.",
             "The sanctions regime tightened after missile tests near Japan.", "too short"]
    stop = frozenset({"said", "after"})
    queries = sample_queries(texts, 30, seed=7, stop=stop)
    assert queries == sample_queries(texts, 30, seed=7, stop=stop)
    assert {len(q) for kind in queries.values() for q in kind} <= {2, 3}
    for kind, found in queries.items():
        assert len(found) == 30
        for query in found:
            assert all(len(w) >= 4 and w.isalpha() and w not in stop for w in query)
            if kind == "phrase":
                assert any(" ".join(query) in t.lower() for t in texts)  # adjacent words
            else:
                assert any(set(query) <= set(t.lower().split()) for t in texts)
    with pytest.raises(ValueError):
        sample_queries(["too short"], 1, seed=7, stop=stop)


def test_speed_run_on_a_tiny_corpus(tmp_path: Path) -> None:
    from searchlib.evaluation import speed
    from searchlib.evaluation.peers import fts5_available

    if not fts5_available():
        pytest.skip("SQLite without FTS5")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(
        json.dumps({"id": str(i), "title": f"Story {i}",
                    "text": f"Grain exports rose sharply in week {i}.\n\nWheat prices "
                            f"climbed while maize shipments slowed"}) + "\n"
        for i in range(30)
    ))
    (result,) = speed.run(str(corpus), ["sqlite"], count=20, seed=1, limit=25)
    assert result.paragraphs == 50 and result.index_bytes > 0 and result.peak_rss_bytes > 0
    assert all(result.latency[kind].found == 1.0 for kind in speed.KINDS)
    assert "paragraphs/s" in speed.tables([result])
    assert result.open_ms > 0 and "open ms" in speed.tables([result])
    assert json.loads(speed.to_json([result], {}))["results"][0]["engine"] == "sqlite"


def test_status_line_redraws_in_place_and_erases(capsys: pytest.CaptureFixture[str]) -> None:
    from searchlib.cli.bench_cmd import Status

    status = Status(enabled=True)
    status("cranfield: query 1/225")
    status.clear()
    err = capsys.readouterr().err
    assert err.startswith("\rcranfield: query 1/225") and err.endswith("\r") and "\n" not in err
    Status(enabled=False)("nothing")
    assert capsys.readouterr().err == ""


def test_rank_only_passes_second_stages_as_search_does(seed_index: searchlib.Index) -> None:
    from searchlib.ranking.prf import Feedback

    overrides = {"proximity": 1.0, "prf": True, "fb_docs": 3, "fb_terms": 5, "fb_weight": 0.6}
    public = seed_index.search("north korea artillery", k=20, fuzzy=False, proximity=1.0,
                               prf=Feedback(3, 5, 0.6))
    plain = seed_index.search("north korea artillery", k=20, fuzzy=False, proximity=0)
    expected = [(h.article_id, h.paragraph, h.score) for h in public.hits]
    assert rank_only(seed_index, "north korea artillery", 20, False, overrides) == expected
    assert expected != [(h.article_id, h.paragraph, h.score) for h in plain.hits]


def test_sweep_covers_proximity_and_feedback() -> None:
    grid = parse_specs(["proximity=0,0.5 prf=off,on fb_docs=5,10 fb_terms=20 fb_weight=0.7"])
    assert grid["fb_docs"] == [5, 10] and grid["prf"] == [False, True]
    points = expand(grid, Setting(0.8, 0.5, 0.5, "snowball", True))
    assert len(points) == 8 and {p.fb_terms for p in points} == {20}
    off = next(p for p in points if not p.prf)
    assert "fb_docs" not in off.as_dict() and off.as_dict()["prf"] is False
    on = next(p for p in points if p.prf and p.proximity == 0.5)
    assert on.search_params()["fb_weight"] == 0.7 and on.as_dict()["fb_docs"] == 5
    for bad in ("fb_docs=2.5", "fb_weight=2", "prf=maybe", "proximity=-1"):
        with pytest.raises(SweepError):
            parse_specs([bad])
