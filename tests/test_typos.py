"""Typo correction (issue 14): which close word a misspelt one is taken for, and when the
fallback steps in. Small built indexes, so every expectation can be read off the texts."""

from __future__ import annotations

import json

import searchlib


def build(tmp_path, paragraphs: list[str]) -> searchlib.Index:
    """One article per paragraph (titles that match no query word)."""
    src = tmp_path / "src"
    src.mkdir()
    records = [{"id": f"a{i}", "title": f"Note {i}", "paragraphs": [p]}
               for i, p in enumerate(paragraphs)]
    (src / "notes.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    return searchlib.Index.build([src], tmp_path / "idx")


def test_a_frequent_word_beats_a_rare_equally_close_one(tmp_path):
    """"crade" is one letter from trade (5 paragraphs) and from grade (1): the user most
    likely meant the common word, so its paragraphs come first, not the rare word's (whose
    higher idf used to put it on top)."""
    idx = build(tmp_path, [*(f"The trade figures for month {m} were late." for m in "ABCDE"),
                           "The grade figures for month F were late."])
    res = idx.search("crade figures", k=6)
    assert res.did_you_mean == "trade figures"
    assert "trade" in res.hits[0].text
    assert [h for h in res.hits if "grade" in h.text][0] is res.hits[-1]


def test_a_swap_is_cheaper_than_a_substitution(tmp_path):
    """"bradn" is brand with two letters swapped, and brain with one letter changed: the
    swap is the likelier slip (both words equally common)."""
    idx = build(tmp_path, ["The brand was new.", "A brand sells.", "Brand value rose.",
                           "The brain was new.", "A brain thinks.", "Brain scans rose."])
    res = idx.search("bradn", k=6)
    assert res.did_you_mean == "brand"
    assert [("brand" in h.text.lower()) for h in res.hits] == [True] * 3 + [False] * 3


def test_a_keyboard_neighbour_is_cheaper_than_another_letter(tmp_path):
    """"wprld": p sits next to o on the keyboard (world), a does not (warld)."""
    idx = build(tmp_path, ["The world turns.", "A world apart.", "World news.",
                           "The warld turns.", "A warld apart.", "Warld news."])
    res = idx.search("wprld", k=6)
    assert res.did_you_mean == "world"
    assert all("world" in h.text.lower() for h in res.hits[:3])


def test_a_word_missing_a_letter_is_corrected_at_four_letters(tmp_path):
    """"lrge" (large without its a) is no word of the index: one edit finds large."""
    idx = build(tmp_path, ["A large wing.", "Large wings flap.", "The large tail."])
    res = idx.search("lrge wing")
    assert res.did_you_mean == "large wing"
    assert any(h.fuzzy and "large" in h.text.lower() for h in res.hits)
    assert idx.search("lrge", fuzzy=False).total == 0


LONG = ["Supersonic flow over a swept wing at high incidence.",
        "Boundary layer transition on a swept wing.",
        "Heat transfer in supersonic flow over a cone.",
        "Pressure distribution on a delta wing in supersonic flow.",
        "Buckling of thin cylindrical shells under pressure."]


def test_a_clean_query_does_not_fire_the_fallback(tmp_path):
    idx = build(tmp_path, LONG)
    query = "pressure distribution supersonic flow swept wing buckling"
    res = idx.search(query, k=10)
    assert not res.fuzzy and res.did_you_mean is None
    assert [h.score for h in res.hits] == [h.score for h in idx.search(query, fuzzy=False).hits]


def test_a_typo_in_a_long_query_that_matches_plenty_is_corrected(tmp_path):
    """The query matches every paragraph through its other words; "bukcling" is still
    corrected, and the buckling paragraph comes back to the top."""
    idx = build(tmp_path, LONG)
    res = idx.search("pressure supersonic flow swept wing bukcling shells", k=10)
    assert res.did_you_mean == "pressure supersonic flow swept wing buckling shells"
    assert "Buckling" in res.hits[0].text
