"""Tokenization and normalization as a reader sees them: what a query finds and what is marked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources

import pytest

import searchlib
from searchlib import IncompatibleIndex
from searchlib.analysis import stopword_list

PARAGRAPHS = {
    "att.txt": "AT&T cut its long-distance rates again.",
    "att2.txt": "ATT <T> sets phone equipment discounts.",
    "mna.txt": "M&A activity slowed in the spring.",
    "pg.txt": "Shares of Procter & Gamble rose on Monday.",
    "sp.txt": "The S&P 500 index fell two points.",
    "treaty.txt": "The U.S. and the U.K. signed the treaty in Geneva.",
    "sprint.txt": "US Sprint signed a contract with the phone company.",
    "pronoun.txt": "They told us nothing about the contract.",
    "abbrev.txt": "Officials from N.Y. and the U.S. met U.S. bankers.",
    "well.txt": "The well ran dry after the drought.",
    "we.txt": "WE'LL SEE, said the well-to-do farmer.",
    "shell.txt": "A shell exploded near the border.",
    "she.txt": "She’ll go home tomorrow, she said.",
    "korea.txt": "North Korea’s missiles worried Japan.",
    "korea2.txt": "Korea's economy grew in the third quarter.",
    "gnp.txt": "GNP data for the quarter were revised.",
    "hitrun.txt": "A hit-and-run driver fled the scene.",
    "song.txt": "The hit song topped the charts.",
    "added.txt": "The company added two new plants.",
}


@pytest.fixture(scope="module")
def idx(tmp_path_factory) -> searchlib.Index:
    src = tmp_path_factory.mktemp("analysis") / "src"
    src.mkdir()
    for name, text in PARAGRAPHS.items():
        (src / name).write_text(text + "\n", encoding="utf-8")
    return searchlib.Index.build([src], src.parent / "idx")


def found(idx: searchlib.Index, query: str) -> set[str]:
    return {h.article_id for h in idx.search(query, k=50, fuzzy=False, title_boost=0).hits}


def marked(idx: searchlib.Index, query: str, article: str) -> list[str]:
    """The text of each highlighted span of `article`'s hit for `query`."""
    for hit in idx.search(query, k=50, fuzzy=False, title_boost=0).hits:
        if hit.article_id == article:
            return [hit.text[s:e] for s, e in hit.spans]
    raise AssertionError(f"{query!r} did not find {article}")


# -- the stopword file -------------------------------------------------------------------------


def test_stopword_file_comment_words_are_not_stopwords():
    text = resources.files("searchlib").joinpath("data/stopwords_en.txt").read_text("utf-8")
    lines = [line.strip() for line in text.splitlines()]
    listed = {line for line in lines if line and not line.startswith("#")}
    comment_words = {w.lower() for line in lines if line.startswith("#") for w in line.split()}
    assert listed <= stopword_list()
    assert not (comment_words - listed) & stopword_list()
    assert {"data", "run", "list", "corpus", "cannot", "downloaded"}.isdisjoint(stopword_list())


def test_words_of_the_stopword_comment_are_searchable(idx):
    res = idx.search("GNP data", fuzzy=False)
    assert res.warnings == []
    assert found(idx, "data") == {"gnp.txt"}
    # hit-and-run is the phrase "hit _ run", not just "hit"
    assert found(idx, "hit-and-run") == {"hitrun.txt"}


# -- names with & and abbreviations with dots --------------------------------------------------


def test_ampersand_names_are_found_and_highlighted_whole(idx):
    res = idx.search("AT&T", fuzzy=False)
    assert res.warnings == [] and {h.article_id for h in res.hits} == {"att.txt", "att2.txt"}
    assert marked(idx, "AT&T", "att.txt") == ["AT&T"]
    assert marked(idx, "AT&T", "att2.txt") == ["ATT"]  # how Reuters writes it
    assert found(idx, "at&t") == found(idx, "ATT") == {"att.txt", "att2.txt"}
    assert found(idx, "M&A") == {"mna.txt"}  # not "ma", a stopword
    assert found(idx, '"S&P 500"') == {"sp.txt"}
    assert marked(idx, "S&P 500", "sp.txt") == ["S&P", "500"]
    assert found(idx, '"Procter & Gamble"') == {"pg.txt"}
    assert found(idx, '"Procter and Gamble"') == {"pg.txt"}  # a lone & is the word "and"
    assert marked(idx, '"Procter & Gamble"', "pg.txt") == ["Procter", "Gamble"]


@pytest.mark.parametrize("query", ["U.S.", "u.s.", "U.S", "US"])
def test_us_abbreviation_is_one_word_and_not_the_pronoun(idx, query):
    assert found(idx, query) == {"treaty.txt", "sprint.txt", "abbrev.txt"}
    assert marked(idx, query, "treaty.txt") == ["U.S."]
    assert marked(idx, query, "sprint.txt") == ["US"]


def test_other_abbreviations_match_their_undotted_form(idx):
    assert found(idx, "U.K.") == found(idx, "UK") == {"treaty.txt"}
    assert marked(idx, "UK", "treaty.txt") == ["U.K."]
    assert marked(idx, "n.y.", "abbrev.txt") == ["N.Y."]


def test_the_pronoun_us_is_a_stopword(idx):
    res = idx.search("us", fuzzy=False)
    assert res.total == 0 and "stopword" in res.warnings[0]


def test_stats_top_terms_hold_abbreviations_not_their_letters(idx):
    words = {w for w, _ in idx.stats(top=200).top_terms}
    assert "u.s" in words and "ny" in words
    assert not words & {"u", "n", "y", "k", "t", "p"}


# -- apostrophes -------------------------------------------------------------------------------


def test_contractions_do_not_collide_with_words(idx):
    assert found(idx, "well") == {"well.txt", "we.txt"}  # we.txt: "well-to-do"
    assert marked(idx, "well", "we.txt") == ["well"]  # not WE'LL
    assert marked(idx, "well-to-do", "we.txt") == ["well"]
    assert found(idx, "shell") == {"shell.txt"}
    assert found(idx, "hell") == set()


def test_contractions_are_their_own_terms_without_stopwords(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("well.txt", "we.txt", "shell.txt", "she.txt"):
        (src / name).write_text(PARAGRAPHS[name], encoding="utf-8")
    idx = searchlib.Index.build([src], tmp_path / "idx", stopwords=False)
    assert found(idx, "we'll") == {"we.txt"}
    assert found(idx, "shell") == {"shell.txt"}
    assert found(idx, "she'll") == found(idx, "she’ll") == {"she.txt"}


def test_possessives_still_find_the_word(idx):
    for query in ("korea", "Korea's", "Korea’s"):
        assert found(idx, query) == {"korea.txt", "korea2.txt"}
    assert marked(idx, "korea", "korea.txt") == ["Korea’s"]
    assert marked(idx, "korea", "korea2.txt") == ["Korea's"]


# -- the stemmer -------------------------------------------------------------------------------


def test_snowball_stems_added_as_add(idx):
    """NLTK's older Snowball stemmed "added" to "ad", so `add` missed it."""
    assert found(idx, "add") == {"added.txt"}


def test_porter_and_none_stemmers(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("Generously funded relational databases.")
    porter = searchlib.Index.build([src], tmp_path / "porter", stemmer="porter")
    assert porter.search("generate", fuzzy=False).total == 1  # Porter: both "gener"
    none = searchlib.Index.build([src], tmp_path / "none", stemmer="none")
    assert none.search("database", fuzzy=False).total == 0
    assert none.search("databases", fuzzy=False).total == 1


def test_searching_a_new_word_never_imports_nltk(tmp_path):
    (tmp_path / "a.txt").write_text("Okapis crossed the savanna.")
    code = (
        "import sys, searchlib\n"
        f"idx = searchlib.Index.build([{str(tmp_path / 'a.txt')!r}], {str(tmp_path / 'i')!r})\n"
        "res = idx.search('okapi zorillas')\n"
        "assert res.total == 1, res\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'nltk'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- indexes built by another analyzer ---------------------------------------------------------


def old_analyzer_index(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("AT&T and the U.S. economy.")
    root = tmp_path / "idx"
    searchlib.Index.build([src], root)
    manifest = json.loads((root / "manifest.json").read_text())
    del manifest["analyzer"]["version"]  # what an index from before analyzer versions holds
    (root / "manifest.json").write_text(json.dumps(manifest))
    return src, root


def test_an_old_analyzer_index_is_refused_until_rebuilt(tmp_path):
    src, root = old_analyzer_index(tmp_path)
    with pytest.raises(IncompatibleIndex) as err:
        searchlib.Index.open(root)
    message = str(err.value)
    assert "\n" not in message and "older analyzer" in message and "rebuild" in message
    with pytest.raises(IncompatibleIndex):  # no update mixing old and new terms either
        searchlib.Index.create_or_update([src], root)
    idx = searchlib.Index.build([src], root)
    assert idx.search("AT&T", fuzzy=False).total == 1


def test_cli_reports_an_old_analyzer_index_in_one_line(tmp_path):
    _, root = old_analyzer_index(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "SEARCHLIB_INDEX"}
    res = subprocess.run([sys.executable, "-m", "searchlib", "search", "economy", "--index",
                          str(root)], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "--rebuild" in res.stderr
    res = subprocess.run([sys.executable, "-m", "searchlib", "index", "--rebuild", "--index",
                          str(root)], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    assert searchlib.Index.open(root).search("economy").total == 1


def test_the_index_keeps_its_words_as_written(idx):
    """The word → stem file is the index's vocabulary of words as written (for prefix and
    fuzzy matching), although no query needs it for stemming any more."""
    words = idx.snapshot.word_stems
    assert words["added"] == "add" and words["missiles"] == "missil"
    assert "we'll" not in words and "well" in words
