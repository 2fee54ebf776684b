"""A JQL subset (also used for the AQL subset of Assets): parse to a small tree, evaluate in Python.

Grammar: ``expr [ORDER BY field [ASC|DESC], ...]`` where ``expr`` combines clauses with AND, OR, NOT and
parentheses; a clause is ``field op value`` with ``=``, ``!=``, ``~``, ``!~``, ``<``, ``<=``, ``>``, ``>=``,
``IN (...)``, ``NOT IN (...)``, ``IS [NOT] EMPTY|NULL`` (AQL adds ``LIKE``, ``NOT LIKE``, ``STARTSWITH`` and
``ENDSWITH``). Values are bare words, quoted strings (``"..."`` or ``'...'``, backslash escapes) or
functions ``name()``. Anything else is refused with ``QueryError`` (the caller answers 400 as Jira does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>!=|!~|>=|<=|=|~|>|<)'
                   r'|(?P<punct>[(),])|(?P<word>[^\s"\'(),=!~<>]+))')
KEYWORDS = {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"}
WORD_OPS = {"like": "~", "startswith": "^=", "endswith": "$="}


class QueryError(ValueError):
    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message if position is None else f"{message} (line 1, character {position + 1})")


@dataclass
class Token:
    kind: str  # str, op, punct, word, end
    text: str
    pos: int

    def word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if not match or match.end() == pos:
            if text[pos:].strip():
                raise QueryError(f"The character '{text[pos:].strip()[0]}' is not valid here.", pos)
            break
        kind = match.lastgroup
        raw = match.group(kind)
        if kind == "str":
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        tokens.append(Token(kind, raw, match.start(kind)))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


@dataclass
class Clause:
    field: str
    op: str  # =, !=, ~, !~, <, <=, >, >=, ^=, $=, in, not in, is, is not
    value: object  # str, list[str], None (EMPTY), or ("func", name)


@dataclass
class Query:
    where: object | None  # ("and"|"or", [nodes]) | ("not", node) | Clause | None
    order: list[tuple[str, bool]]  # (field, descending)


class Parser:
    def __init__(self, text: str, word_ops: bool = False) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.word_ops = word_ops

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def fail(self, expected: str) -> QueryError:
        got = self.tok.text or "<end of query>"
        return QueryError(f"Expecting {expected} but got '{got}'.", self.tok.pos)

    def parse(self) -> Query:
        where = None
        if not self.tok.word("order") and self.tok.kind != "end":
            where = self.expr()
        order = []
        if self.tok.word("order"):
            self.take()
            if not self.tok.word("by"):
                raise self.fail("'by'")
            self.take()
            while True:
                if self.tok.kind not in ("word", "str"):
                    raise self.fail("a field name")
                name = self.take().text
                descending = False
                if self.tok.word("asc", "desc"):
                    descending = self.take().text.lower() == "desc"
                order.append((name, descending))
                if self.tok.text != ",":
                    break
                self.take()
        if self.tok.kind != "end":
            raise self.fail("either 'OR' or 'AND'")
        return Query(where, order)

    def expr(self) -> object:
        nodes = [self.conj()]
        while self.tok.word("or"):
            self.take()
            nodes.append(self.conj())
        return nodes[0] if len(nodes) == 1 else ("or", nodes)

    def conj(self) -> object:
        nodes = [self.unary()]
        while self.tok.word("and"):
            self.take()
            nodes.append(self.unary())
        return nodes[0] if len(nodes) == 1 else ("and", nodes)

    def unary(self) -> object:
        if self.tok.word("not"):
            self.take()
            return ("not", self.unary())
        if self.tok.text == "(" and self.tok.kind == "punct":
            self.take()
            node = self.expr()
            if self.tok.text != ")":
                raise self.fail("')'")
            self.take()
            return node
        return self.clause()

    def clause(self) -> Clause:
        if self.tok.kind not in ("word", "str") or (self.tok.kind == "word" and self.tok.text.lower() in KEYWORDS):
            raise self.fail("a field name")
        name = self.take().text
        token = self.take()
        if token.kind == "op":
            return Clause(name, token.text, self.value())
        lowered = token.text.lower() if token.kind == "word" else ""
        if lowered == "in":
            return Clause(name, "in", self.value_list())
        if lowered == "not" and self.tok.word("in"):
            self.take()
            return Clause(name, "not in", self.value_list())
        if lowered == "not" and self.word_ops and self.tok.word("like"):
            self.take()
            return Clause(name, "!~", self.value())
        if lowered == "is":
            negated = self.tok.word("not")
            if negated:
                self.take()
            if not self.tok.word("empty", "null"):
                raise self.fail("'EMPTY' or 'NULL'")
            self.take()
            return Clause(name, "is not" if negated else "is", None)
        if self.word_ops and lowered in WORD_OPS:
            return Clause(name, WORD_OPS[lowered], self.value())
        self.i -= 1
        raise self.fail("an operator")

    def value(self) -> object:
        token = self.tok
        if token.kind == "str":
            self.take()
            return token.text
        if token.kind == "word" and token.text.lower() not in KEYWORDS - {"empty", "null"}:
            self.take()
            if self.tok.text == "(" and self.tok.kind == "punct":
                self.take()
                if self.tok.text != ")":
                    raise self.fail("')'")
                self.take()
                return ("func", token.text.lower())
            return None if token.text.lower() in ("empty", "null") else token.text
        raise self.fail("a value")

    def value_list(self) -> list:
        if self.tok.text != "(":
            raise self.fail("'('")
        self.take()
        values = [self.value()]
        while self.tok.text == ",":
            self.take()
            values.append(self.value())
        if self.tok.text != ")":
            raise self.fail("')'")
        self.take()
        return values


def parse(text: str, word_ops: bool = False) -> Query:
    return Parser(text, word_ops).parse()


@dataclass
class FieldRef:
    """How a query reads one field of a document: its values and how literals compare to them."""

    getter: Callable[[dict], list]
    kind: str = "text"  # text, number, date, issuekey (PROJ-12: compared by project, then number, as Jira does)
    functions: dict | None = None  # value functions, e.g. currentUser()
    order: Callable[[dict], object] | None = None  # sort key when it differs from the first value (issue keys)


RELATIVE = re.compile(r"^([-+]?\d+)([wdhm])$")


def literal(ref: FieldRef, value: object, now: datetime) -> object:
    if isinstance(value, tuple):
        functions = ref.functions or {}
        if value[1] in ("now",):
            return now
        if value[1] not in functions:
            raise QueryError(f"Unable to find JQL function '{value[1]}()'.")
        return functions[value[1]]
    if value is None:
        return None
    text = str(value)
    if ref.kind == "issuekey":
        key = issue_key(text)
        if key is None:
            raise QueryError(f"The issue key '{text}' for field 'key' is invalid.")
        return key
    if ref.kind == "date":
        match = RELATIVE.match(text)
        if match:
            unit = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
            return now + timedelta(**{unit: int(match.group(1))})
        try:
            moment = datetime.fromisoformat(text.replace("/", "-"))
        except ValueError as exc:
            raise QueryError(f"Date value '{text}' is invalid.") from exc
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    if ref.kind == "number":
        try:
            return float(text)
        except ValueError as exc:
            raise QueryError(f"The value '{text}' is not a number.") from exc
    return text.lower()


def issue_key(text: str) -> tuple[str, int] | None:
    """``PROJ-12`` as ``("PROJ", 12)``, None when it is no issue key."""
    project, _dash, number = str(text).strip().rpartition("-")
    return (project.upper(), int(number)) if project and number.isdigit() else None


def _norm(ref: FieldRef, value: object) -> object:
    if value is None:
        return None
    if ref.kind == "issuekey":
        return issue_key(str(value))
    if ref.kind == "text":
        return str(value).lower()
    if ref.kind == "number":
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    return value


def matches(node: object, doc: dict, resolve: Callable[[str], FieldRef], now: datetime) -> bool:
    if node is None:
        return True
    if isinstance(node, tuple):
        if node[0] == "and":
            return all(matches(n, doc, resolve, now) for n in node[1])
        if node[0] == "or":
            return any(matches(n, doc, resolve, now) for n in node[1])
        return not matches(node[1], doc, resolve, now)
    ref = resolve(node.field)
    values = [v for v in (_norm(ref, v) for v in ref.getter(doc)) if v is not None and v != ""]
    if node.op in ("is", "is not"):
        return (not values) == (node.op == "is")
    if node.op in ("in", "not in"):
        wanted = [literal(ref, v, now) for v in node.value]
        hit = any(v in wanted for v in values)
        return hit if node.op == "in" else bool(values) and not hit
    wanted = literal(ref, node.value, now)
    if wanted is None:
        return (not values) == (node.op == "=")
    return _compare(node.op, values, wanted)


def _compare(op: str, values: list, wanted: object) -> bool:
    if op == "=":
        return wanted in values
    if op == "!=":
        return bool(values) and wanted not in values
    if op in ("~", "!~", "^=", "$="):
        needle = str(wanted).strip("*").lower()
        texts = [str(v).lower() for v in values]
        if op == "^=":
            return any(t.startswith(needle) for t in texts)
        if op == "$=":
            return any(t.endswith(needle) for t in texts)
        hit = any(needle in t for t in texts)
        return hit if op == "~" else not hit
    try:
        return any({"<": v < wanted, "<=": v <= wanted, ">": v > wanted, ">=": v >= wanted}[op] for v in values)
    except TypeError:
        return False


def check_fields(node: object, resolve: Callable[[str], FieldRef]) -> None:
    """Resolve every field of the tree now, so unknown fields fail before any document is read."""
    if node is None:
        return
    if isinstance(node, tuple):
        for child in node[1] if node[0] in ("and", "or") else [node[1]]:
            check_fields(child, resolve)
        return
    resolve(node.field)


def sort(docs: list[dict], order: list[tuple[str, bool]], resolve: Callable[[str], FieldRef]) -> list[dict]:
    for name, descending in reversed(order):
        ref = resolve(name)

        def key(doc: dict, ref: FieldRef = ref) -> tuple:
            if ref.order is not None:
                return (False, ref.order(doc))
            values = [_norm(ref, v) for v in ref.getter(doc)]
            first = values[0] if values else None
            return (first is None, first if first is not None else 0)
        present = [d for d in docs if key(d)[0] is False]
        missing = [d for d in docs if key(d)[0] is True]
        docs = sorted(present, key=lambda d: key(d)[1], reverse=descending) + missing
    return docs
