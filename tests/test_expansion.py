"""Prefixes, the typo fallback's gate, and title-only matches: what a user sees in the hits."""

from __future__ import annotations

import json

import pytest

import searchlib

from .conftest import need_datasets


def build(tmp_path, files: dict[str, str]) -> searchlib.Index:
    src = tmp_path / "src"
    src.mkdir()
    for name, text in files.items():
        (src / name).write_text(text)
    return searchlib.Index.build([src], tmp_path / "idx")


def texts(res) -> list[str]:
    return [h.text for h in res.hits]


# -- prefixes --------------------------------------------------------------------------------

COMMUNIS = {
    "a.txt": "World news\n\n"
             "Viva el COMMUNISMO, the banner said.\n\n"
             "The communist party met; communist leaders spoke.\n\n"
             "Communism fell in 1989.\n\n"
             "A joint communique was issued.\n\n"
             "Communication lines were cut.\n\n"
             "Communists marched.\n\n"
             "The communist vote rose.\n",
}


def test_prefix_matches_words_that_start_with_what_was_typed(tmp_path):
    idx = build(tmp_path, COMMUNIS)
    res = idx.search("communis*", k=20)
    found = " ".join(texts(res)).lower()
    assert "communique" not in found and "communication" not in found
    assert res.total == 5
    for words in ("communist party", "communism fell", "communists marched", "communismo"):
        assert words in found
    assert not any(h.fuzzy for h in res.hits)


def test_a_rare_word_sharing_the_prefix_does_not_outrank_the_common_ones(tmp_path):
    """COMMUNISMO is in one paragraph; its idf alone must not put it first."""
    idx = build(tmp_path, COMMUNIS)
    res = idx.search("communis*", k=20)
    assert "communist leaders" in res.hits[0].text  # the paragraph saying it twice
    assert "COMMUNISMO" not in res.hits[0].text
    for hit in res.hits:  # the score is explained as one word, and adds up
        assert idx.explain("communis*", hit).score == pytest.approx(hit.score, rel=1e-9)


def test_prefix_without_the_word_cache_uses_each_terms_word(tmp_path):
    """The word → stem cache is only a cache: without it, prefixes still find words."""
    build(tmp_path, COMMUNIS).close()
    for cache in (tmp_path / "idx").glob("stems-*.tsv"):
        cache.unlink()
    found = " ".join(texts(searchlib.Index.open(tmp_path / "idx").search("communis*", k=20)))
    assert "communist party" in found and "Communism fell" in found
    assert "communique" not in found


def test_prefix_of_a_number_and_of_a_word_the_index_lacks(tmp_path):
    idx = build(tmp_path, COMMUNIS)
    assert texts(idx.search("198*")) == ["Communism fell in 1989."]
    res = idx.search("zebr*")
    assert res.total == 0 and any("zebr*" in w for w in res.warnings)


# -- the typo fallback's gate ---------------------------------------------------------------

FED = {
    "fed.jsonl": "\n".join(json.dumps(r) for r in [
        {"id": "v1", "title": "Fed chairman", "paragraphs": [
            "Paul Volcker spoke on inflation.", "Volcker warned of rates.",
            "Volcker again.", "Markets heard Volcker.", "Volcker left."]},
        {"id": "v2", "title": "Ford praises nominee", "paragraphs": [
            "Ford praised Volker's record.", "The void of Volker's departure."]},
    ]),
}


def test_a_rare_word_gets_a_did_you_mean_for_a_common_close_word(tmp_path):
    """Volker is in 2 paragraphs (fewer than 3): close words are tried, as the README says."""
    idx = build(tmp_path, FED)
    res = idx.search("Volker", k=10)
    assert res.did_you_mean == "Volcker"
    assert res.total == 7
    exact = [h for h in res.hits if not h.fuzzy]
    assert sorted(h.article_id for h in exact) == ["v2", "v2"]
    assert all("Volcker" in h.text for h in res.hits if h.fuzzy)


def test_a_word_in_many_paragraphs_is_not_widened(tmp_path):
    idx = build(tmp_path, FED)
    res = idx.search("Volcker")
    assert res.did_you_mean is None and not res.fuzzy
    # the query matches fewer than 3 paragraphs, but Volcker is in 5: left alone
    res = idx.search("Volcker AND inflation")
    assert res.total == 1 and res.did_you_mean is None and not res.fuzzy


@pytest.fixture(scope="module")
def reuters(tmp_path_factory) -> searchlib.Index:
    corpus = need_datasets() / "reuters21578" / "corpus.jsonl"
    if not corpus.is_file():
        pytest.skip(f"{corpus} not found")
    return searchlib.Index.build([corpus], tmp_path_factory.mktemp("reuters") / "idx")


def test_volker_suggests_volcker_on_reuters(reuters):
    res = reuters.search("Volker", k=10)
    assert res.did_you_mean == "Volcker"
    assert any(h.fuzzy for h in res.hits) and not all(h.fuzzy for h in res.hits)
    clean = reuters.search("Volcker")
    assert clean.did_you_mean is None and not clean.fuzzy


def test_communis_prefix_on_reuters(reuters):
    res = reuters.search("communis*", k=50)
    marked = {h.text[a:b].lower() for h in res.hits for a, b in h.spans}
    assert {"communist", "communism"} <= marked
    assert all(w.startswith("communis") for w in marked)  # no communique, communication


# -- title-only matches ---------------------------------------------------------------------

COCOA = {
    "c.jsonl": "\n".join(json.dumps(r) for r in [
        {"id": "review", "title": "Cocoa review", "paragraphs": [
            "Showers in Bahia.", "Farmers are hopeful.", "Arrivals were slow."]},
        {"id": "prices", "title": "Cocoa prices", "paragraphs": [
            "Futures rose.", "Cocoa closed higher in London.", "Traders were quiet."]},
        {"id": "coffee", "title": "Coffee", "paragraphs": [
            "Coffee fell.", "Cocoa and sugar were steady."]},
    ]),
}


def test_a_title_only_match_shows_one_paragraph_per_article(tmp_path):
    idx = build(tmp_path, COCOA)
    res = idx.search("title:cocoa", k=10)
    assert sorted((h.article_id, h.paragraph) for h in res.hits) == [("prices", 1),
                                                                     ("review", 1)]
    assert res.total == 2


def test_text_matches_stand_for_their_article(tmp_path):
    idx = build(tmp_path, COCOA)
    res = idx.search("cocoa", k=10)
    got = sorted((h.article_id, h.paragraph) for h in res.hits)
    # "prices" says cocoa in ¶2 (and its title lends it more); "review" only in its title
    assert got == [("coffee", 2), ("prices", 2), ("review", 1)]
    assert res.total == 3
    assert idx.search("cocoa", k=10, articles=True).total == 3


def test_the_first_remaining_paragraph_stands_for_a_title_match(tmp_path):
    idx = build(tmp_path, COCOA)
    res = idx.search("title:cocoa -bahia", k=10)
    assert sorted((h.article_id, h.paragraph) for h in res.hits) == [("prices", 1),
                                                                     ("review", 2)]
