# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canonical <-> Jira Service Management mapping of the jsm backend, as data. FOR INTERNAL COLLECTION USE ONLY.

The mapping is YAML (safe-loaded, validated with jsonschema): per kind, the issue and request types, the
JSM statuses of each canonical state, the status a close code lands in, the NAMES of the fields holding
canonical fields (their ``customfield_N`` ids differ per site and are looked up through the client) and the
option values of canonical choices. ``default_mapping.yml`` next to this file describes the standard ITSM
templates; a customised workflow needs another mapping file, not code: the connection option ``jsm_mapping``
(``ITSM_JSM_MAPPING``) names it, and docs/jsm-mapping.md describes the format with a tested example.

A change's ``rejection`` says where the workflow's approval step leaves a declined change (``status``) and
whether the backend moves it on to ``new`` through the workflow (``reopen``), so that a rejection ends as on
local and ServiceNow: state ``new``, approval ``rejected``.

A status the mapping does not know, or a state the workflow offers no transition to, is an error naming the
issue, the status and what the mapping or the workflow offers.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import typing as t

from ... import _records as records
from ..._errors import ItsmSettingsError, ItsmTransitionError, ItsmUnavailableError, ItsmUnexpectedResponseError

try:
    import yaml
except ImportError:  # pragma: no cover - reported by _libraries() when a mapping is loaded
    yaml = None
try:
    import jsonschema
except ImportError:  # pragma: no cover
    jsonschema = None

DEFAULT_MAPPING = os.path.join(os.path.dirname(os.path.abspath(__file__)), "default_mapping.yml")
#: the connection option naming a user's mapping file (module_utils/_options.py)
OPTION = "jsm_mapping"
#: canonical fields a mapping may name a JSM field for, and the canonical choices of those with options
FIELDS = {
    records.CHANGE: ("type", "risk", "impact", "urgency", "start_date", "end_date", "implementation_plan",
                     "backout_plan", "test_plan", "justification", "affected_services", "configuration_items"),
    records.INCIDENT: ("impact", "urgency", "affected_services", "configuration_item"),
    records.PROBLEM: ("impact", "urgency", "affected_services", "configuration_item"),
}
CHOICES = {
    records.CHANGE: {"type": records.CHANGE_TYPES, "risk": records.RISKS, "impact": records.LEVELS,
                     "urgency": records.LEVELS},
    records.INCIDENT: {"impact": records.LEVELS, "urgency": records.LEVELS},
    records.PROBLEM: {"impact": records.LEVELS, "urgency": records.LEVELS},
}
STATES = records.STATES
#: a problem's close_statuses are keyed by its resolution_code (a canceled problem may land in Canceled)
CLOSE_CODES = {records.CHANGE: records.CHANGE_CLOSE_CODES, records.INCIDENT: records.INCIDENT_CLOSE_CODES,
               records.PROBLEM: records.PROBLEM_RESOLUTION_CODES}
#: the kinds a mapping must describe; a problem part is optional (mapping files written before issue 19)
REQUIRED_KINDS = (records.CHANGE, records.INCIDENT)

_NAME = {"type": "string", "minLength": 1}
_NAMES = {"type": "array", "minItems": 1, "uniqueItems": True, "items": _NAME}


def _all_of(keys: t.Sequence[str], value: dict) -> dict:
    return {"type": "object", "additionalProperties": False, "required": list(keys),
            "properties": {key: value for key in keys}}


def _kind_schema(kind: str) -> dict:
    properties = {
        "issue_type": _NAME, "request_type": _NAME,
        "statuses": _all_of(STATES[kind], _NAMES),
        "close_statuses": {"type": "object", "additionalProperties": False,
                           "properties": {code: _NAME for code in CLOSE_CODES[kind]}},
        "fields": {"type": "object", "additionalProperties": False,
                   "properties": {field: _NAME for field in FIELDS[kind]}},
        "values": {"type": "object", "additionalProperties": False,
                   "properties": {field: _all_of(choices, _NAMES) for field, choices in CHOICES[kind].items()}},
    }
    if kind == records.CHANGE:
        properties["rejection"] = {"type": "object", "additionalProperties": False, "required": ["status"],
                                   "properties": {"status": _NAME, "reopen": {"type": "boolean"}}}
    return {"type": "object", "additionalProperties": False, "required": ["issue_type", "statuses", "fields"],
            "properties": properties}


SCHEMA: dict[str, t.Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object", "additionalProperties": False, "required": ["project", *REQUIRED_KINDS],
    "properties": {"version": {"const": 1}, "project": _NAME,
                   **{kind: _kind_schema(kind) for kind in records.KINDS}},
}


def status_name(status: t.Any) -> str:
    """A status as Jira sends it (``{"name": ...}``) or as a name."""
    return str(status.get("name", "")) if isinstance(status, dict) else str(status or "")


@dataclasses.dataclass(frozen=True)
class KindMapping:
    """One kind's part of the mapping (change or incident)."""

    kind: str
    issue_type: str
    request_type: str | None
    statuses: dict[str, tuple[str, ...]]
    close_statuses: dict[str, str]
    fields: dict[str, str]
    values: dict[str, dict[str, tuple[str, ...]]]
    #: the status a declined approval leaves a change in, and whether the backend then reopens it (to new)
    rejection_status: str | None = None
    reopen_after_rejection: bool = False

    # -- states ----------------------------------------------------------------------------------------

    def state_of(self, status: t.Any, key: str = "") -> str:
        """The canonical state of a JSM status; a status the mapping lacks is an error listing what it maps."""
        name = status_name(status)
        for state, names in self.statuses.items():
            if name.lower() in (known.lower() for known in names):
                return state
        mapped = ", ".join(f"{known} ({state})" for state, names in self.statuses.items() for known in names)
        raise ItsmUnexpectedResponseError(
            f"{self.kind} {key or ''}".rstrip() + f" is in the JSM status {name!r}, which the mapping maps to no "
            f"{self.kind} state; it maps: {mapped}; add the status under {self.kind}.statuses of the mapping",
            status=name)

    def declined(self, status: t.Any) -> bool:
        """Whether ``status`` is where the workflow's approval step leaves a declined change."""
        return bool(self.rejection_status) and status_name(status).lower() == str(self.rejection_status).lower()

    def choose_transition(self, key: str, current: t.Any, target: str, offered: t.Sequence[dict],
                          close_code: str | None = None) -> dict:
        """The transition among ``offered`` (GET .../transitions) that moves the issue to the ``target`` state:
        to the close code's status if given and offered, else to the earliest of the state's statuses."""
        wanted = [name.lower() for name in self.statuses[records.require_choice("state", target, STATES[self.kind])]]
        preferred = self.close_statuses.get(close_code or "", "").lower()
        candidates = [move for move in offered if status_name(move.get("to")).lower() in wanted]
        if not candidates:
            raise ItsmTransitionError(
                f"{self.kind} {key}: the JSM workflow offers no transition from {status_name(current)!r} to "
                f"{target} (status {' or '.join(self.statuses[target])}); it offers: "
                + (", ".join(self._describe(move) for move in offered) or "nothing"), state=target)

        def rank(move: dict) -> tuple[int, int]:
            to = status_name(move.get("to")).lower()
            return (0 if to == preferred else 1, wanted.index(to))
        return min(candidates, key=rank)

    def _describe(self, move: dict) -> str:
        to = status_name(move.get("to"))
        mapped = next((state for state, names in self.statuses.items() if to.lower() in map(str.lower, names)), None)
        return f"{move.get('name')} -> {to}" + (f" ({mapped})" if mapped else " (not mapped)")

    # -- fields and values -----------------------------------------------------------------------------

    def field_ids(self, resolve: t.Callable[[t.Sequence[str], str], t.Mapping[str, str]]) -> dict[str, str]:
        """Canonical field -> the site's field id, through ``resolve(names, option)`` (JsmClient.field_ids)."""
        ids = resolve(list(self.fields.values()), "mapping")
        return {canonical: ids[name] for canonical, name in self.fields.items()}

    def to_jsm(self, field: str, value: t.Any) -> str:
        """The option value a canonical choice is written as; a value outside the choices is refused naming
        the field (as a task option)."""
        options = self.values[field]
        return options[records.require_choice(field, value, tuple(options))][0]

    def from_jsm(self, field: str, raw: t.Any) -> str | None:
        """The canonical choice of an option value (``{"value": ...}`` or text); None when empty or unmapped."""
        text = str(raw.get("value", "")) if isinstance(raw, dict) else str(raw or "")
        for canonical, names in self.values.get(field, {}).items():
            if text.lower() in (name.lower() for name in names):
                return canonical
        return None


@dataclasses.dataclass(frozen=True)
class Mapping:
    """The whole mapping: the service project's key and each kind's part."""

    project: str
    source: str
    kinds: dict[str, KindMapping]

    def of(self, kind: str) -> KindMapping:
        """The part of ``kind``; a kind the mapping has no part for (a mapping file written before problems, issue
        19) is unavailable, saying what to add."""
        if kind not in self.kinds:
            raise ItsmUnavailableError(f"{OPTION}: the jsm mapping {self.source} has no {kind} part, so the jsm backend "
                                       f"has no {kind} records; add a {kind} part (docs/jsm-mapping.md)",
                                       option=OPTION, value=self.source)
        return self.kinds[kind]


def load_mapping(path: str | None = None, option: str = OPTION) -> Mapping:
    """Read, validate and build the mapping in the YAML file ``path`` (the default mapping when None or empty).

    A file that cannot be read, is not YAML or does not follow the schema is an ItsmSettingsError naming
    ``option``, the path and every problem with where it is (a connection setting to fix, not a record's fault:
    the recorder's outbox keeps what waits for it)."""
    if not path:
        return _default_mapping()
    return _load(os.path.expanduser(path), option)


@functools.lru_cache(maxsize=1)
def _default_mapping() -> Mapping:
    return _load(DEFAULT_MAPPING, OPTION)


def _load(path: str, option: str) -> Mapping:
    _libraries(option)
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ItsmSettingsError(option, path, f"the file cannot be read ({reason}); give the path of a YAML "
                                "mapping file (docs/jsm-mapping.md)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise ItsmSettingsError(option, path, f"{where}not valid YAML ({problem})") from None
    return build_mapping(data, path, option)


def build_mapping(data: t.Any, source: str, option: str = OPTION) -> Mapping:
    """Validate parsed mapping data (the schema, then: no status in two states of a kind) and build it."""
    _libraries(option)
    validator = jsonschema.Draft7Validator(SCHEMA)
    problems = [(_path(error.absolute_path), error.message) for error in
                sorted(validator.iter_errors(data), key=lambda error: [str(p) for p in error.absolute_path])]
    if not problems:
        for kind in (kind for kind in records.KINDS if kind in data):
            seen: dict[str, str] = {}
            for state, names in data[kind]["statuses"].items():
                for name in names:
                    if seen.setdefault(name.lower(), state) != state:
                        problems.append((f"{kind}.statuses.{state}", f"{name!r} is already the status of "
                                         f"{seen[name.lower()]}; a status means one state"))
            for field in sorted(set(CHOICES[kind]) & set(data[kind]["fields"]) - set(data[kind].get("values") or {})):
                problems.append((f"{kind}.values", f"{field} names a JSM field but has no values; give the option "
                                 "value of each of: " + ", ".join(CHOICES[kind][field])))
    if not problems:
        rejection = data[records.CHANGE].get("rejection")
        statuses = {name.lower() for names in data[records.CHANGE]["statuses"].values() for name in names}
        if rejection and rejection["status"].lower() not in statuses:
            problems.append(("change.rejection.status", f"{rejection['status']!r} is none of the change's statuses; "
                             "name the status a declined approval leaves the change in, mapped under change.statuses"))
    if problems:
        listed = "; ".join(f"{where}: {problem}" for where, problem in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ItsmSettingsError(option, source, listed + more + " (the format: docs/jsm-mapping.md)")
    kinds = {kind: KindMapping(
        kind=kind, issue_type=data[kind]["issue_type"], request_type=data[kind].get("request_type"),
        statuses={state: tuple(names) for state, names in data[kind]["statuses"].items()},
        close_statuses=dict(data[kind].get("close_statuses") or {}), fields=dict(data[kind]["fields"]),
        values={field: {choice: tuple(names) for choice, names in options.items()}
                for field, options in (data[kind].get("values") or {}).items()},
        rejection_status=(data[kind].get("rejection") or {}).get("status"),
        reopen_after_rejection=bool((data[kind].get("rejection") or {}).get("reopen")),
    ) for kind in records.KINDS if kind in data}
    return Mapping(project=data["project"], source=source, kinds=kinds)


def _libraries(option: str) -> None:
    missing = [name for name, module in (("PyYAML", yaml), ("jsonschema", jsonschema)) if module is None]
    if missing:
        plural = len(missing) > 1
        raise ItsmUnavailableError(f"{option}: the jsm backend needs the {' and '.join(missing)} Python "
                                   f"librar{'ies' if plural else 'y'} to read its mapping; install "
                                   f"{'them' if plural else 'it'} on the controller (pip install {' '.join(missing)})",
                                   option=option)


def _path(parts: t.Iterable[t.Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"
