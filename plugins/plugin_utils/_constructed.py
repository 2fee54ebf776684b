# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""keyed_groups, groups and compose without Jinja for the expressions people write. FOR INTERNAL COLLECTION USE ONLY.

ansible-core's Constructable templates every entry for every host; with 100,000 hosts that is most of an
inventory's time (issue 15). The entries users write are nearly always a variable, an attribute or item of
one, perhaps with ``| default(...)``, and group conditions comparing such a variable with a literal. Those
are evaluated here in Python with the results ansible-core gives; every other entry, and every host for
which a native entry meets something it does not model exactly (a missing variable under ``strict``, a value
that is not plain data, a key that is neither text, list nor dict), is handed to ansible-core's own method
for that one entry, so the outcome, errors included, stays ansible-core's.

The subset (decided from ansible-core's constructed EXAMPLES and the amazon.aws, netbox and kubernetes
inventory examples):

- reference: ``name``, then any of ``.attr``, ``['key']``, ``["key"]``, ``[0]``, optionally followed by
  ``| default(literal)`` or ``| default(literal, true)`` (also spelled ``d``);
- condition (``groups``): a reference whose value is a boolean, ``reference == literal``,
  ``reference != literal``, ``'text' in reference`` and ``'text' not in reference``;
- literal: a quoted string without backslashes, a whole number, ``true``/``false``/``none`` in any case Jinja
  accepts.

Order of evaluation follows ansible-core: compose entries see the variables given (not each other's results);
groups see those variables under the host's variables and magic variables as they were when the groups
phase began; each keyed group sees the host's variables as they are when its turn comes.
"""

from __future__ import annotations

# Exact type checks are the point here: ansible-core's tagged values are subclasses of str, list and dict, and
# a tagged value (trusted as a template, deprecated) must not pass for plain data.
# pylint: disable=unidiomatic-typecheck

import copy
import re
import typing as t

from ansible import constants as C

#: a native entry cannot say what ansible-core would give for this host: ask ansible-core
FALLBACK = object()
#: the expression's variable (or an attribute or item of it) is undefined
MISSING = object()

_SCALARS = (str, int, float, bool, type(None))
_MAGIC = frozenset(("inventory_hostname", "inventory_hostname_short", "group_names"))
_LITERALS = {"true": True, "True": True, "false": False, "False": False, "none": None, "None": None}
# Jinja's keywords, the special names of its template context and ansible-core's template globals: such a
# name is not (only) a variable, so an expression using it is always left to ansible-core.
_NOT_VARIABLES = frozenset((
    "and", "or", "not", "in", "is", "if", "else", "loop", "self", "varargs", "kwargs", "caller", "super",
    "cycler", "dict", "joiner", "lipsum", "lookup", "namespace", "now", "omit", "q", "query", "range", "undef",
)) | frozenset(_LITERALS)
_TOKEN = re.compile(r"""\s*(?:
    (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>'[^'\\]*'|"[^"\\]*")
  | (?P<number>-?(?:0|[1-9][0-9]*))(?![.\w])
  | (?P<op>==|!=|[.\[\]|(),])
)""", re.VERBOSE)
_TEMPLATE_MARK = re.compile(r"{[{%#]")


def _tokens(text: str) -> list[tuple[str, t.Any]] | None:
    """``(kind, value)`` tokens of ``text``, or None when it holds anything outside the subset."""
    found, position, end = [], 0, len(text.rstrip())
    while position < end:
        match = _TOKEN.match(text, position)
        if match is None:
            return None
        kind = match.lastgroup
        raw = match.group(kind)
        value = raw[1:-1] if kind == "string" else int(raw) if kind == "number" else raw
        found.append((kind, value))
        position = match.end()
    return found


def is_plain(value: t.Any) -> bool:
    """True for untagged JSON-like data: what Jinja returns unchanged. A tagged value (a string trusted as a
    template, one with an origin) is of a subclass, so it is not plain and goes to ansible-core."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is list:
        return all(is_plain(item) for item in value)
    if kind is dict:
        return all(type(key) is str and is_plain(item) for key, item in value.items())
    return False


class Reference:
    """``name(.attr | [item])* (| default(literal[, true]))?`` evaluated against a variable look-up."""

    __slots__ = ("name", "path", "has_default", "default", "default_if_false")

    def __init__(self, name: str, path: tuple, has_default: bool, default: t.Any, default_if_false: bool):
        self.name, self.path = name, path
        self.has_default, self.default, self.default_if_false = has_default, default, default_if_false

    def resolve(self, lookup: t.Callable[[str], t.Any]) -> t.Any:
        """The value, MISSING when undefined (and no default), or FALLBACK when only Jinja can say."""
        value = lookup(self.name)
        if value is FALLBACK:
            return FALLBACK
        if value is not MISSING:
            if not is_plain(value):
                return FALLBACK
            for step, key in self.path:
                value = _step(value, step, key)
                if value is MISSING or value is FALLBACK:
                    break
        if value is FALLBACK:
            return FALLBACK
        if self.has_default and (value is MISSING or (self.default_if_false and not value)):
            return self.default
        return value


def _step(value: t.Any, step: str, key: t.Any) -> t.Any:
    """One ``.attr`` or ``[item]`` as Jinja does it on plain data, or FALLBACK where a method or a string's
    attribute could answer."""
    if type(value) is dict:
        if isinstance(key, str) and hasattr(dict, key):  # d.items, d['keys'] when missing: a method in Jinja
            return value[key] if step == "item" and key in value else FALLBACK
        return value.get(key, MISSING)
    if type(value) is list and step == "item" and type(key) is int:
        return value[key] if -len(value) <= key < len(value) else MISSING
    return FALLBACK


class Condition:
    """A ``groups`` condition: ``ref``, ``ref == lit``, ``ref != lit``, ``'text' in ref``, ``'text' not in ref``."""

    __slots__ = ("operator", "reference", "literal")

    def __init__(self, operator: str, reference: Reference, literal: t.Any = None):
        self.operator, self.reference, self.literal = operator, reference, literal

    def evaluate(self, lookup: t.Callable[[str], t.Any]) -> t.Any:
        """True or False as ansible-core's evaluate_conditional gives it, or FALLBACK."""
        value = self.reference.resolve(lookup)
        if value is MISSING or value is FALLBACK:
            return FALLBACK  # undefined in a condition: ansible-core's error or its handling, not ours
        operator = self.operator
        if operator == "truth":
            return value if type(value) is bool else FALLBACK  # a non-boolean result: ansible-core's verdict
        if operator in ("==", "!="):
            if type(value) not in _SCALARS:
                return FALLBACK
            return (value == self.literal) is (operator == "==")
        if type(value) is str and type(self.literal) is not str:  # 1 in 'text' is Jinja's TypeError
            return FALLBACK
        if type(value) not in (str, list, dict):
            return FALLBACK
        return (self.literal in value) is (operator == "in")


class _Parser:
    def __init__(self, tokens: list[tuple[str, t.Any]]):
        self.tokens, self.position = tokens, 0

    def peek(self, offset: int = 0) -> tuple[str, t.Any] | tuple[None, None]:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else (None, None)

    def take(self, kind: str, value: t.Any = None) -> t.Any:
        found_kind, found = self.peek()
        if found_kind != kind or (value is not None and found != value):
            raise ValueError(kind)
        self.position += 1
        return found

    def done(self) -> bool:
        return self.position == len(self.tokens)

    def literal(self) -> t.Any:
        kind, value = self.peek()
        if kind in ("string", "number"):
            self.position += 1
            return value
        if kind == "name" and value in _LITERALS:
            self.position += 1
            return _LITERALS[value]
        raise ValueError("literal")

    def reference(self) -> Reference:
        name = self.take("name")
        if name in _NOT_VARIABLES:
            raise ValueError(name)
        path: list[tuple[str, t.Any]] = []
        while self.peek()[0] == "op" and self.peek()[1] in (".", "["):
            if self.take("op") == ".":
                path.append(("attr", self.take("name")))
            else:
                kind, key = self.peek()
                if kind not in ("string", "number"):
                    raise ValueError("item")
                self.position += 1
                self.take("op", "]")
                path.append(("item", key))
        has_default, default, default_if_false = False, None, False
        if self.peek() == ("op", "|"):
            self.position += 1
            if self.take("name") not in ("default", "d"):
                raise ValueError("filter")
            self.take("op", "(")
            has_default, default = True, self.literal()
            if self.peek() == ("op", ","):
                self.position += 1
                default_if_false = self.literal()
                if type(default_if_false) is not bool:
                    raise ValueError("boolean")
            self.take("op", ")")
        return Reference(name, tuple(path), has_default, default, default_if_false)


def _parsed(text: t.Any, rule: t.Callable[[_Parser, list], t.Any]) -> t.Any:
    """What ``rule`` makes of the whole of ``text``, or None when ``text`` is outside the subset (not a string,
    empty, a rule that does not apply, or tokens left over)."""
    if not isinstance(text, str):
        return None
    tokens = _tokens(str(text))
    if not tokens:
        return None
    parser = _Parser(tokens)
    try:
        parsed = rule(parser, tokens)
    except ValueError:
        return None
    return parsed if parsed is not None and parser.done() else None


def parse_reference(text: t.Any) -> Reference | None:
    """The Reference for ``text``, or None when it is outside the subset (ansible-core then templates it)."""
    return _parsed(text, lambda parser, _words: parser.reference())


def _condition(parser: _Parser, tokens: list) -> Condition | None:
    if tokens[0][0] == "string":  # 'text' in ref / 'text' not in ref
        literal = parser.literal()
        operator = "in"
        if parser.peek() == ("name", "not"):
            parser.position += 1
            operator = "not in"
        parser.take("name", "in")
        return Condition(operator, parser.reference(), literal)
    reference = parser.reference()
    if parser.done():
        return Condition("truth", reference)
    operator = parser.take("op")
    if operator not in ("==", "!="):
        return None
    return Condition(operator, reference, parser.literal())


def parse_condition(text: t.Any) -> Condition | None:
    """The Condition for ``text``, or None when it is outside the subset."""
    return _parsed(text, _condition)


class Constructor:
    """The plugin's compose, groups and keyed_groups for one host at a time, natively where the entry allows.

    ``plugin`` is the Constructable inventory plugin: its ``_sanitize_group_name``, ``inventory`` and, for the
    entries and hosts left to ansible-core, its own ``_set_composite_vars``, ``_add_host_to_composed_groups``
    and ``_add_host_to_keyed_groups`` called with that one entry.
    """

    def __init__(self, plugin: t.Any, compose: t.Any, groups: t.Any, keyed_groups: t.Any, strict: bool):
        self.plugin = plugin
        self.inventory = plugin.inventory
        self.strict = strict
        native = self._native_allowed(plugin)
        self.compose = [(name, parse_reference(expression) if native else None, expression)
                        for name, expression in compose.items()] if compose and isinstance(compose, dict) else []
        self.groups = [(name, parse_condition(condition) if native else None, condition)
                       for name, condition in groups.items()] if groups and isinstance(groups, dict) else []
        self.keyed = [(self._keyed_reference(keyed) if native else None, keyed)
                      for keyed in keyed_groups] if keyed_groups and isinstance(keyed_groups, list) else []
        self.leading_separator = plugin.get_option("leading_separator") if self.keyed else None
        self._group_names: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self.compose or self.groups or self.keyed)

    @staticmethod
    def _native_allowed(plugin: t.Any) -> bool:
        """Extra variables layered in (use_extra_vars) and merged hashes change what a name means: those
        configurations are ansible-core's alone."""
        if C.DEFAULT_HASH_BEHAVIOUR != "replace":
            return False
        try:
            return not plugin.get_option("use_extra_vars")
        except Exception:  # an option the plugin lacks reads as off, as in ansible-core  pylint: disable=broad-except
            return True

    @staticmethod
    def _keyed_reference(keyed: t.Any) -> Reference | None:
        if not keyed or not isinstance(keyed, dict):
            return None  # ansible-core raises its own error for it
        if keyed.get("trailing_separator") is not None and keyed.get("default_value") is not None:
            return None  # ansible-core's error for the pair, raised after the key evaluated
        parent = keyed.get("parent_group")
        if parent is not None and (not isinstance(parent, str) or _TEMPLATE_MARK.search(parent)):
            return None  # a templated parent group
        return parse_reference(keyed.get("key"))

    def _group(self, raw: str) -> str:
        """The inventory group for a raw name, sanitized as the plugin does and created once."""
        name = self._group_names.get(raw)
        if name is None:
            name = self._group_names[raw] = self.inventory.add_group(self.plugin._sanitize_group_name(raw))
        return name

    def construct(self, host: str, variables: dict[str, t.Any]) -> None:
        """Apply compose, then groups, then keyed_groups to ``host``, as ansible-core orders them.

        ``variables`` must all be set on the host already (the plugin sets them just before): the host keeps
        them as copies tagged with their origin, so a name is looked up in ``variables`` (plain data) and in
        what compose set natively; a host variable set by anyone else (another source, an entry left to
        ansible-core) sends the entry to ansible-core.
        """
        own = variables
        if self.compose:
            composed = self._compose(host, variables)
            if composed:
                own = variables | composed
        if self.groups or self.keyed:
            host_object = self.inventory.get_host(host)
            if self.groups:
                self._groups(host, variables, own, host_object)
            if self.keyed:
                self._keyed(host, variables, own, host_object)

    def _compose(self, host: str, variables: dict[str, t.Any]) -> dict[str, t.Any]:
        """Set the compose variables; return what each one now is (FALLBACK: whatever ansible-core made of it)."""
        plugin, strict = self.plugin, self.strict
        composed: dict[str, t.Any] = {}

        def lookup(key: str) -> t.Any:
            return variables.get(key, MISSING)

        for name, reference, expression in self.compose:
            value = FALLBACK if reference is None else reference.resolve(lookup)
            if value is MISSING and not strict:
                continue  # ansible-core skips an undefined expression unless strict
            if value is MISSING or value is FALLBACK:
                composed[name] = FALLBACK
                plugin._set_composite_vars({name: expression}, variables, host, strict=strict)
                continue
            composed[name] = value
            # Jinja returns containers as copies: the host must not share them with the variables given
            self.inventory.set_variable(host, name, copy.deepcopy(value) if type(value) in (list, dict) else value)
        return composed

    @staticmethod
    def _lookup(own: dict[str, t.Any], host_object: t.Any, magic: t.Callable[[], dict[str, t.Any]]
                ) -> t.Callable[[str], t.Any]:
        """A name as ansible-core's ``combine_vars(variables, host.get_vars())`` gives it, from plain data."""
        host_vars = host_object.vars

        def lookup(key: str) -> t.Any:
            if key in _MAGIC:
                return magic()[key]
            value = own.get(key, MISSING)
            if value is MISSING and key in host_vars:
                return FALLBACK  # set by another source: its tags (trust, deprecation) are ansible-core's to read
            return value

        return lookup

    def _groups(self, host: str, variables: dict[str, t.Any], own: dict[str, t.Any], host_object: t.Any) -> None:
        # ansible-core combines the variables once, before the first entry: group_names as it is now
        snapshot = _MagicSnapshot(host_object)
        lookup = self._lookup(own, host_object, snapshot.magic)
        for name, condition, raw in self.groups:
            result = FALLBACK if condition is None else condition.evaluate(lookup)
            if result is FALLBACK:
                combined = variables | host_object.vars | snapshot.magic()
                self.plugin._add_host_to_composed_groups({name: raw}, combined, host, strict=self.strict,
                                                         fetch_hostvars=False)
            elif result:
                self.inventory.add_child(self._group(name), host)

    def _keyed(self, host: str, variables: dict[str, t.Any], own: dict[str, t.Any], host_object: t.Any) -> None:
        plugin, strict, inventory = self.plugin, self.strict, self.inventory
        # each keyed group sees the host as it is when its turn comes (group_names included)
        lookup = self._lookup(own, host_object, host_object.get_magic_vars)
        for reference, keyed in self.keyed:
            key = FALLBACK if reference is None else reference.resolve(lookup)
            if key is MISSING and not strict:
                continue
            names = None if key is MISSING or key is FALLBACK else self._bare_names(keyed, key)
            if names is None:
                plugin._add_host_to_keyed_groups([keyed], variables, host, strict=strict)
                continue
            prefix, separator = keyed.get("prefix", ""), keyed.get("separator", "_")
            if prefix == "" and self.leading_separator is False:
                separator = ""
            parent = keyed.get("parent_group")
            for bare in names:
                group = self._group("%s%s%s" % (prefix, separator, bare))
                inventory.add_host(host, group)
                if parent:
                    parent_group = self._group(parent)
                    inventory.add_child(parent_group, group)

    def _bare_names(self, keyed: dict[str, t.Any], key: t.Any) -> list[t.Any] | None:
        """The group names before prefix and separator, as ansible-core derives them from a key, or None
        where ansible-core raises (an empty key under strict, a number or boolean as key)."""
        default = keyed.get("default_value")
        empty = key is None or (type(key) is str and key == "")
        if empty and default is not None:
            return [default]
        kind = type(key)
        if not key:
            # falsy: no group; ansible-core raises under strict unless it is an empty list or dict
            return None if self.strict and key not in ([], {}) else []
        if kind is str:
            return [key]
        if kind is list:
            return [default if (item is None or item == "") and default is not None else item for item in key]
        if kind is dict:
            separator = keyed.get("separator", "_")
            names = []
            for name, value in key.items():
                if value is None or value == "":
                    if default is not None:
                        names.append("%s%s%s" % (name, separator, default))
                        continue
                    if keyed.get("trailing_separator") is False:
                        names.append(name)
                        continue
                names.append("%s%s%s" % (name, separator, value))
            return names
        return None  # a number or a boolean: ansible-core's "Invalid group name format" error


class _MagicSnapshot:
    """The host's magic variables as they are when a phase begins, computed only when first asked."""

    __slots__ = ("host", "groups", "value")

    def __init__(self, host: t.Any):
        # group_names must not show the groups this phase adds: keep the membership now (a few names)
        self.host, self.groups, self.value = host, list(host.get_groups()), None

    def magic(self) -> dict[str, t.Any]:
        if self.value is None:
            self.value = self.host.get_magic_vars()
            self.value["group_names"] = sorted(group.name for group in self.groups if group.name != "all")
        return self.value
