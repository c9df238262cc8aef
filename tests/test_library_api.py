"""The library as an embedding program sees it: argument errors, messages and warnings."""

from __future__ import annotations

import json
import re
import shutil

import pytest

import searchlib
from searchlib import InvalidArgument, SearchlibError
from searchlib.query import MAX_WARNINGS

from .conftest import SEEDS

# a CLI command in a message is no help to a program that embeds the library
CLI_ADVICE = re.compile(r"searchlib (index|check|search)|--rebuild")


@pytest.mark.parametrize("kwargs", [
    {"k": 0}, {"k": -3}, {"k": 2.5}, {"k": "ten"}, {"k": None}, {"default_operator": "XOR"},
    {"default_operator": None}, {"k1": -1}, {"b": 2.0}, {"title_boost": -0.5},
    {"k1": float("nan")},
])
def test_bad_search_arguments_are_searchlib_errors(seed_index, kwargs):
    with pytest.raises(InvalidArgument) as err:
        seed_index.search("korea", **kwargs)
    assert isinstance(err.value, SearchlibError) and isinstance(err.value, ValueError)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("kwargs", [{"k": 0}, {"k": -1}, {"default_operator": "XOR"},
                                    {"b": -0.1}])
def test_bad_rank_arguments_are_searchlib_errors(seed_index, kwargs):
    with pytest.raises(InvalidArgument):
        seed_index.rank("korea", **kwargs)


def test_bad_open_and_build_arguments_are_searchlib_errors(seed_index, tmp_path):
    with pytest.raises(InvalidArgument, match="k1"):
        searchlib.Index.open(seed_index.root, k1=-1)
    with pytest.raises(InvalidArgument, match="stemmer"):
        searchlib.Index.build([SEEDS], tmp_path / "idx", stemmer="lancaster")
    assert not (tmp_path / "idx").exists()  # refused before anything was written


def test_library_errors_name_no_cli_command(seed_index, tmp_path):
    messages = []
    for action in (
        lambda: searchlib.Index.open(tmp_path / "missing"),
        lambda: searchlib.Index.create_or_update([SEEDS], seed_index.root, stemmer="porter"),
    ):
        with pytest.raises(SearchlibError) as err:
            action()
        messages.append(str(err.value))
    newer = tmp_path / "newer"
    shutil.copytree(seed_index.root, newer)
    manifest = json.loads((newer / "manifest.json").read_text())
    manifest["version"] = 99
    (newer / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(searchlib.IncompatibleIndex) as err:
        searchlib.Index.open(newer)
    messages.append(str(err.value))
    assert "no index at" in messages[0] and "stemmer=snowball" in messages[1]
    assert "rebuild" in messages[1] and "rebuild" in messages[2]
    for message in messages:
        assert not CLI_ADVICE.search(message), message


def test_a_question_gives_one_warning_naming_its_stopwords(seed_index):
    res = seed_index.search("did the fed raise the discount rate?")
    stop_lines = [w for w in res.warnings if "stopword" in w]
    assert stop_lines == ["stopwords ignored: did, the"]
    assert len(res.warnings) == len(set(res.warnings))


def test_a_single_stopword_is_named_in_the_singular(seed_index):
    assert "stopword ignored: the" in seed_index.search("the korea").warnings


def test_a_huge_query_reports_a_handful_of_warnings(seed_index):
    words = ["the", "of", "a", "Korea", "and", "zzqx", "to", "in", "(", ")", "OR", "*x"]
    text = " ".join(f"{words[i % len(words)]}{i if i % 6 == 5 else ''}" for i in range(1500))
    res = seed_index.search(text[:10_000])
    assert 1 <= len(res.warnings) <= MAX_WARNINGS
    assert all(len(w) < 300 for w in res.warnings)
    assert re.fullmatch(r"… and \d+ more", res.warnings[-1])


def test_title_only_hits_have_no_spans_and_the_readme_loop_copes(seed_index):
    hits = [h for h in seed_index.search("title:ukraine", k=13).hits if not h.spans]
    assert hits, "a title-only match marks no word of the paragraph"
    for hit in hits:  # the README's loop
        print(hit.article_id, hit.paragraph, [hit.text[s:e] for s, e in hit.spans])
