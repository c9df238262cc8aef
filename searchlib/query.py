r"""The query language: a user's query string -> a small AST of frozen dataclasses (+ warnings).

Queries are typed by people into a search box, so the default *lenient* mode accepts any string,
recovers the most plausible meaning and says what it changed in ``ParsedQuery.warnings``.
*Strict* mode builds the same AST but raises ``QuerySyntaxError`` for the first problem instead.
Leaves keep the raw text as typed; lowercasing, splitting and stemming belong to the analyzer.

Syntax (Lucene-like)::

    a b                 juxtaposition, combined with ``default_operator`` (OR unless told)
    a AND b   a && b    both required        a OR b   a || b    either one
    NOT a  -a  !a       excluded             +a                 required
    (a OR b)            grouping, nested at most 64 deep
    "a b"   "a b"~3     phrase, optional slop; \" inside a phrase is a literal quote
    title:a  title:"a b"  title:(a OR b)     field (names from ``fields``, any case)
    foo:bar             an unknown field: a warning (strict: an error), searched as plain text
    korea*              prefix               word~  word~1  word~2   fuzzy (auto, 1 or 2 edits)
    \x                  outside phrases a backslash makes the next character literal

Operators are only recognised in UPPER case (``and``/``or``/``not`` are ordinary words).
``-``/``+``/``!`` are operators only at the start of a clause (start of input, after whitespace,
``(``, ``)`` or another unary operator) *and* directly followed by a term, so ``jong-un`` is one
word and the dash in ``Kim - Korea`` is ignored rather than read as NOT.

Precedence, tightest first:

1. unary ``NOT``/``-``/``!``/``+`` apply to the single clause right after them;
2. ``AND`` (``&&``);
3. ``OR`` (``||``) and juxtaposition. With ``default_operator="AND"`` juxtaposition binds like
   ``AND`` instead, so ``a b OR c`` means ``(a AND b) OR c`` in that mode.

Each group of clauses becomes ``Bool``: plain/OR clauses -> ``should``, ``+``/AND clauses ->
``must``, excluded clauses -> ``must_not``; a group with a single positive clause collapses to it.

Strict-mode positions (0-based): unbalanced quote -> the opening quote; missing ``)`` -> the first
unclosed ``(``; stray ``)`` -> that ``)``; dangling operator -> the operator; bad wildcard, fuzzy or
boost suffix -> that character. All problems are collected in one pass and the earliest is raised.
Notes that are not syntax errors (only excluded terms, control characters read as spaces) are
warnings in both modes.

Field syntax is ``name:value`` where ``name`` is a word starting with a letter and the value
follows at once. A colon elsewhere is text: ``10:30`` (a time), ``http://x`` (a URL: the value
starts with ``/``), ``Note: this`` (nothing after the colon), ``foo\:bar`` (escaped). An unknown
name is kept as the text it is (``foo:bar``, which the analyzer reads as the words foo bar).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from searchlib.errors import InvalidArgument, QuerySyntaxError

__all__ = ["Bool", "Filter", "Fuzzy", "Node", "ParsedQuery", "Phrase", "Prefix", "Term", "parse"]

MAX_DEPTH = 64  # deeper parentheses are flattened: bounds recursion whatever the input
MAX_EDITS = 2
MAX_SLOP = 100
MAX_WARNINGS = 5  # lines a query reports at most, whatever the input (the last: "… and N more")
# The fields a query may name: the one list to extend when the index gains more fields.
DEFAULT_FIELDS = frozenset({"title", "text"})


@dataclass(frozen=True, slots=True)
class Term:
    """One word as typed (may hold ``-``, ``'`` or ``.``: the analyzer splits it later)."""

    text: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Phrase:
    """The raw text between the quotes; ``slop`` is how far the words may drift apart."""

    text: str
    field: str | None = None
    slop: int = 0


@dataclass(frozen=True, slots=True)
class Prefix:
    """``korea*`` -> ``Prefix("korea")``: every indexed word starting with ``text``."""

    text: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Fuzzy:
    """``word~N``; ``edits=None`` lets the matcher choose from the word length."""

    text: str
    field: str | None = None
    edits: int | None = None


@dataclass(frozen=True, slots=True)
class Filter:
    """``source:reuters``, ``date:1987-03``: a condition on an article's metadata that
    scores nothing. ``lo``/``hi`` bound a date ([lo, hi), None: open); ``valid`` is False
    for a value that could not be read (it matches nothing)."""

    field: str
    value: str
    lo: int | None = None
    hi: int | None = None
    valid: bool = True


@dataclass(frozen=True, slots=True)
class Bool:
    """Match = all ``must`` AND (one ``should`` if ``must`` is empty) AND NOT any ``must_not``."""

    must: tuple[Node, ...] = ()
    should: tuple[Node, ...] = ()
    must_not: tuple[Node, ...] = ()


Node = Term | Phrase | Prefix | Fuzzy | Filter | Bool


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """The AST plus what lenient parsing had to change, so a UI can show it to the user.

    ``warnings`` holds at most ``MAX_WARNINGS`` lines; when more were left out, the last line
    says how many and ``omitted`` counts them (so a caller adding its own can recount)."""

    root: Node | None
    warnings: tuple[str, ...]
    text: str
    omitted: int = 0


def capped(lines: Sequence[str], omitted: int = 0, limit: int = MAX_WARNINGS) -> list[str]:
    """``lines`` without repeats, at most ``limit`` of them: the last says how many more there
    were (``omitted`` of them already left out by the caller)."""
    kept, omitted = _cap(lines, omitted, limit)
    return kept + ([f"… and {omitted} more"] if omitted else [])


def _cap(lines: Sequence[str], omitted: int, limit: int) -> tuple[list[str], int]:
    unique = list(dict.fromkeys(lines))
    if len(unique) + (omitted > 0) > limit:
        omitted += len(unique) - (limit - 1)
        unique = unique[: limit - 1]
    return unique, omitted


def listing(words: Sequence[str], limit: int = 10) -> str:
    """Words for one warning line: each shown(), repeats dropped, at most ``limit`` named."""
    unique = list(dict.fromkeys(shown(w) for w in words))
    more = f" and {len(unique) - limit} more" if len(unique) > limit else ""
    return ", ".join(unique[:limit]) + more


def stopwords_warning(words: Sequence[str]) -> list[str]:
    """One line naming every ignored stopword (none if there were none)."""
    if not words:
        return []
    label = "stopword" if len({w.casefold() for w in words}) == 1 else "stopwords"
    return [f"{label} ignored: {listing(words)}"]


def parse(
    text: str,
    *,
    default_operator: str = "OR",
    strict: bool = False,
    fields: frozenset[str] = DEFAULT_FIELDS,
    max_chars: int | None = None,
    filters: frozenset[str] = frozenset(),
) -> ParsedQuery:
    """Parse ``text``; lenient never raises, strict raises only ``QuerySyntaxError``.
    Beyond ``max_chars`` characters the text is ignored (a problem at that position).
    ``filters`` are the metadata fields (``date`` and the index's keyword fields)."""
    operator = default_operator.upper() if isinstance(default_operator, str) else None
    if operator not in ("AND", "OR"):
        raise InvalidArgument(f"default_operator must be 'AND' or 'OR', not {default_operator!r}")
    parser = _Parser(text, fields, and_default=operator == "AND", filters=filters)
    if max_chars is not None and len(text) > max_chars:
        message = f"query is longer than {max_chars:,} characters"
        if strict:
            raise QuerySyntaxError(message, max_chars, text)
        parser.text = text[:max_chars]
        parser.notes.append(f"{message}; the rest is ignored")
    root = parser.run()
    if strict and parser.problems:
        pos, message, _ = min(parser.problems, key=lambda p: p[0])
        raise QuerySyntaxError(message, pos, text)
    warnings, omitted = parser.warnings()
    return ParsedQuery(root, warnings, text, omitted)


def cached_parse(text: str, *, default_operator: str = "OR", strict: bool = False,
                 max_chars: int | None = None,
                 filters: frozenset[str] = frozenset()) -> ParsedQuery:
    """`parse` with the default fields, remembered for the last `PARSED_MEMO` queries (a
    ParsedQuery is immutable, and a served index sees the same queries again and again)."""
    if not isinstance(default_operator, str):  # (unhashable: parse says what is wrong)
        return parse(text, default_operator=default_operator, strict=strict,
                     max_chars=max_chars, filters=filters)
    return _parsed(text, default_operator, strict, max_chars, filters)


PARSED_MEMO = 1024


@lru_cache(maxsize=PARSED_MEMO)
def _parsed(text: str, default_operator: str, strict: bool, max_chars: int | None,
            filters: frozenset[str]) -> ParsedQuery:
    return parse(text, default_operator=default_operator, strict=strict, max_chars=max_chars,
                 filters=filters)


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# One token after optional whitespace. A word is any run without space, parenthesis or quote (a
# backslash escapes the next character); "plain" is the common word without any special
# character, recognised here so that it costs no further checks. "-+!" are unary operators only
# at a clause start: at the start or after whitespace, a parenthesis or another unary operator.
# Some alternative matches at any non-space character, so the scan never skips text.
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<plain>[^\s()"\\:^~*+!-][^\s()"\\:^~*]*(?![^\s()"]))
      | (?P<paren>[()])
      | (?P<unary>(?:\A|(?<=[\s()+!-]))[-+!])
      | (?P<phrase>"(?P<body>(?:[^"\\]+|\\.?)*)(?:(?P<close>")(?P<suffix>[~^][^\s()"]*)?)?)
      | (?P<word>(?:[^\s()"\\]+|\\.?)+)
    )""",
    re.S | re.X,
)
_PHRASE_ESCAPE = re.compile(r'\\(["\\])')
_ESCAPED = re.compile(r"\\.", re.S)
_ESCAPE = re.compile(r"\\(.)", re.S)
_SLOP = re.compile(r"~[0-9]+")
_DIGITS = re.compile(r"[0-9]+")
# A field name: a word that starts with a letter (not 10:30, U.S.:, jong-un:).
_FIELD_NAME = re.compile(r"[^\W\d_]\w*")
_OPERATORS = {"AND": "AND", "&&": "AND", "OR": "OR", "||": "OR", "NOT": "NOT"}
_SHOULD, _MUST, _MUST_NOT = 0, 1, 2  # how a clause joins its group

# (kind, position, text, leaf): kind is one of ( ) AND OR NOT + FIELD LEAF; text is the operator
# as typed or the canonical field name; leaf is None for a dropped word. Plain tuples because
# 100 KB queries make tens of thousands of them.
_Tok = tuple[str, int, str, "Node | None"]
_Clause = tuple[int, "Node | None"]


def shown(s: str) -> str:
    """User text quoted in a message: one line (control characters escaped), at most ~30."""
    s = "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)
    return s if len(s) <= 30 else s[:27] + "..."


def _group1(m: re.Match[str]) -> str:
    return m.group(1)  # a function: much faster than the template r"\1" in re.sub


def _unescape(raw: str) -> str:
    return _ESCAPE.sub(_group1, raw) if "\\" in raw else raw


def _show(op: str) -> str:
    return op if op.isalpha() else f"'{op}'"


def _with_field(node: Node, field: str) -> Node:
    """Apply ``field`` to every leaf that has none (an inner explicit field wins)."""
    if isinstance(node, Bool):
        return Bool(
            tuple(_with_field(n, field) for n in node.must),
            tuple(_with_field(n, field) for n in node.should),
            tuple(_with_field(n, field) for n in node.must_not),
        )
    return node if node.field is not None else replace(node, field=field)


def _combine(clauses: list[_Clause], default_must: bool) -> Node | None:
    """Sort clauses into a Bool; a lone positive clause is returned as is."""
    must: list[Node] = []
    should: list[Node] = []
    must_not: list[Node] = []
    for occur, node in clauses:
        if node is None:
            continue
        if occur == _MUST_NOT:
            must_not.append(node)
        elif occur == _MUST or default_must:
            must.append(node)
        else:
            should.append(node)
    if not must_not and len(must) + len(should) <= 1:
        return (must or should or [None])[0]
    return Bool(tuple(must), tuple(should), tuple(must_not))


def _chain(chain: list[_Clause]) -> _Clause:
    """AND-joined units: a lone unit keeps its own +/- occurrence, several become one Bool."""
    if len(chain) == 1:
        return chain[0]
    live = [c for c in chain if c[1] is not None]
    return live[0] if len(live) == 1 else (_SHOULD, _combine(live, True))


def is_filter(node: Node | None) -> bool:
    """Whether a clause is only conditions on metadata (it scores nothing)."""
    if isinstance(node, Bool):
        return all(map(is_filter, (*node.must, *node.should, *node.must_not)))
    return isinstance(node, Filter)


def _only_excluded(node: Node | None) -> bool:
    return isinstance(node, Bool) and not node.must and not node.should


class _Parser:
    """Tokenizer, parenthesis balancer and recursive-descent parser sharing one problem list."""

    def __init__(self, text: str, fields: frozenset[str], and_default: bool,
                 filters: frozenset[str] = frozenset()) -> None:
        self.text = text
        self.filters = frozenset(f.lower() for f in filters) - {f.lower() for f in fields}
        self.fields = {**{f: f for f in self.filters}, **{f.lower(): f for f in fields}}
        self.and_default = and_default
        self.problems: list[tuple[int, str, str]] = []  # (position, message, what we did)
        self.notes: list[str] = []  # warnings that are not syntax errors
        self.toks: list[_Tok] = []
        self.i = 0

    def problem(self, message: str, pos: int, fix: str) -> None:
        self.problems.append((pos, message, fix))

    def warnings(self) -> tuple[tuple[str, ...], int]:
        """(capped lines, how many were left out): garbage input makes thousands of problems."""
        ordered = sorted(self.problems, key=lambda p: p[0])
        lines = [f"{msg} at {pos}: {fix}" for pos, msg, fix in ordered[:MAX_WARNINGS]]
        # notes first: "the rest is ignored" must survive the cap whatever else went wrong
        kept, omitted = _cap(self.notes + lines, len(ordered) - len(lines), MAX_WARNINGS)
        return (*kept, *([f"… and {omitted} more"] if omitted else [])), omitted

    def run(self) -> Node | None:
        searchable = self._tokenize()
        self._balance()
        root = self._group()
        if _only_excluded(root):
            self.notes.append("query has only excluded terms; nothing to match")
        stack = [root] if isinstance(root, Bool) else []
        while stack:
            node = stack.pop()
            kids = [c for c in (*node.must, *node.should, *node.must_not) if isinstance(c, Bool)]
            if any(map(_only_excluded, kids)):
                self.notes.append("a group with only excluded terms matches nothing")
                break
            stack.extend(kids)
        if root is None and searchable:
            self.notes.append("nothing searchable left in the query")
        return root

    # -- tokenizer ---------------------------------------------------------------------------

    def _tokenize(self) -> bool:
        """Fill ``self.toks``; return whether the query had anything but whitespace."""
        first_control = _CONTROL.search(self.text)
        if first_control:
            at = first_control.start()
            self.notes.append(f"control characters treated as spaces (first at {at})")
        # Same length, so positions stay valid. Without trailing whitespace every match attempt
        # finds a token: a failing attempt would be retried at each later position (quadratic).
        s = _CONTROL.sub(" ", self.text).rstrip()
        n = len(s)
        emit, cache = self.toks.append, {}
        for m in _TOKEN.finditer(s):
            kind = m.lastgroup
            start, end = m.start(kind), m.end()
            if kind == "plain":
                raw = m.group(kind)
                if raw in _OPERATORS:
                    emit((_OPERATORS[raw], start, raw, None))
                    continue
                if (leaf := cache.get(raw)) is None:
                    leaf = cache[raw] = Term(raw)  # frozen, so equal words can share one
                emit(("LEAF", start, raw, leaf))
            elif kind == "word":
                raw = m.group(kind)
                colon = raw.find(":")
                field = self.fields.get(raw[:colon].lower()) if colon > 0 else None
                if field is None:
                    if colon > 0:
                        self._unknown_field(raw, colon, start, end < n and s[end] in '("')
                    emit(("LEAF", start, raw, self._leaf(raw, start)))
                elif colon + 1 < len(raw):  # title:korea -- the value is never an operator
                    at, value = start + colon + 1, raw[colon + 1 :]
                    emit(("FIELD", start, field, None))
                    emit(("LEAF", at, value, self._leaf(value, at)))
                elif end < n and s[end] in '("':  # title:(...) or title:"..."
                    emit(("FIELD", start, field, None))
                else:
                    self.problem(f"field '{shown(raw)}' has no value", start, "ignored")
            elif kind == "paren":
                emit((s[start], start, s[start], None))
            elif kind == "phrase":
                self._phrase(m, start)
            elif end == n or s[end].isspace() or s[end] == ")":  # unary with nothing after
                self.problem(f"'{s[start]}' must be directly followed by a term", start, "ignored")
            else:
                emit(("+" if s[start] == "+" else "NOT", start, s[start], None))
        return bool(s)

    def _unknown_field(self, raw: str, colon: int, pos: int, group_follows: bool) -> None:
        """Report ``foo:bar`` (or ``foo:(...)``) when foo looks like a field name we lack;
        the word itself is kept, so lenient mode searches the text as typed."""
        name, value = raw[:colon], raw[colon + 1 :]
        if not _FIELD_NAME.fullmatch(name) or value.startswith("/"):
            return  # 10:30, U.S.:, http://x
        if not value and not group_follows:
            return  # "Note: ..." -- a colon ending a word is punctuation
        known = ", ".join(sorted(self.fields.values()))
        self.problem(f"unknown field '{shown(name)}' (fields: {known})", pos,
                     "searched as plain text")

    def _phrase(self, m: re.Match[str], start: int) -> None:
        """Emit the phrase matched by _TOKEN, with its ``~N`` slop."""
        slop = 0
        if not m.group("close"):
            self.problem("unbalanced quote", start, "treated as closed at end")
        elif suffix := m.group("suffix"):
            at = m.start("suffix")
            if _SLOP.fullmatch(suffix):
                slop = self._capped(suffix[1:], MAX_SLOP, "phrase slop", at)
            elif suffix[0] == "^":
                self.problem("boost (^) is not supported", at, "dropped")
            else:
                self.problem("phrase slop must be a whole number like ~2", at, "ignored")
        body = m.group("body")
        if "\\" in body:
            body = _PHRASE_ESCAPE.sub(_group1, body)
        if body.strip():
            self.toks.append(("LEAF", start, body, Phrase(body, slop=slop)))
        else:
            self.problem("empty phrase", start, "ignored")

    def _capped(self, digits: str, limit: int, what: str, pos: int) -> int:
        value = int(digits) if len(digits) <= 6 else limit + 1  # never parse a huge int
        if value > limit:
            self.problem(f"{what} {shown(digits)} is too large (max {limit})", pos, "capped")
        return min(value, limit)

    def _leaf(self, raw: str, pos: int) -> Node | None:
        """Classify a word with special characters: Term, Prefix, Fuzzy, or None if dropped."""
        # mask: same length as raw, escaped characters hidden, so str.find sees only operators
        mask = _ESCAPED.sub("aa", raw) if "\\" in raw else raw
        caret = mask.find("^")
        if caret >= 0:
            self.problem("boost (^) is not supported", pos + caret, "dropped")
            raw, mask = raw[:caret], mask[:caret]
        tilde = mask.find("~")
        if tilde >= 0:
            return self._fuzzy(raw, mask, tilde, pos)
        star = mask.find("*")
        if star < 0:
            return Term(_unescape(raw)) if raw else None
        if star == 0:
            what = "'*' needs a word before it" if not mask.strip("*") else "leading wildcard"
            self.problem(f"{what}: not supported", pos, "dropped")
            return None
        if len(mask.rstrip("*")) > star:
            self.problem("wildcard inside a word is not supported", pos + star, "kept as is")
            return Term(_unescape(raw))
        return Prefix(_unescape(raw[:star]))

    def _fuzzy(self, raw: str, mask: str, tilde: int, pos: int) -> Node | None:
        """``word~N``: N capped at 2 because more edits match nearly every word."""
        base, suffix = raw[:tilde], raw[tilde + 1 :]
        if "*" in mask[:tilde]:
            self.problem("wildcard cannot be combined with '~'", pos + mask.find("*"), "ignored")
            base = "".join(c for c, m in zip(base, mask[:tilde], strict=True) if m != "*")
        base = _unescape(base)
        if not base:
            self.problem("'~' needs a word before it", pos + tilde, "dropped")
            return None
        edits = None
        if _DIGITS.fullmatch(suffix):
            edits = self._capped(suffix, MAX_EDITS, "fuzzy edit distance", pos + tilde)
            if edits == 0:
                return Term(base)
        elif suffix:
            self.problem(f"invalid fuzzy suffix '~{shown(suffix)}'", pos + tilde, "using auto")
        return Fuzzy(base, edits=edits)

    def _filter(self, node: Node, name: str, pos: int) -> Node:
        """The value(s) after a metadata field as filters (``topics:(crude OR grain)``)."""
        if isinstance(node, Bool):
            return Bool(*(tuple(self._filter(n, name, pos) for n in group)
                          for group in (node.must, node.should, node.must_not)))
        if isinstance(node, Filter):
            return node
        value = node.text
        if name != "date":
            return Filter(name, value)
        from .datespec import date_range  # only queries with a date filter need it
        from .metadata import DateError

        try:
            lo, hi = date_range(value)
        except DateError as exc:
            self.problem(f"date '{shown(value)}' {exc}", pos, "matches nothing")
            return Filter(name, value, valid=False)
        return Filter(name, value, lo, hi)

    def _balance(self) -> None:
        """Drop stray and too-deep parentheses so the parser's recursion stays bounded."""
        kept: list[_Tok] = []
        stack: list[tuple[int, bool]] = []  # each open "(": position, kept?
        depth, reported_deep = 0, False
        for tok in self.toks:
            if tok[0] == "(":
                keep = depth < MAX_DEPTH
                if keep:
                    depth += 1
                    kept.append(tok)
                elif not reported_deep:
                    reported_deep = True
                    self.problem(f"parentheses nested deeper than {MAX_DEPTH}", tok[1], "ignored")
                stack.append((tok[1], keep))
            elif tok[0] == ")":
                if not stack:
                    self.problem("unmatched closing parenthesis", tok[1], "ignored")
                elif stack.pop()[1]:
                    depth -= 1
                    kept.append(tok)
            else:
                kept.append(tok)
        unclosed = [pos for pos, keep in stack if keep]
        if unclosed:
            self.problem("missing closing parenthesis", unclosed[0], "closed at end")
        self.toks = kept

    # -- parser ------------------------------------------------------------------------------

    def _group(self) -> Node | None:
        """Clauses up to ``)`` or the end, split by OR into AND-chains (see module docstring)."""
        toks, n = self.toks, len(self.toks)
        clauses: list[_Clause] = []  # OR-level clauses
        chain: list[_Clause] = []  # the current run of AND-joined units
        pending: _Tok | None = None  # AND/OR waiting for its right-hand side
        implicit = "AND" if self.and_default else "OR"
        explicit_or = False
        while self.i < n and (tok := toks[self.i])[0] != ")":
            kind = tok[0]
            if kind in ("AND", "OR"):
                self.i += 1
                if pending is not None:
                    message = f"{_show(tok[2])} cannot follow {_show(pending[2])}"
                    self.problem(message, tok[1], "ignored")
                elif not chain:
                    self.problem(f"{_show(tok[2])} needs a term before it", tok[1], "ignored")
                else:
                    pending = tok
                    explicit_or |= kind == "OR"
                continue
            if chain and (pending[0] if pending else implicit) != "AND":
                clauses.append(_chain(chain))
                chain = []
            if kind == "LEAF":  # fast paths for the common cases
                chain.append((_SHOULD, tok[3]))
                self.i += 1
            elif kind in ("NOT", "+") and self.i + 1 < n and toks[self.i + 1][0] == "LEAF":
                chain.append((_MUST_NOT if kind == "NOT" else _MUST, toks[self.i + 1][3]))
                self.i += 2
            else:
                chain.append(self._unit())
            pending = None
        if pending is not None:
            self.problem(f"{_show(pending[2])} needs a term after it", pending[1], "ignored")
        if chain:
            clauses.append(_chain(chain))
        if not explicit_or:  # `opec source:reuters`: a filter next to words restricts them
            clauses = [(_MUST if occur == _SHOULD and is_filter(node) else occur, node)
                       for occur, node in clauses]
        return _combine(clauses, False)

    def _unit(self) -> _Clause:
        """Unary operators (the last one wins) followed by one primary."""
        toks, n = self.toks, len(self.toks)
        ops: list[_Tok] = []
        while self.i < n and (tok := toks[self.i])[0] in ("NOT", "+"):
            if ops:
                message = f"{_show(tok[2])} cannot follow {_show(ops[-1][2])}"
                self.problem(message, tok[1], "kept the last")
            ops.append(tok)
            self.i += 1
        if self.i == n or toks[self.i][0] in (")", "AND", "OR"):
            self.problem(f"{_show(ops[-1][2])} needs a term after it", ops[-1][1], "ignored")
            return (_SHOULD, None)
        occur = _SHOULD if not ops else _MUST if ops[-1][0] == "+" else _MUST_NOT
        return (occur, self._primary())

    def _primary(self) -> Node | None:
        toks, n = self.toks, len(self.toks)
        kind, pos, text, leaf = toks[self.i]
        self.i += 1
        if kind == "LEAF":
            return leaf
        if kind == "FIELD":
            if self.i == n or toks[self.i][0] not in ("LEAF", "("):
                self.problem(f"field '{text}:' has no value", pos, "ignored")
                return None
            node = self._primary()
            if node is not None and text in self.filters:
                return self._filter(node, text, pos)
            return None if node is None else _with_field(node, text)
        start = self.i  # kind is "(": _balance kept its ")" unless the input ended first
        node = self._group()
        if self.i == start:
            self.problem("empty parentheses", pos, "ignored")
        if self.i < n:
            self.i += 1
        return node
