"""Encoded-query engine: parses ``sysparm_query`` and translates it to SQL over the family tables.

Grammar (servicenow-api.md §3): ``^NQ`` separates OR-ed groups, ``^`` ANDs terms inside a group,
``^OR`` ORs a condition into the previous term, ``ORDERBY``/``ORDERBYDESC`` are global sort
keys.  Unknown fields and unsupported operators are dropped, as the platform does, and the
parser records that it dropped something (``Compiled.invalid``).  Matching is
case-insensitive (``COLLATE NOCASE`` columns).  ``!=``, ``NOT IN`` and ``NOT LIKE`` do not match
empty values, except on boolean fields (SQL NULL semantics of the real platform).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import timeutil
from .schema import BOOLEAN, CLASS_NAME, REFERENCE, STRING, Field, Schema, Table
from .store import Store, quote

OPERATORS = (
    "GT_OR_EQUALS_FIELD", "LT_OR_EQUALS_FIELD", "GT_FIELD", "LT_FIELD", "INSTANCEOF", "IN_HIERARCHY",
    "ISNOTEMPTY", "ISEMPTY", "EMPTYSTRING", "ANYTHING", "NOT LIKE", "NOT IN", "NOTON", "NSAMEAS",
    "SAMEAS", "STARTSWITH", "ENDSWITH", "LIKE", "DOES NOT CONTAIN", "CONTAINS", "BETWEEN", "DATEPART",
    "RELATIVEGT", "RELATIVELT", "RELATIVEGE", "RELATIVELE", "RELATIVEEE", "MORETHAN", "LESSTHAN",
    "DYNAMIC", "VALCHANGES", "CHANGESFROM", "CHANGESTO", "IN", "ON", "!=", "<=", ">=", "=", "<", ">",
)
_COND = re.compile(r"^([A-Za-z0-9_.]+?)(" + "|".join(re.escape(op) for op in OPERATORS) + r")(.*)$", re.S)
SYS_ID_RE = re.compile(r"^[0-9a-f]{32}$")
DYNAMIC_ME = "90d1921e5f510100a9ad2572f2b477fe"
NOMATCH = ("0", [])
_ON_LABELS = {"today": ("beginningOfToday", "endOfToday"), "yesterday": ("beginningOfYesterday", "endOfYesterday"),
              "tomorrow": ("beginningOfTomorrow", "endOfTomorrow"),
              "this week": ("beginningOfThisWeek", "endOfThisWeek"), "last week": ("beginningOfLastWeek", "endOfLastWeek"),
              "this month": ("beginningOfThisMonth", "endOfThisMonth"),
              "last month": ("beginningOfLastMonth", "endOfLastMonth"),
              "this year": ("beginningOfThisYear", "endOfThisYear")}


@dataclass
class Cond:
    field: str
    op: str
    value: str


@dataclass
class Special:
    kind: str  # "rl", "join" or "text"
    head: str
    body: list[str] = field(default_factory=list)


Term = list  # OR-ed list of Cond / Special


@dataclass
class Parsed:
    groups: list[list[Term]]
    orders: list[tuple[str, bool]]
    invalid: bool = False


@dataclass
class Compiled:
    where: str
    params: list
    order: str
    invalid: bool


def split_tokens(encoded: str) -> list[str]:
    """Split on ``^``; a doubled ``^^`` stands for a literal caret inside a value."""
    return [tok.replace("\0", "^") for tok in encoded.replace("^^", "\0").split("^")]


def parse(encoded: str) -> Parsed:
    parsed = Parsed(groups=[[]], orders=[])
    tokens = split_tokens(encoded or "")
    i = 0
    while i < len(tokens):
        tok = tokens[i].strip("\n")
        i += 1
        if tok.startswith("NQ"):
            parsed.groups.append([])
            tok = tok[2:]
        if not tok or tok == "EQ":
            continue
        if tok.startswith("ORDERBYDESC"):
            parsed.orders.append((tok[11:], True))
            continue
        if tok.startswith("ORDERBY"):
            parsed.orders.append((tok[7:], False))
            continue
        is_or = False
        if tok.startswith("OR"):
            tok = tok[2:]
            is_or = bool(parsed.groups[-1])
        if tok.startswith("RLQUERY"):
            body = []
            while i < len(tokens) and tokens[i] != "ENDRLQUERY":
                body.append(tokens[i])
                i += 1
            i += 1
            item: Cond | Special | None = Special("rl", tok[7:], body)
        elif tok.startswith("JOIN"):
            item = Special("join", tok[4:])
        elif tok.startswith("123TEXTQUERY321") or tok.startswith("IR_AND_OR_QUERY"):
            item = Special("text", tok.split("=", 1)[1] if "=" in tok else "")
        else:
            match = _COND.match(tok)
            item = Cond(match.group(1), match.group(2), match.group(3)) if match else None
        if item is None:
            parsed.invalid = True
            continue
        if is_or:
            parsed.groups[-1][-1].append(item)
        else:
            parsed.groups[-1].append([item])
    return parsed


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Compiler:
    """Translate parsed queries for one caller (``javascript:`` values need the user and clock)."""

    def __init__(self, store: Store, schema: Schema, script: timeutil.ScriptContext) -> None:
        self.store = store
        self.schema = schema
        self.script = script
        self._alias = 0
        self.invalid = False

    def _next_alias(self) -> str:
        self._alias += 1
        return f"a{self._alias}"

    # -- entry points -----------------------------------------------------------------------

    def compile(self, table: Table, encoded: str, alias: str = "t") -> Compiled:
        parsed = parse(encoded)
        self.invalid = self.invalid or parsed.invalid
        where, params = self._groups(table, alias, parsed.groups)
        order = self._order(table, alias, parsed.orders)
        return Compiled(where, params, order, self.invalid)

    def filters(self, table: Table, pairs: list[tuple[str, str]], alias: str = "t") -> tuple[str, list]:
        """Bare ``name=value`` parameters: equality, accepting choice labels and display values."""
        parts, params = [], []
        for name, value in pairs:
            fdef = self._leaf_field(table, name)
            if fdef is None:
                continue
            if fdef.choices and value not in fdef.choices:
                value = fdef.choice_value(value) or value
            sql = self._path(table, alias, name, lambda f, col, a, t, v=value: self._leaf(t, a, f, col, "=", v))
            if sql is not None:
                parts.append(sql[0])
                params += sql[1]
        return (" AND ".join(parts) or "1"), params

    # -- structure --------------------------------------------------------------------------

    def _groups(self, table: Table, alias: str, groups: list[list[Term]]) -> tuple[str, list]:
        group_sql, params = [], []
        for group in groups:
            term_sql = []
            for term in group:
                conds = [self._item(table, alias, item) for item in term]
                conds = [c for c in conds if c is not None]
                if not conds:
                    continue
                term_sql.append("(" + " OR ".join(c[0] for c in conds) + ")")
                for c in conds:
                    params += c[1]
            group_sql.append(" AND ".join(term_sql) or "1")
        if not group_sql:
            return "1", []
        return "(" + ") OR (".join(group_sql) + ")", params

    def _item(self, table: Table, alias: str, item: Cond | Special) -> tuple[str, list] | None:
        if isinstance(item, Special):
            result = {"rl": self._rlquery, "join": self._join, "text": self._text}[item.kind](table, alias, item)
        else:
            result = self._path(table, alias, item.field,
                                lambda f, col, a, t: self._leaf(t, a, f, col, item.op, item.value))
        if result is None:
            self.invalid = True
        return result

    def _leaf_field(self, table: Table, path: str) -> Field | None:
        current = table
        parts = path.split(".")
        for idx, part in enumerate(parts):
            fdef = current.fields.get(part)
            if fdef is None:
                return None
            if idx == len(parts) - 1:
                return fdef
            if not fdef.is_reference or fdef.reference not in self.schema:
                return None
            current = self.schema[fdef.reference]
        return None

    def _path(self, table: Table, alias: str, path: str, leaf) -> tuple[str, list] | None:
        """Apply ``leaf`` to a (possibly dot-walked) field, nesting IN sub-queries per hop."""
        head, _sep, rest = path.partition(".")
        fdef = table.fields.get(head)
        if fdef is None:
            return None
        col = f"{alias}.{quote(head)}"
        if not rest or (rest == "sys_id" and fdef.is_reference):
            return leaf(fdef, col, alias, table)
        if not fdef.is_reference or fdef.reference not in self.schema:
            return None
        target = self.schema[fdef.reference]
        inner_alias = self._next_alias()
        inner = self._path(target, inner_alias, rest, leaf)
        if inner is None:
            return None
        cls_sql, cls_params = self.store.class_filter(target, inner_alias)
        sql = (f"{col} IN (SELECT {inner_alias}.sys_id FROM {quote(target.storage)} {inner_alias} "
               f"WHERE {cls_sql} AND {inner[0]})")
        return sql, cls_params + inner[1]

    # -- values -----------------------------------------------------------------------------

    def _value(self, raw: str) -> str | None:
        raw = raw.strip() if raw.strip().startswith("javascript:") else raw
        if raw.startswith("javascript:"):
            return timeutil.evaluate(raw, self.script)
        return raw

    def _num(self, fdef: Field, col: str, value: str) -> tuple[str, object]:
        if fdef.is_numeric:
            try:
                return f"CAST({col} AS REAL)", float(value)
            except ValueError:
                pass
        return col, value

    # -- leaves -----------------------------------------------------------------------------

    def _leaf(self, table: Table, alias: str, fdef: Field, col: str, op: str, raw: str) -> tuple[str, list] | None:
        not_empty = "" if fdef.type == BOOLEAN else f" AND {col} != ''"
        if op in ("ISEMPTY", "EMPTYSTRING"):
            return f"{col} = ''", []
        if op == "ISNOTEMPTY":
            return f"{col} != ''", []
        if op == "ANYTHING":
            return "1", []
        if op in ("=", "!=", "IN_HIERARCHY", "DYNAMIC"):
            if op == "DYNAMIC":
                if raw != DYNAMIC_ME:
                    return None
                raw = self.script.user_id
            value = self._value(raw)
            if value is None:
                return NOMATCH
            sql, params = self._equals(fdef, col, value)
            if op == "!=":
                return f"(NOT ({sql}){not_empty})", params
            return sql, params
        if op in ("IN", "NOT IN"):
            value = self._value(raw)
            if value is None:
                return NOMATCH
            items = [v.strip() for v in value.split(",")]
            marks = ",".join("?" * len(items))
            if op == "IN":
                return f"{col} IN ({marks})", items
            return f"({col} NOT IN ({marks}){not_empty})", items
        if op in ("LIKE", "CONTAINS", "NOT LIKE", "DOES NOT CONTAIN", "STARTSWITH", "ENDSWITH"):
            value = self._value(raw)
            if value is None:
                return NOMATCH
            pattern = {"STARTSWITH": "{}%", "ENDSWITH": "%{}"}.get(op, "%{}%").format(_like_escape(value))
            if op in ("NOT LIKE", "DOES NOT CONTAIN"):
                return f"({col} NOT LIKE ? ESCAPE '\\'{not_empty})", [pattern]
            return f"{col} LIKE ? ESCAPE '\\'", [pattern]
        if op in ("<", "<=", ">", ">="):
            value = self._value(raw)
            if value is None:
                return NOMATCH
            expr, arg = self._num(fdef, col, value)
            return f"({expr} {op} ? AND {col} != '')", [arg]
        if op == "BETWEEN":
            bounds = raw.split("@")
            if len(bounds) != 2:
                return None
            low, high = self._value(bounds[0]), self._value(bounds[1])
            if low is None or high is None:
                return NOMATCH
            expr, lo = self._num(fdef, col, low)
            hi = self._num(fdef, col, high)[1]
            return f"({expr} >= ? AND {expr} <= ? AND {col} != '')", [lo, hi]
        if op in ("ON", "NOTON"):
            return self._on(col, op, raw)
        if op in ("SAMEAS", "NSAMEAS", "GT_FIELD", "LT_FIELD", "GT_OR_EQUALS_FIELD", "LT_OR_EQUALS_FIELD"):
            other = table.fields.get(raw.split("@")[0])
            if other is None:
                return None
            other_col = f"{alias}.{quote(other.name)}"
            sym = {"SAMEAS": "=", "NSAMEAS": "!=", "GT_FIELD": ">", "LT_FIELD": "<",
                   "GT_OR_EQUALS_FIELD": ">=", "LT_OR_EQUALS_FIELD": "<="}[op]
            if fdef.is_numeric and sym not in ("=", "!="):
                return f"CAST({col} AS REAL) {sym} CAST({other_col} AS REAL)", []
            return f"{col} {sym} {other_col}", []
        if op == "INSTANCEOF":
            if fdef.type != CLASS_NAME and fdef.name != "sys_class_name":
                return None
            if raw not in self.schema:
                return NOMATCH
            classes = self.schema.descendants(raw)
            return f"{col} IN ({','.join('?' * len(classes))})", classes
        if op.startswith("RELATIVE"):
            return self._relative(col, op, raw)
        return None  # DATEPART, MORETHAN, LESSTHAN, VALCHANGES... are not evaluated: dropped

    def _equals(self, fdef: Field, col: str, value: str) -> tuple[str, list]:
        if fdef.type == REFERENCE and value and not SYS_ID_RE.match(value) and fdef.reference in self.schema:
            # A reference compared with a display value (``assigned_to=Fred Luddy``, ``chg_model=normal``).
            target = self.schema[fdef.reference]
            alias = self._next_alias()
            keys = [f"{alias}.{quote(target.display)} = ?"]
            args = [value]
            if target.name == "sys_user":
                keys.append(f"{alias}.user_name = ?")
                args.append(value)
            sub = (f"SELECT {alias}.sys_id FROM {quote(target.storage)} {alias} WHERE " + " OR ".join(keys))
            return f"({col} = ? OR {col} IN ({sub}))", [value, *args]
        return f"{col} = ?", [value]

    def _on(self, col: str, op: str, raw: str) -> tuple[str, list] | None:
        parts = raw.split("@")
        if len(parts) >= 3:
            start, end = self._value(parts[1]), self._value(parts[2])
        elif parts[0].strip().lower() in _ON_LABELS:
            names = _ON_LABELS[parts[0].strip().lower()]
            start = timeutil.evaluate(f"gs.{names[0]}()", self.script)
            end = timeutil.evaluate(f"gs.{names[1]}()", self.script)
        else:
            return None
        if start is None or end is None:
            return NOMATCH
        if op == "ON":
            return f"({col} >= ? AND {col} <= ?)", [start, end]
        return f"({col} != '' AND ({col} < ? OR {col} > ?))", [start, end]

    def _relative(self, col: str, op: str, raw: str) -> tuple[str, list] | None:
        parts = raw.strip("@").split("@")
        if len(parts) != 3:
            return None
        point = timeutil.relative_point(self.script, parts[0], parts[1], parts[2])
        if point is None:
            return None
        if op == "RELATIVEEE":
            return f"substr({col}, 1, 10) = ?", [point[:10]]
        sym = {"RELATIVEGT": ">", "RELATIVELT": "<", "RELATIVEGE": ">=", "RELATIVELE": "<="}[op]
        return f"({col} {sym} ? AND {col} != '')", [point]

    # -- special clauses ----------------------------------------------------------------------

    def _rlquery(self, table: Table, alias: str, item: Special) -> tuple[str, list] | None:
        spec = item.head.split(",")
        related, _sep, rel_field = spec[0].partition(".")
        if related not in self.schema or len(spec) < 2:
            return None
        rel_table = self.schema[related]
        match = re.match(r"^(>=|<=|!=|=|>|<)(\d+)$", spec[1])
        if match is None or rel_field not in rel_table.fields:
            return None
        inner_alias = self._next_alias()
        sub = self.compile(rel_table, "^".join(item.body), inner_alias)
        cls_sql, cls_params = self.store.class_filter(rel_table, inner_alias)
        sql = (f"(SELECT COUNT(*) FROM {quote(rel_table.storage)} {inner_alias} WHERE {cls_sql} "
               f"AND {inner_alias}.{quote(rel_field)} = {alias}.sys_id AND ({sub.where})) "
               f"{match.group(1)} {int(match.group(2))}")
        return sql, cls_params + sub.params

    def _join(self, table: Table, alias: str, item: Special) -> tuple[str, list] | None:
        match = re.match(r"^(\w+)\.(\w+)=(\w+)\.(\w+)!(.*)$", item.head, re.S)
        if match is None or match.group(3) not in self.schema:
            return None
        primary, join_table, secondary = match.group(2), self.schema[match.group(3)], match.group(4)
        if primary not in table.fields or secondary not in join_table.fields:
            return None
        inner_alias = self._next_alias()
        sub = self.compile(join_table, match.group(5), inner_alias)
        cls_sql, cls_params = self.store.class_filter(join_table, inner_alias)
        sql = (f"{alias}.{quote(primary)} IN (SELECT {inner_alias}.{quote(secondary)} FROM "
               f"{quote(join_table.storage)} {inner_alias} WHERE {cls_sql} AND ({sub.where}))")
        return sql, cls_params + sub.params

    def _text(self, table: Table, alias: str, item: Special) -> tuple[str, list] | None:
        cols = [name for name, f in table.fields.items() if f.type == STRING and not name.startswith("sys_")]
        if not item.head or not cols:
            return None
        pattern = f"%{_like_escape(item.head)}%"
        return "(" + " OR ".join(f"{alias}.{quote(c)} LIKE ? ESCAPE '\\'" for c in cols) + ")", [pattern] * len(cols)

    # -- ordering ---------------------------------------------------------------------------

    def _order(self, table: Table, alias: str, orders: list[tuple[str, bool]]) -> str:
        parts = []
        for path, desc in orders:
            expr = self._order_expr(table, alias, path.strip())
            if expr is None:
                continue
            parts.append(expr + (" DESC" if desc else ""))
        return ", ".join(parts)

    def _order_expr(self, table: Table, alias: str, path: str) -> str | None:
        head, _sep, rest = path.partition(".")
        fdef = table.fields.get(head)
        if fdef is None:
            return None
        col = f"{alias}.{quote(head)}"
        if fdef.is_reference and fdef.reference in self.schema:
            target = self.schema[fdef.reference]
            inner_alias = self._next_alias()
            inner = self._order_expr(target, inner_alias, rest or target.display)
            if inner is None:
                return None
            return (f"(SELECT {inner} FROM {quote(target.storage)} {inner_alias} "
                    f"WHERE {inner_alias}.sys_id = {col})")
        if rest:
            return None
        return f"CAST({col} AS REAL)" if fdef.is_numeric else col
