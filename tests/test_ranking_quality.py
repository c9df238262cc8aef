"""Second stages of ranking: the proximity bonus and RM3 feedback, as a user sees them
(library, CLI, shell), and explanations that still add up to every hit's score."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import searchlib
from searchlib.cli import cli
from searchlib.errors import InvalidArgument
from searchlib.ranking.prf import Feedback
from searchlib.ranking.rerank import Proximity

FILLER = "lorem ipsum dolor sit amet consectetur adipiscing elit sed eiusmod"


def _write(folder, records) -> str:
    path = folder / "corpus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


@pytest.fixture(scope="module")
def near_far(tmp_path_factory) -> searchlib.Index:
    """Two paragraphs with the same words and length, once side by side, once far apart."""
    tmp = tmp_path_factory.mktemp("nearfar")
    records = [
        {"id": "far", "title": "", "text": f"oil {FILLER} {FILLER} prices"},
        {"id": "near", "title": "", "text": f"oil prices {FILLER} {FILLER}"},
        {"id": "other", "title": "", "text": f"wheat harvest {FILLER}"},
    ]
    return searchlib.Index.build([_write(tmp, records)], tmp / "index")


@pytest.fixture(scope="module")
def feedback_index(tmp_path_factory) -> searchlib.Index:
    """Paragraphs about `opec` that all talk of `quota`, and one about quota alone."""
    tmp = tmp_path_factory.mktemp("prf")
    records = [{"id": f"a{i}", "title": "", "text": f"opec ministers quota output talks {i}"}
               for i in range(4)]
    records += [{"id": "quota", "title": "", "text": "the quota output agreement holds"},
                {"id": "wheat", "title": "", "text": "wheat harvest rain farmers"},
                {"id": "corn", "title": "", "text": "corn harvest drought farmers"}]
    return searchlib.Index.build([_write(tmp, records)], tmp / "index")


def test_proximity_ranks_close_words_above_far_apart_words(near_far):
    plain = near_far.search("oil prices", proximity=0)
    assert [h.score for h in plain.hits][0] == pytest.approx(plain.hits[1].score)  # a tie
    ranked = near_far.search("oil prices", proximity=1.0)
    assert [h.article_id for h in ranked.hits] == ["near", "far"]
    assert ranked.hits[0].score > ranked.hits[1].score > plain.hits[0].score - 1e-9


def test_proximity_does_nothing_for_one_word(near_far):
    assert near_far.rank("oil", proximity=1.0) == near_far.rank("oil", proximity=0)


def test_explain_names_the_proximity_bonus_and_adds_up(near_far):
    res = near_far.search("oil prices", proximity=1.0)
    for hit in res.hits:
        explanation = res.explain(hit)
        assert explanation.score == pytest.approx(hit.score, abs=1e-9)
        assert sum(p.score for p in explanation.parts) == pytest.approx(hit.score, abs=1e-9)
    bonus = [p for p in res.explain(res.hits[0]).parts if p.query == "proximity"]
    assert bonus and bonus[0].score > 0 and "oil" in bonus[0].term
    line = next(ln for ln in str(res.explain(res.hits[0])).splitlines() if "proximity" in ln)
    assert "pair tf=" in line and "idf=" not in line  # the bonus has no idf of its own


def test_feedback_finds_a_paragraph_through_expansion_terms(feedback_index):
    plain = feedback_index.search("opec", k=10)
    assert "quota" not in [h.article_id for h in plain.hits]
    expanded = feedback_index.search("opec", k=10, prf=Feedback(fb_docs=3, fb_terms=3))
    assert "quota" in [h.article_id for h in expanded.hits]
    assert {h.article_id for h in expanded.hits}.isdisjoint({"wheat", "corn"})
    parts = expanded.explain(next(h for h in expanded.hits if h.article_id == "quota")).parts
    assert {p.query for p in parts} <= {"prf:quota", "prf:output"} and parts


def test_prf_true_changes_scores_and_explanations_add_up(feedback_index):
    res = feedback_index.search("opec talks", k=10, prf=True, proximity=1.0)
    assert [(h.article_id, h.score) for h in res.hits] != [
        (h.article_id, h.score) for h in feedback_index.search("opec talks", k=10).hits]
    for hit in res.hits:
        assert res.explain(hit).score == pytest.approx(hit.score, abs=1e-9)
        assert feedback_index.explain("opec talks", hit, prf=True, proximity=1.0).score == (
            pytest.approx(hit.score, abs=1e-9))


def test_feedback_keeps_required_words_required(feedback_index):
    hits = feedback_index.search("+opec talks", k=10, prf=True).hits
    assert hits and all(h.article_id.startswith("a") for h in hits)


def test_bad_second_stage_arguments_are_one_line_errors(near_far):
    for bad in (-1.0, float("nan"), "near", True):
        with pytest.raises(InvalidArgument, match="proximity"):
            near_far.search("oil prices", proximity=bad)
    with pytest.raises(InvalidArgument, match="prf"):
        near_far.search("oil prices", prf="yes")
    with pytest.raises(InvalidArgument, match="feedback"):
        Feedback(fb_docs=0)
    with pytest.raises(InvalidArgument, match="proximity"):
        Proximity(depth=0)


def test_cli_prf_and_proximity_change_the_ranking(feedback_index, near_far):
    runner = CliRunner(env={"NO_COLOR": "1", "SEARCHLIB_INDEX": None})
    args = ["search", "--json", "--index", str(feedback_index.root), "-k", "10", "opec"]
    plain, fed = (runner.invoke(cli, args + extra) for extra in ([], ["--prf"]))
    assert plain.exit_code == fed.exit_code == 0, fed.output

    def ids(result):
        rows = [json.loads(line) for line in result.output.splitlines()]
        return [r["article"] for r in rows if r["type"] == "hit"]

    assert "quota" in ids(fed) and "quota" not in ids(plain)
    near = runner.invoke(cli, ["search", "--index", str(near_far.root), "--proximity", "2",
                               "--explain", "oil", "prices"])
    assert near.exit_code == 0 and "proximity" in near.output
    bad = runner.invoke(cli, ["search", "--index", str(near_far.root), "--proximity", "-1",
                              "oil"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_shell_toggles_feedback_and_sets_proximity(feedback_index):
    runner = CliRunner(env={"NO_COLOR": "1", "SEARCHLIB_INDEX": None})
    script = "opec\n:prf\nopec\n:proximity x\n:proximity 0\n"
    out = runner.invoke(cli, ["shell", "--index", str(feedback_index.root)], input=script)
    assert out.exit_code == 0, out.output
    assert "feedback: on" in out.output and "proximity: off" in out.output
    assert "usage: :proximity W" in out.output
    first, second = out.output.split("feedback: on")
    assert "[quota]" not in first and "[quota]" in second


@pytest.mark.parametrize("query", ["north korea artillery shells", '"artillery shells" russia',
                                   "+korea missile -japan", "Acemolgu economist", "war"])
def test_every_hit_is_explained_with_both_stages_on(seed_index, query):
    res = seed_index.search(query, k=20, prf=True, proximity=0.5)
    assert res.hits
    for hit in res.hits:
        explanation = res.explain(hit)
        assert explanation.score == pytest.approx(hit.score, abs=1e-9), (query, hit.paragraph)
        assert sum(p.score for p in explanation.parts) == pytest.approx(hit.score, abs=1e-9)


def test_second_stages_say_when_they_do_not_apply(feedback_index):
    plain = feedback_index.search("opec", articles=True)
    res = feedback_index.search("opec", articles=True, prf=True)
    assert any("feedback and proximity" in w for w in res.warnings)
    assert not plain.warnings
    assert [(h.article_id, h.score) for h in res.hits] == [
        (h.article_id, h.score) for h in plain.hits]


def test_feedback_with_nothing_to_add_leaves_the_ranking_as_it_was(tmp_path):
    """Top paragraphs of numbers alone give the relevance model no word: the first run's
    hits and scores stand (they were scaled by the original weight and searched again)."""
    records = [{"id": "n1", "title": "", "text": "1987 1988 1989"},
               {"id": "n2", "title": "", "text": "1987 2001 2002 2003"}]
    idx = searchlib.Index.build([_write(tmp_path, records)], tmp_path / "index")
    plain, fed = (idx.search("1987", prf=p, fuzzy=False) for p in (False, True))
    assert [(h.article_id, h.score) for h in fed.hits] == [
        (h.article_id, h.score) for h in plain.hits]
    assert len(plain.hits) == 2
