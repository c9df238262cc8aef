"""Tests for the query language: AST mapping, lenient recovery, strict errors, robustness."""

from __future__ import annotations

import random
import signal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchlib.errors import InvalidArgument, QuerySyntaxError, SearchlibError
from searchlib.query import (
    DEFAULT_FIELDS,
    MAX_WARNINGS,
    Bool,
    Fuzzy,
    Node,
    ParsedQuery,
    Phrase,
    Prefix,
    Term,
    capped,
    parse,
)

a, b, c, d = Term("a"), Term("b"), Term("c"), Term("d")


def root(text: str, **kwargs: object) -> Node | None:
    return parse(text, **kwargs).root  # type: ignore[arg-type]


def leaves(node: Node | None) -> list[Node]:
    if node is None:
        return []
    if isinstance(node, Bool):
        return [
            leaf for child in (*node.must, *node.should, *node.must_not) for leaf in leaves(child)
        ]
    return [node]


# --- grammar: every mapping of the spec ------------------------------------------------------

MAPPINGS: list[tuple[str, Node | None]] = [
    # single clause collapses, juxtaposition is OR by default
    ("a", a),
    ("a b", Bool(should=(a, b))),
    ("a AND b", Bool(must=(a, b))),
    ("a && b", Bool(must=(a, b))),
    ("a OR b", Bool(should=(a, b))),
    ("a || b", Bool(should=(a, b))),
    ("a AND b AND c", Bool(must=(a, b, c))),
    # operators only in upper case
    ("a and b", Bool(should=(a, Term("and"), b))),
    ("a or not b", Bool(should=(a, Term("or"), Term("not"), b))),
    ("a Or b", Bool(should=(a, Term("Or"), b))),
    # precedence: unary > AND > OR/juxtaposition
    ("a OR b AND c", Bool(should=(a, Bool(must=(b, c))))),
    ("a b AND c", Bool(should=(a, Bool(must=(b, c))))),
    ("a AND b OR c", Bool(should=(Bool(must=(a, b)), c))),
    ("a AND b c AND d", Bool(should=(Bool(must=(a, b)), Bool(must=(c, d))))),
    # exclusion and requirement
    ("a NOT b", Bool(should=(a,), must_not=(b,))),
    ("a -b", Bool(should=(a,), must_not=(b,))),
    ("a !b", Bool(should=(a,), must_not=(b,))),
    ("a AND NOT b", Bool(must=(a,), must_not=(b,))),
    ("a AND -b", Bool(must=(a,), must_not=(b,))),
    ("+a b -c", Bool(must=(a,), should=(b,), must_not=(c,))),
    ("+a", a),
    ("-(a b)", Bool(must_not=(Bool(should=(a, b)),))),
    ("a -(b OR c)", Bool(should=(a,), must_not=(Bool(should=(b, c)),))),
    # hyphens inside words are never operators
    ("jong-un", Term("jong-un")),
    ("Kim Jong-un", Bool(should=(Term("Kim"), Term("Jong-un")))),
    ("Il-sung alliance-building", Bool(should=(Term("Il-sung"), Term("alliance-building")))),
    ("a-b-c", Term("a-b-c")),
    ("-jong-un", Bool(must_not=(Term("jong-un"),))),
    ("Korea's U.S.", Bool(should=(Term("Korea's"), Term("U.S.")))),
    ("wow! c++", Bool(should=(Term("wow!"), Term("c++")))),
    # grouping
    ("(a OR b) AND c", Bool(must=(Bool(should=(a, b)), c))),
    ("((a))", a),
    ("(a OR (b AND (c OR d)))", Bool(should=(a, Bool(must=(b, Bool(should=(c, d))))))),
    ("(a)(b)", Bool(should=(a, b))),
    # phrases
    ('"artillery shells"', Phrase("artillery shells")),
    ('"x y"~3', Phrase("x y", slop=3)),
    ('"say \\"hi\\""', Phrase('say "hi"')),
    ('"a (b) OR -c"', Phrase("a (b) OR -c")),
    ('"x y" z', Bool(should=(Phrase("x y"), Term("z")))),
    # fields
    ("title:korea", Term("korea", field="title")),
    ("Title:korea", Term("korea", field="title")),
    ("TEXT:korea", Term("korea", field="text")),
    ('text:"x y"', Phrase("x y", field="text")),
    ('text:"x y"~2', Phrase("x y", field="text", slop=2)),
    ("title:(a OR b)", Bool(should=(Term("a", "title"), Term("b", "title")))),
    ("title:(a text:b)", Bool(should=(Term("a", "title"), Term("b", "text")))),
    ("title:kor*", Prefix("kor", field="title")),
    ("title:acemolgu~1", Fuzzy("acemolgu", field="title", edits=1)),
    ("title:AND", Term("AND", field="title")),
    ("-title:japan", Bool(must_not=(Term("japan", "title"),))),
    ("10:30", Term("10:30")),  # a time, not a field
    ("http://example.com/a", Term("http://example.com/a")),
    (r"foo\:bar", Term("foo:bar")),  # an escaped colon is text
    ("title:foo:bar", Term("foo:bar", field="title")),
    # wildcards and fuzzy
    ("korea*", Prefix("korea")),
    ("korea**", Prefix("korea")),
    ("acemolgu~", Fuzzy("acemolgu")),
    ("word~1", Fuzzy("word", edits=1)),
    ("word~2", Fuzzy("word", edits=2)),
    ("word~0", Term("word")),
    # backslash escapes make operator characters literal
    ("\\-japan", Term("-japan")),
    ("a\\*", Term("a*")),
    ("\\(a\\)", Term("(a)")),
]


@pytest.mark.parametrize(("text", "expected"), MAPPINGS)
def test_mapping(text: str, expected: Node | None) -> None:
    assert root(text) == expected
    assert root(text, strict=True) == expected  # valid queries parse the same way in strict mode


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a b", Bool(must=(a, b))),
        ("a OR b", Bool(should=(a, b))),
        ("+a b -c", Bool(must=(a, b), must_not=(c,))),
        ("a NOT b", Bool(must=(a,), must_not=(b,))),
        ("a b OR c", Bool(should=(Bool(must=(a, b)), c))),  # juxtaposition binds like AND
    ],
)
def test_default_and(text: str, expected: Node) -> None:
    assert root(text, default_operator="AND") == expected
    assert root(text, default_operator="and") == expected


def test_unknown_default_operator_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="default_operator"):
        parse("a", default_operator="XOR")
    with pytest.raises(SearchlibError):  # catchable like every other searchlib error
        parse("a", default_operator=None)  # type: ignore[arg-type]
    assert issubclass(InvalidArgument, ValueError) and issubclass(InvalidArgument, SearchlibError)


def test_fields_come_from_the_argument() -> None:
    body = frozenset({"body"})
    assert root("body:x", fields=body) == Term("x", field="body")
    assert root("title:x", fields=body) == Term("title:x")
    assert root("Body:x", fields=frozenset({"Body"})) == Term("x", field="Body")


def test_leaves_keep_the_raw_text() -> None:
    assert root("KOREA's Nuclear") == Bool(should=(Term("KOREA's"), Term("Nuclear")))
    assert root('"The  U.S.   Army"') == Phrase("The  U.S.   Army")


def test_parsed_query_keeps_the_text_and_is_immutable() -> None:
    parsed = parse("a OR b")
    assert isinstance(parsed, ParsedQuery)
    assert parsed.text == "a OR b" and parsed.warnings == ()
    with pytest.raises(AttributeError):
        parsed.root = None  # type: ignore[misc]


def test_valid_queries_have_no_warnings() -> None:
    for text, expected in MAPPINGS:
        only_excluded = isinstance(expected, Bool) and not expected.must and not expected.should
        expected_warnings = ("query has only excluded terms; nothing to match",) * only_excluded
        assert parse(text).warnings == expected_warnings, text


# --- lenient recovery ------------------------------------------------------------------------

RECOVERY: list[tuple[str, Node | None, str]] = [
    ('"artillery shells', Phrase("artillery shells"), "unbalanced quote at 0: treated as closed"),
    ('x "y z', Bool(should=(Term("x"), Phrase("y z"))), "unbalanced quote at 2"),
    ("(a OR b", Bool(should=(a, b)), "missing closing parenthesis at 0"),
    ("a OR b)", Bool(should=(a, b)), "unmatched closing parenthesis at 6"),
    (")a(", a, "unmatched closing parenthesis at 0"),
    ("a AND", a, "AND needs a term after it at 2"),
    ("AND b", b, "AND needs a term before it at 0"),
    ("a OR OR b", Bool(should=(a, b)), "OR cannot follow OR at 5"),
    ("a AND OR b", Bool(must=(a, b)), "OR cannot follow AND at 6: ignored"),
    ("NOT", None, "NOT needs a term after it at 0"),
    ("a NOT", a, "NOT needs a term after it at 2"),
    ("+", None, "'+' must be directly followed by a term at 0"),
    ("-", None, "'-' must be directly followed by a term at 0"),
    ("a - b", Bool(should=(a, b)), "'-' must be directly followed by a term at 2"),
    ("NOT NOT a", Bool(must_not=(a,)), "NOT cannot follow NOT at 4"),
    ("title:", None, "field 'title:' has no value at 0"),
    ("title: korea", Term("korea"), "field 'title:' has no value at 0"),
    ("(title:)", None, "field 'title:' has no value at 1"),
    ('""', None, "empty phrase at 0"),
    ('a "  "', a, "empty phrase at 2"),
    ("()", None, "empty parentheses at 0"),
    ("*", None, "'*' needs a word before it"),
    ("**", None, "'*' needs a word before it"),
    ("*abc", None, "leading wildcard"),
    ("a*b", Term("a*b"), "wildcard inside a word is not supported at 1"),
    ("word~5", Fuzzy("word", edits=2), "fuzzy edit distance 5 is too large (max 2) at 4"),
    ("word~99999999999999999999", Fuzzy("word", edits=2), "too large"),
    ("~", None, "'~' needs a word before it at 0"),
    ("a~~~", Fuzzy("a"), "invalid fuzzy suffix '~~~' at 1"),
    ("kor*~", Fuzzy("kor"), "wildcard cannot be combined with '~' at 3"),
    ("korea^2", Term("korea"), "boost (^) is not supported at 5"),
    ("a^^", a, "boost (^) is not supported at 1"),
    ('"x y"^2', Phrase("x y"), "boost (^) is not supported at 5"),
    ('"x y"~z', Phrase("x y"), "phrase slop must be a whole number"),
    ('"x y"~999999', Phrase("x y", slop=100), "phrase slop 999999 is too large"),
    ("foo:bar", Term("foo:bar"), "unknown field 'foo' (fields: text, title) at 0: searched as "
     "plain text"),
    ("korea Author:smith", Bool(should=(Term("korea"), Term("Author:smith"))),
     "unknown field 'Author' (fields: text, title) at 6"),
    ("foo:(a b)", Bool(should=(Term("foo:"), Bool(should=(a, b)))),
     "unknown field 'foo' (fields: text, title) at 0"),
]


@pytest.mark.parametrize(("text", "expected", "warning"), RECOVERY)
def test_lenient_recovers_and_explains(text: str, expected: Node | None, warning: str) -> None:
    parsed = parse(text)
    assert parsed.root == expected
    assert any(warning in w for w in parsed.warnings), parsed.warnings


@pytest.mark.parametrize(("text", "expected", "warning"), RECOVERY)
def test_strict_rejects_what_lenient_repairs(
    text: str, expected: Node | None, warning: str
) -> None:
    with pytest.raises(QuerySyntaxError):
        parse(text, strict=True)


@pytest.mark.parametrize("text", ["", " ", "\t\n  \r"])
def test_empty_input_has_no_root_and_no_warning(text: str) -> None:
    for strict in (False, True):
        parsed = parse(text, strict=strict)
        assert parsed.root is None and parsed.warnings == ()


def test_dropped_query_says_nothing_is_left() -> None:
    assert "nothing searchable left in the query" in parse("* ~").warnings


@pytest.mark.parametrize("text", ["-japan", "NOT japan", "!japan", "-a -b", "NOT a AND NOT b"])
def test_only_excluded_terms_keep_the_bool_and_warn(text: str) -> None:
    for strict in (False, True):  # a semantic warning, not a syntax error
        parsed = parse(text, strict=strict)
        assert isinstance(parsed.root, Bool)
        assert parsed.root.must_not and not parsed.root.must and not parsed.root.should
        assert "query has only excluded terms; nothing to match" in parsed.warnings


def test_nested_group_of_only_excluded_terms_is_flagged() -> None:
    parsed = parse("x (-a)")
    assert parsed.root == Bool(should=(Term("x"), Bool(must_not=(a,))))
    assert "a group with only excluded terms matches nothing" in parsed.warnings


def test_control_characters_are_whitespace() -> None:
    parsed = parse("a\x00b\x1b[31m")
    assert parsed.root == Bool(should=(a, Term("b"), Term("[31m")))
    assert any("control characters" in w for w in parsed.warnings)
    assert parse("a\x00b", strict=True).root == Bool(should=(a, b))


def test_deep_parentheses_are_flattened() -> None:
    text = "(" * 100 + "a OR b" + ")" * 100
    parsed = parse(text)
    assert parsed.root == Bool(should=(a, b))
    assert any("nested deeper than 64 at 64" in w for w in parsed.warnings)
    with pytest.raises(QuerySyntaxError) as err:
        parse(text, strict=True)
    assert err.value.position == 64
    assert parse("(" * 64 + "a" + ")" * 64, strict=True).root == a  # 64 levels are fine


def test_warnings_are_capped_for_garbage_input() -> None:
    parsed = parse(") " * 5000)
    assert len(parsed.warnings) == MAX_WARNINGS <= 5
    shown = MAX_WARNINGS - 1  # of 5000 problems + "nothing searchable left"
    assert parsed.warnings[-1] == f"… and {5001 - shown} more" and parsed.omitted == 5001 - shown


def test_capped_drops_repeats_and_counts_what_it_leaves_out() -> None:
    assert capped(["x", "y", "x"]) == ["x", "y"]
    lines = [f"w{i}" for i in range(12)]
    assert capped(lines, limit=5) == ["w0", "w1", "w2", "w3", "… and 8 more"]
    assert capped(lines[:2], omitted=7, limit=5) == ["w0", "w1", "… and 7 more"]
    assert capped(lines[:5], limit=5) == lines[:5]  # a full list needs no "more" line


# --- fields ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "http://example.com/a", "https://x.org:8080/p", "10:30", "at 10:30am", "3:1",
    "Note: this matters", "U.S.: sanctions", r"foo\:bar", '"foo:bar"', "jong-un:", "_x:y",
])
def test_colons_that_are_not_fields_pass_strict_mode(text: str) -> None:
    parsed = parse(text, strict=True)
    assert parsed.warnings == () and parsed.root is not None


def test_the_known_fields_are_one_extensible_set() -> None:
    fields = DEFAULT_FIELDS | {"source"}
    assert root("source:reuters", fields=fields, strict=True) == Term("reuters", field="source")
    assert root("title:korea", fields=fields) == Term("korea", field="title")
    with pytest.raises(QuerySyntaxError, match="fields: source, text, title"):
        parse("topics:grain", fields=fields, strict=True)


# --- strict mode: messages and positions -----------------------------------------------------

STRICT: list[tuple[str, str, int]] = [
    ("(a OR", "missing closing parenthesis", 0),
    ("a (b (c)", "missing closing parenthesis", 2),
    ("a AND", "AND needs a term after it", 2),
    ("a &&", "'&&' needs a term after it", 2),
    ("AND b", "AND needs a term before it", 0),
    ('"abc', "unbalanced quote", 0),
    ('x "abc', "unbalanced quote", 2),
    ("a)", "unmatched closing parenthesis", 1),
    ("*", "'*' needs a word before it: not supported", 0),
    ("x *abc", "leading wildcard: not supported", 2),
    ("x a*b", "wildcard inside a word is not supported", 3),
    ("x~5", "fuzzy edit distance 5 is too large (max 2)", 1),
    ("k^2", "boost (^) is not supported", 1),
    ("title:", "field 'title:' has no value", 0),
    ('""', "empty phrase", 0),
    ("a OR OR b", "OR cannot follow OR", 5),
    ("a - b", "'-' must be directly followed by a term", 2),
    ("NOT", "NOT needs a term after it", 0),
    ("korea foo:bar", "unknown field 'foo' (fields: text, title)", 6),
    ('x date:"2024"', "unknown field 'date' (fields: text, title)", 2),
    # several problems: the earliest one is reported
    (") a AND", "unmatched closing parenthesis", 0),
    ("a AND (b", "missing closing parenthesis", 6),
]


@pytest.mark.parametrize(("text", "message", "position"), STRICT)
def test_strict_error_message_and_position(text: str, message: str, position: int) -> None:
    with pytest.raises(QuerySyntaxError) as err:
        parse(text, strict=True)
    assert err.value.message == message
    assert err.value.position == position
    assert err.value.query == text
    assert f"(at position {position})" in str(err.value)


def test_strict_error_caret_points_at_the_problem() -> None:
    with pytest.raises(QuerySyntaxError) as err:
        parse("korea AND", strict=True)
    assert err.value.caret() == "korea AND\n      ^"


# --- robustness ------------------------------------------------------------------------------

# fmt: off
NASTY: list[str] = [
    '"', '""', '"""', '"\\', '"\\"', "\\", "\\\\", '\\"', "(((", ")))", "()", ")(", "((a)",
    "AND", "OR", "NOT", "OR OR", "AND AND AND", "NOT NOT", "a AND", "AND a", "a OR OR b",
    "*", "**", "*a", "a*b*c", "~", "~~", "a~~~", "a~1.5", "a~-1", "a^^", "^", "^2", "a^2~3*",
    "title:", "title:(", "title:)", "title:()", "title:title:", "title:*", "title:\"",
    ":", "::", "a:", ":a", "-", "+", "!", "+-+-", "--a", "-+!a", "- -", "&&", "||", "&& ||",
    "", " ", "\t\n", "\x00", "\x00\x1b[31m", "\x7f\x85", "a\x00AND\x00b",
    "😀", "🇰🇷 AND 😀*", "שלום OR مرحبا", "\u202eevil\u202c", "\ud800", "a\u200bb", "\ufeff",
    '"a (b" c)', '(a "b) c"', '"x"~', '"x"~2~3', '"x"y"z', "title:\"x\"~9999999999",
    "(" * 10_240, ")" * 10_240, "()" * 5_000, "(a OR " * 2_000, "a OR " * 20_480,
    "-" * 10_000, "\\" * 10_001, '"' * 10_001, "a" * 100_000, "title:" * 1_000,
]
# fmt: on


def check_invariants(parsed: ParsedQuery, text: str) -> None:
    """What every consumer of the AST relies on, whatever the input."""
    assert parsed.text == text
    assert all(isinstance(w, str) and "\n" not in w for w in parsed.warnings)
    stack = [parsed.root] if parsed.root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, Bool):
            children = (*node.must, *node.should, *node.must_not)
            assert children, "no empty Bool"
            assert len(children) > 1 or node.must_not, "single clauses collapse"
            stack.extend(children)
        else:
            assert isinstance(node, (Term, Phrase, Prefix, Fuzzy))
            assert node.text, "no empty leaf"
            assert node.field in (None, "title", "text")
    if isinstance(parsed.root, Fuzzy):
        assert parsed.root.edits in (None, 1, 2)


def check_both_modes(text: str) -> None:
    lenient = parse(text)
    check_invariants(lenient, text)
    try:
        strict = parse(text, strict=True)
    except QuerySyntaxError as err:
        assert 0 <= err.position <= len(text)
        assert err.message and "\n" not in err.message
        assert lenient.warnings, "strict only rejects what lenient had to repair"
    else:
        assert strict.root == lenient.root


def test_nasty_list_is_long_enough() -> None:
    assert len(NASTY) >= 40


@pytest.mark.parametrize("text", NASTY, ids=lambda t: repr(t[:20]))
def test_nasty_strings_never_crash(text: str) -> None:
    check_both_modes(text)


_rng = random.Random(7)
BIG_INPUTS = {
    "10 KB of (": "(" * 10_240,
    "100 KB of random characters": "".join(
        _rng.choice('ab c"()-+!*~^:\\ANDOR\x00é😀') for _ in range(102_400)
    ),
    "100 KB of random words": " ".join(
        "".join(_rng.choice("abcdefghij") for _ in range(_rng.randint(1, 9))) for _ in range(20_000)
    )[:102_400],
    "emoji": "🇰🇷 😀 👍🏽 " * 8_000,
    "RTL text": "שלום עולם مرحبا بالعالم " * 4_000,
    "NUL bytes": "\x00" * 102_400,
    "trailing spaces": "a" + " " * 102_400,
    "spaces everywhere": " \t\n" * 34_000 + "a",
}


@pytest.mark.parametrize("name", list(BIG_INPUTS))
def test_big_inputs_parse(name: str) -> None:
    """Huge or pathological input still parses (a hang fails through the alarm, not CI's
    timeout); parse speed itself is a benchmark matter, not a test assertion."""
    def fire(signum, frame):
        raise TimeoutError(f"parsing {name} hung")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(20)
    try:
        check_both_modes(BIG_INPUTS[name])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# fmt: off
QUERY_TOKENS = [
    " ", "  ", "a", "Korea's", "jong-un", "U.S.", "AND", "OR", "NOT", "and", "&&", "||",
    "(", ")", '"', '\\"', "\\", "-", "+", "!", "*", "~", "~2", "~9", "^2", ":", "title:",
    "Text:", "foo:", "\x00", "😀", "שלום", "\t", "x*", "y~", "0",
]
# fmt: on


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_never_crashes(text: str) -> None:
    check_both_modes(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(QUERY_TOKENS), max_size=40).map("".join))
def test_any_query_shaped_text_never_crashes(text: str) -> None:
    check_both_modes(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(QUERY_TOKENS), max_size=30).map("".join))
def test_default_and_never_crashes_either(text: str) -> None:
    parsed = parse(text, default_operator="AND")
    check_invariants(parsed, text)
    assert {leaf for leaf in leaves(parsed.root)} == set(leaves(parse(text).root))
