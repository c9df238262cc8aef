"""The core engine on the seed article: what a reader searching it would notice."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import searchlib
from searchlib import QuerySyntaxError

from .conftest import SEED_ID


def paragraphs(res) -> list[int]:
    return [h.paragraph for h in res.hits]


def test_seed_article_is_indexed_as_13_paragraphs(seed_index):
    stats = seed_index.stats()
    assert (stats.articles, stats.paragraphs) == (1, 13)
    title, paras = seed_index.article(SEED_ID)
    assert len(paras) == 13 and "Kim Jong-un" in paras[3]


def test_artillery_shells_ranks_its_paragraph_first(seed_index):
    res = seed_index.search("artillery shells")
    assert res.hits[0].paragraph == 2
    assert res.hits[0].article_id == SEED_ID
    hit = res.hits[0]
    marked = [hit.text[s:e] for s, e in hit.spans]
    assert marked == ["artillery", "shells"]


def test_phrase_order_matters(seed_index):
    assert paragraphs(seed_index.search('"artillery shells"')) == [2]
    assert seed_index.search('"shells artillery"').total == 0


def test_stemming_and_apostrophes(seed_index):
    assert 6 in paragraphs(seed_index.search("sanction"))
    # paragraph 7 writes "North Korea’s" with a curly apostrophe
    curly = seed_index.search("North Korea's", k=13)
    assert 7 in paragraphs(curly)
    assert seed_index.search('"North Korea\'s support"').hits[0].paragraph == 7


@pytest.mark.parametrize("query", ["Kim Jong-un", "jong-un", "Jong-Un", '"kim jong un"', "jong"])
def test_hyphenated_names(seed_index, query):
    res = seed_index.search(query)
    assert res.hits[0].paragraph == 4
    assert not res.warnings  # never read as NOT


def test_hyphenated_parts_and_whole(seed_index):
    assert paragraphs(seed_index.search("Il-sung")) == [3]
    assert paragraphs(seed_index.search("alliance-building")) == [12]
    assert paragraphs(seed_index.search('"alliance building"')) == [12]


def test_boolean_operators(seed_index):
    both = seed_index.search("missile AND Japan", k=20)
    assert paragraphs(both) == [10]
    for q in ("missile NOT Japan", "missile -japan", "missile AND NOT japan"):
        res = seed_index.search(q, k=20)
        assert res.total >= 2
        assert 10 not in paragraphs(res)
        assert all("missile" in h.text.lower() for h in res.hits)
    plus = seed_index.search("+japan korea", k=20)
    assert paragraphs(plus) == [10]


def test_typo_gets_fuzzy_hit_and_did_you_mean(seed_index):
    res = seed_index.search("Acemolgu")
    assert res.hits and res.hits[0].paragraph == 9
    assert res.hits[0].fuzzy
    assert res.did_you_mean and res.did_you_mean.lower() == "acemoglu"
    assert [res.hits[0].text[s:e] for s, e in res.hits[0].spans] == ["Acemoglu"]


def test_fuzzy_can_be_switched_off(seed_index):
    res = seed_index.search("Acemolgu", fuzzy=False)
    assert res.total == 0 and res.did_you_mean is None
    assert any("Acemolgu" in w for w in res.warnings)


def test_exact_hits_are_not_flagged_fuzzy(seed_index):
    assert not any(h.fuzzy for h in seed_index.search("acemoglu").hits)


def test_forced_fuzzy_and_prefix(seed_index):
    res = seed_index.search("acemolgu~")
    assert paragraphs(res) == [9] and res.hits[0].fuzzy
    res = seed_index.search("acemog*")
    assert paragraphs(res) == [9] and not res.hits[0].fuzzy
    assert 6 in paragraphs(seed_index.search("sanctions*", k=13))


def test_title_field(seed_index):
    res = seed_index.search("title:ukraine", k=20)
    assert paragraphs(res) == [1] and res.total == 1  # its article, shown by its first paragraph
    assert seed_index.search("title:acemoglu").total == 0
    assert paragraphs(seed_index.search("text:acemoglu")) == [9]


def test_default_operator_and(seed_index):
    any_word = seed_index.search("acemoglu japan", k=20)
    both = seed_index.search("acemoglu japan", k=20, default_operator="AND")
    assert sorted(paragraphs(any_word)) == [9, 10]
    assert both.total == 0


def test_strict_mode_raises_with_position(seed_index):
    with pytest.raises(QuerySyntaxError) as err:
        seed_index.search("(a OR", strict=True)
    assert 0 <= err.value.position <= len("(a OR")
    assert seed_index.search("(a OR").total >= 0  # lenient: no exception


NASTY = [
    '"', '""', '"""', "(((", ")))", "()", "AND", "OR", "NOT", "AND OR NOT", "*", "**", "~", "~~",
    "title:", "text:", "title:(", ":", "", " ", "\t\n", "(" * 10_000, ")" * 5000,
    "a" * 10_000, "+", "-", "+-+-", "!", "\\", '"\\"', "^", "a^^", "korea^2", "a~~~", "*korea",
    "ko*rea", "🙂 korea 🙂", "\x00\x1b[31mred\x1b[0m", "korea AND", "OR korea", '"north korea',
    "title:korea)", "NOT NOT NOT", "-(korea)", "((korea) OR (", "северная корея", "كوريا",
    "the of and", '"the of"', "title:the", "jong-", "-jong", "--", "'", "'s", "e.g.", "3.5~",
    "korea~9", "a" * 300 + "~", '"korea"~x', "field:value", "http://example.com/?q=1",
]


@pytest.mark.parametrize("query", NASTY)
def test_nasty_queries_never_raise_in_lenient_mode(seed_index, query):
    res = seed_index.search(query)
    assert res.total >= 0 and isinstance(res.warnings, list)
    for hit in res.hits:
        assert all(0 <= s < e <= len(hit.text) for s, e in hit.spans)


def test_explain_adds_up_to_the_score(seed_index):
    for query in ("artillery shells", '"north korea" russia', "Acemolgu", "missile -japan"):
        res = seed_index.search(query)
        for hit in res.hits[:3]:
            exp = seed_index.explain(query, hit)
            assert exp.score == pytest.approx(hit.score, rel=1e-9)
            assert all(p.idf > 0 and p.tf >= 1 for p in exp.parts)
    top = seed_index.search("artillery shells").hits[0]
    text = str(seed_index.explain("artillery shells", top))
    assert "idf=" in text and "tf=1" in text


def test_stopword_gaps_in_phrases(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(
        "Reports on the war in Ukraine continue.\n"
        "Ukraine war in the east.\n"
        "The war Ukraine fought alone.\n"
        "A war in the Ukraine of old.\n"
    )
    idx = searchlib.Index.build([docs], tmp_path / "idx")
    assert paragraphs(idx.search('"war in Ukraine"')) == [1]
    # slop 1: Ukraine one position early (3) or late (4) also matches
    assert sorted(paragraphs(idx.search('"war in Ukraine"~1', k=10))) == [1, 3, 4]
    assert idx.search("in").total == 0 and idx.search("in").warnings


def test_json_records_keep_their_ids(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    records = [
        {"id": "doc-7", "title": "Cocoa review", "text": "Showers in Bahia.\n\nCocoa crop up."},
        {"_id": 42, "title": "Oil", "paragraphs": ["OPEC meets.", "Prices fall."]},
    ]
    (data / "c.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    idx = searchlib.Index.build([data], tmp_path / "idx")
    hit = idx.search("cocoa crop").hits[0]
    assert (hit.article_id, hit.paragraph, hit.title) == ("doc-7", 2, "Cocoa review")
    assert idx.search("prices").hits[0].article_id == "42"


def test_library_import_does_not_pull_cli_dependencies():
    """The library, and the evaluation package, load none of the CLI's or engines' modules."""
    code = (
        "import sys, searchlib, searchlib.evaluation, searchlib.evaluation.suite,"
        " searchlib.evaluation.peers; idx = searchlib.Index\n"
        "heavy = {'click', 'tabulate', 'prompt_toolkit', 'whoosh', 'bm25s', 'tantivy'}\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_title_matches_count_but_not_inside_not(seed_index):
    """The seed article's title says "Ukraine": it adds to the score of the paragraphs that
    say it (and would reach the others, but the article's text matches, so they are left
    out), but NOT ukraine only excludes paragraphs that say it."""
    res = seed_index.search("ukraine", k=13)
    assert res.total == 5 == len(res.hits)
    assert all("ukraine" in h.text.lower() and h.spans for h in res.hits)
    no_title = seed_index.search("ukraine", k=13, title_boost=0)
    assert sorted(paragraphs(res)) == sorted(paragraphs(no_title))
    assert all(a.score > b.score for a, b in zip(sorted(res.hits, key=lambda h: h.paragraph),
                                                 sorted(no_title.hits, key=lambda h: h.paragraph)))
    excluded = seed_index.search("russia NOT ukraine", k=13)
    assert excluded.total >= 3
    assert all("ukraine" not in h.text.lower() and "russia" in h.text.lower()
               for h in excluded.hits)
    assert seed_index.search("russia NOT title:ukraine").total == 0


def test_typo_inside_a_phrase_is_corrected_and_flagged(seed_index):
    res = seed_index.search('"artilery shells"')
    assert [h.paragraph for h in res.hits] == [2] and res.hits[0].fuzzy
    assert res.did_you_mean == '"artillery shells"'
    assert seed_index.search('"artilery shells"', fuzzy=False).total == 0
    exp = seed_index.explain('"artilery shells"', res.hits[0])
    assert exp.score == pytest.approx(res.hits[0].score, rel=1e-9)
