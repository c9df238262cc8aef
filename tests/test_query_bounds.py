"""Queries that used to eat gigabytes (issue 15): whatever text a service passes to `search()`,
the answer comes in bounded memory, with a warning when a cap of the QueryBudget was hit.

Memory is measured with tracemalloc (numpy reports its arrays to it): the peak of what one
search allocates, not counting the index's own memory-mapped files. While the big shapes run,
the address space is capped too, so a regression fails with MemoryError instead of taking the
machine down (`'said ' * 4000` used to need more than 5 GB).
"""

from __future__ import annotations

import random
import resource
import time
import tracemalloc
from contextlib import contextmanager

import pytest

import searchlib
from searchlib import QueryBudget, QuerySyntaxError

from .conftest import need_datasets

MAX_MB = 300  # the goal: any query up to 100 KB in at most 300 MB over the index's own


@pytest.fixture(scope="session")
def reuters(tmp_path_factory) -> searchlib.Index:
    """Reuters-21578 (114,738 paragraphs), indexed once per session (read-only use)."""
    corpus = need_datasets() / "reuters21578" / "corpus.jsonl"
    if not corpus.is_file():
        pytest.skip(f"{corpus} not found")
    idx = searchlib.Index.build([corpus], tmp_path_factory.mktemp("reuters") / "index")
    assert idx.stats().paragraphs >= 100_000
    idx.snapshot.analyzer.stem("warming")  # import NLTK now, not inside a measured search
    return idx


@pytest.fixture(scope="session")
def words(reuters) -> list[str]:
    """The index's readable words, most frequent first."""
    terms, surfaces = reuters.snapshot.vocabulary
    df = reuters.snapshot.doc_freq
    return [w for _, w in sorted((-df(t), w) for t, w in zip(terms, surfaces))]


@contextmanager
def address_space_cap(extra_bytes: int = 3 << 30):
    try:
        with open("/proc/self/statm") as f:  # Linux: the address space in use now
            used = int(f.read().split()[0]) * resource.getpagesize()
    except OSError:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = used + extra_bytes
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard < 0 else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def measured(idx: searchlib.Index, query: str, **options) -> tuple[searchlib.SearchResults, float]:
    """The results and the peak MB the search allocated."""
    tracemalloc.start()
    try:
        with address_space_cap():
            res = idx.search(query, **options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return res, peak / 2**20


def check_answer(res: searchlib.SearchResults, peak_mb: float) -> None:
    assert peak_mb <= MAX_MB
    assert res.total >= len(res.hits)
    assert all("\n" not in w and len(w) < 400 for w in res.warnings)  # one short line each
    assert len(res.warnings) <= 60  # parse and compile warnings are capped at 20 each


def ranking(res: searchlib.SearchResults) -> list[tuple[str, int]]:
    return [(h.article_id, h.paragraph) for h in res.hits]


# -- the shapes of issue 15 on the Reuters index -----------------------------------------------


@pytest.mark.parametrize("copies", [2000, 4000])
def test_a_repeated_word_is_evaluated_once_and_weighs_per_copy(reuters, copies):
    res, peak = measured(reuters, "said " * copies)
    check_answer(res, peak)
    once = reuters.search("said")
    assert res.total == once.total and ranking(res) == ranking(once)
    assert [h.score for h in res.hits] == pytest.approx([copies * h.score for h in once.hits])


def test_a_word_repeated_beyond_the_length_cap(reuters):
    res, peak = measured(reuters, "oil " * 100_000)  # 400 KB
    check_answer(res, peak)
    assert ranking(res) == ranking(reuters.search("oil"))
    assert "query is longer than 100,000 characters; the rest is ignored" in res.warnings


def test_a_repeated_prefix_is_expanded_once(reuters):
    res, peak = measured(reuters, "s* " * 200)
    check_answer(res, peak)
    assert ranking(res) == ranking(reuters.search("s*"))
    assert "'s*' matches many words; using the 128 most frequent" in res.warnings


def test_a_10k_word_and_is_capped(reuters, words):
    rng = random.Random(15)
    query = " AND ".join(rng.choice(words) for _ in range(10_000))
    res, peak = measured(reuters, query)
    check_answer(res, peak)
    assert any(w.startswith("query has more than 1024 clauses") for w in res.warnings)
    assert "fuzzy matching was tried for the first 32 words only" in res.warnings


def test_many_fuzzy_words_are_capped(reuters, words):
    rng = random.Random(2)
    query = " ".join(w + "~2" for w in rng.sample([w for w in words if len(w) > 5], 300))
    res, peak = measured(reuters, query)
    check_answer(res, peak)
    assert res.hits
    assert "fuzzy matching was tried for the first 32 words only" in res.warnings


def test_a_130_kb_word_is_not_matched_fuzzily(reuters):
    res, peak = measured(reuters, "a" * 130_000)
    check_answer(res, peak)
    assert res.total == 0
    assert any("is longer than 64 characters: no fuzzy matching" in w for w in res.warnings)


def test_a_one_letter_prefix(reuters):
    res, peak = measured(reuters, "a*")
    check_answer(res, peak)
    assert res.total > 10_000
    assert "'a*' matches many words; using the 128 most frequent" in res.warnings


def test_a_query_reading_too_many_postings_drops_its_most_frequent_words(reuters, words):
    query = " ".join(f"{w} title:{w} text:{w}" for w in words[:340])
    res, peak = measured(reuters, query)
    check_answer(res, peak)
    assert res.hits
    dropped = [w for w in res.warnings if "postings (limit 2,000,000)" in w]
    assert dropped and f"'{words[0]}'" in dropped[0]


def test_a_100_kb_random_query(reuters):
    rng = random.Random(100)
    alphabet = 'abcdefghijklmnopqrstuvwxyz     *~"()-+:ANDORNOT'
    res, peak = measured(reuters, "".join(rng.choice(alphabet) for _ in range(100_000)))
    check_answer(res, peak)
    assert any("more than 1024 clauses" in w for w in res.warnings)


# -- fuzz: random large queries ------------------------------------------------------------------


def random_query(rng: random.Random, words: list[str]) -> str:
    common, rare = words[:2000], words[-5000:]

    def word() -> str:
        pick = rng.random()
        if pick < 0.4:
            return rng.choice(common)
        if pick < 0.6:
            return rng.choice(rare)
        if pick < 0.7:
            return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzéß🙂") for _ in range(rng.randint(
                1, 90)))
        return rng.choice(common).upper()

    pieces = [
        lambda: word(), lambda: word() + "*", lambda: word()[:2] + "*",
        lambda: word() + rng.choice(["~", "~1", "~2"]),
        lambda: '"' + " ".join(word() for _ in range(rng.randint(2, 400))) + '"'
        + rng.choice(["", "~3", "~100"]),
        lambda: rng.choice(["AND", "OR", "NOT", "-", "+", "(", ")", "title:", "text:", "\\"]),
        lambda: "(" * rng.randint(1, 80), lambda: ")" * rng.randint(1, 80),
    ]
    size = rng.choice([1_000, 10_000, 100_000])
    parts, length = [], 0
    while length < size:
        parts.append(rng.choice(pieces)())
        length += len(parts[-1]) + 1
    return " ".join(parts)[:size]


def test_fuzz_large_queries_answer_in_bounded_memory_and_time(reuters, words):
    rng = random.Random(2026)
    for i in range(8):
        query = random_query(rng, words)
        options = {"default_operator": "AND"} if i % 3 == 1 else {"articles": i % 3 == 2}
        start = time.perf_counter()
        res, peak = measured(reuters, query, **options)
        seconds = time.perf_counter() - start
        check_answer(res, peak)
        # a hang guard, not a speed claim (speed is benchmarks/' business):
        # shapes like these ran for minutes (and gigabytes) before the caps
        assert seconds < 120, f"query {i} ({len(query)} chars) took {seconds:.1f} s"


# -- the budget on a small index -----------------------------------------------------------------


def test_repeated_clauses_keep_their_weight_in_scores_and_explanations(seed_index):
    single = seed_index.search("artillery shells")
    for query in ("artillery artillery shells", "Artillery artillery shells",
                  "(artillery shells) (artillery shells) artillery"):
        res = seed_index.search(query)
        assert ranking(res)[0] == ranking(single)[0]
        for hit in res.hits:
            assert seed_index.explain(query, hit).score == pytest.approx(hit.score)
    doubled = seed_index.search("artillery artillery", fuzzy=False)
    once = seed_index.search("artillery", fuzzy=False)
    assert [h.score for h in doubled.hits] == pytest.approx([2 * h.score for h in once.hits])


@pytest.mark.parametrize(("budget", "query", "warning"), [
    (QueryBudget(max_chars=10), "artillery shells korea",
     "query is longer than 10 characters; the rest is ignored"),
    (QueryBudget(max_clauses=2), "artillery shells korea",
     "query has more than 2 clauses (distinct words, phrases and groups); the rest are ignored"),
    (QueryBudget(max_postings=5), "korea artillery",
     "postings (limit 5); left out 1 of its most frequent words: 'korea'"),
    (QueryBudget(max_fuzzy_words=1), "artilery~ shels~ misile~",
     "fuzzy matching was tried for the first 1 words only"),
    (QueryBudget(max_expansions=1), "artilery~ shels~ misile~",
     "query expands to more than 1 words; 'shels~' and later prefixes or fuzzy words are "
     "ignored"),
    (QueryBudget(max_phrase_terms=2), '"north korea artillery"',
     '"north korea artillery" has more than 2 words; only its first 2 are matched'),
    (QueryBudget(), "artillery" + "y" * 60 + "~",
     "...' is longer than 64 characters: no fuzzy matching"),
])
def test_each_cap_warns_when_hit(seed_index, budget, query, warning):
    idx = searchlib.Index.open(seed_index.root, budget=budget)
    res = idx.search(query)
    assert any(warning in w for w in res.warnings)
    if budget != QueryBudget():  # the default budget is far from these small queries
        assert not any(warning in w for w in seed_index.search(query).warnings)


def test_the_cap_keeps_the_rare_words(seed_index):
    capped = searchlib.Index.open(seed_index.root, budget=QueryBudget(max_postings=5))
    assert ranking(capped.search("korea artillery", fuzzy=False)) == ranking(
        seed_index.search("artillery", fuzzy=False))


def test_strict_mode_rejects_a_query_over_the_length_cap(seed_index):
    idx = searchlib.Index.open(seed_index.root, budget=QueryBudget(max_chars=10))
    with pytest.raises(QuerySyntaxError) as err:
        idx.search("artillery shells", strict=True)
    assert err.value.position == 10
    assert idx.search("artillery", strict=True).hits
