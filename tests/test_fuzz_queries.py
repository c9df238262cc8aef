"""Fuzzing the query path end to end: whatever a user pastes into the search box, lenient
search answers (within a time bound, enforced by a watchdog so a hang fails instead of
stalling CI) and strict search either answers or raises QuerySyntaxError."""

from __future__ import annotations

import random
import signal
from contextlib import contextmanager, suppress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchlib import QuerySyntaxError

WATCHDOG_SECONDS = 5


class Hang(Exception):
    pass


@contextmanager
def watchdog(seconds: int = WATCHDOG_SECONDS):
    def fire(signum, frame):
        raise Hang(f"query took longer than {seconds}s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


PIECES = [
    "korea", "North", "Korea's", "Korea’s", "jong-un", "-", "+", "!", "AND", "OR", "NOT", "&&",
    "||", "(", ")", '"', "\\", "*", "~", "~2", "^3", ":", "title:", "text:", "TITLE:", "foo:",
    "artillery", "shells", "acemolgu", "sanctoins", "the", "in", "war", " ", "  ", "\t", "\n",
    "🙂", "é", "ß", "İ", "\u200b", "\x00", "\x1b[31m", "ﬁ", "１２３", "كوريا", "ア", "5.93", "'s",
]
query_shaped = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
any_text = st.text(max_size=300)
many_settings = settings(max_examples=1500, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture])


def check_hits(res) -> None:
    assert res.total >= len(res.hits) >= 0
    assert all("\n" not in w for w in res.warnings)  # each warning is one line
    for hit in res.hits:
        assert hit.score > 0
        assert all(0 <= s < e <= len(hit.text) for s, e in hit.spans)


@many_settings
@given(query=st.one_of(query_shaped, any_text))
def test_lenient_search_always_answers(seed_index, query):
    with watchdog():
        check_hits(seed_index.search(query))
        check_hits(seed_index.search(query, default_operator="AND", articles=True))


@many_settings
@given(query=st.one_of(query_shaped, any_text))
def test_strict_search_raises_only_syntax_errors(seed_index, query):
    with watchdog():
        try:
            check_hits(seed_index.search(query, strict=True))
        except QuerySyntaxError as err:
            assert 0 <= err.position <= len(query)
            assert "\n" not in err.message


def test_very_long_queries_finish(seed_index):
    rng = random.Random(7)
    for _ in range(30):
        query = "".join(rng.choice(PIECES) for _ in range(rng.randint(2000, 5000)))
        with watchdog():
            check_hits(seed_index.search(query))
            with suppress(QuerySyntaxError):
                seed_index.search(query, strict=True)
